"""RunConfigGen component: the resolved run config as an execution property and a RunConfiguration artifact.

It is the first node of the DAG, so even a run that fails early records which config (and preset) it ran;
`bert-tfx runs` and `bert-tfx show` read it back. It is cached while the config is unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, channel, component_spec
from tfx.utils import io_utils

from components.run_artifacts import RunConfiguration
from configs.pipeline_contract import RUN_CONFIG_FILE, RUN_CONFIG_PROPERTY, RUN_CONFIGURATION


class Executor(base_executor.BaseExecutor):
    """Writes `exec_properties["run_config"]` to `run_config.json` in the output artifact."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        uri = artifact_utils.get_single_uri(output_dict[RUN_CONFIGURATION])
        text = json.dumps(json.loads(exec_properties[RUN_CONFIG_PROPERTY]), indent=2, sort_keys=True)
        io_utils.write_string_file(f"{uri}/{RUN_CONFIG_FILE}", text + "\n")


class RunConfigGenSpec(component_spec.ComponentSpec):
    PARAMETERS = {RUN_CONFIG_PROPERTY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {}
    OUTPUTS = {RUN_CONFIGURATION: component_spec.ChannelParameter(type=RunConfiguration)}


class RunConfigGen(base_component.BaseComponent):
    """Records a run's resolved config.

    Args:
        run_config: `RunConfig.to_dict()`.
    """

    SPEC_CLASS = RunConfigGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, run_config: dict[str, Any]):
        super().__init__(
            spec=RunConfigGenSpec(
                **{
                    RUN_CONFIG_PROPERTY: json.dumps(run_config, sort_keys=True),
                    RUN_CONFIGURATION: channel.Channel(type=RunConfiguration),
                }
            )
        )
