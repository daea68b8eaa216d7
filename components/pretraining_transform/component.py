"""TFX Transform whose batches hold a fixed number of documents (`data.documents_per_batch`).

The pre-training `preprocessing_fn` draws next-sentence negatives from other documents of the same
batch. TFT's default batching is adaptive and starts at one record per batch, so early batches
often hold a single document, which has no other document to draw from: the share of random
next sentences then falls well below `next_sentence_random_prob` (0.33 instead of 0.5 was seen on
the bundled corpus). Fixing the batch size keeps that share, and is the only change to Transform.
"""

from __future__ import annotations

from typing import Any

from tfx.components import Transform
from tfx.components.transform import executor as transform_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

from configs.run_config import PretrainingDataConfig, section_from


class Executor(transform_executor.Executor):
    """Transform's executor, batching `custom_config["data"]["documents_per_batch"]` records."""

    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        custom_config = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
        self._documents_per_batch = section_from(custom_config, "data", PretrainingDataConfig).documents_per_batch
        super().Do(input_dict, output_dict, exec_properties)

    def _GetDesiredBatchSize(self, data_format: int, schema) -> int:
        return self._documents_per_batch


class PretrainingTransform(Transform):
    """`tfx.components.Transform` with the fixed-batch executor above; same arguments."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
