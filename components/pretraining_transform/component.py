"""TFX Transform whose batches hold a fixed number of records (`data.groups_per_batch`).

A record is a group of documents, and one group makes thousands of instances; TFT's adaptive batching
grows batches up to a thousand records, which would hold millions of instances in memory at once. A
fixed, small batch bounds that. (The instances do not depend on the batching: see `preprocessing`.)
This is the only change to Transform.
"""

from __future__ import annotations

from typing import Any

from tfx.components import Transform
from tfx.components.transform import executor as transform_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

from configs.run_config import PretrainingDataConfig, section_from


class Executor(transform_executor.Executor):
    """Transform's executor, batching `custom_config["data"]["groups_per_batch"]` records."""

    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        custom_config = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
        self._groups_per_batch = section_from(custom_config, "data", PretrainingDataConfig).groups_per_batch
        super().Do(input_dict, output_dict, exec_properties)

    def _GetDesiredBatchSize(self, data_format: int, schema) -> int:
        return self._groups_per_batch


class PretrainingTransform(Transform):
    """`tfx.components.Transform` with the fixed-batch executor above; same arguments."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
