"""EncoderPusher component: pushes the exported encoder of a run that GLUE proved.

TFX's Pusher pushes one model on one blessing; the encoder has one blessing per GLUE task, each from the
Evaluator of the model fine-tuned from it. EncoderPusher pushes when at least one of them blessed its model (the
encoder beat the constant predictor's gate on some task), copying the three formats of the ExportedEncoder to
`<push destination>/<version>/` (the version is the push time in seconds, as TFX's Pusher names its versions). Its
PushedModel artifact carries TFX's properties (`pushed`, `pushed_destination`, `pushed_version`) and the tasks whose
blessing carried the push (`blessed_by`); nothing is pushed when no task blessed its model.
"""

from __future__ import annotations

import os
import time
from typing import Any

from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, channel, component_spec, standard_artifacts

from components.encoder_export.component import copy_tree
from components.report_gen.component import artifact_ref
from components.run_artifacts import ExportedEncoder
from configs import pipeline_contract as contract

PUSH_DESTINATION = "push_destination"


def blessing_key(task: str) -> str:
    """EncoderPusher's input key of a GLUE task's blessing, e.g. `blessing_sst2`."""
    return contract.report_task_key(contract.BLESSING, task)


class Executor(base_executor.BaseExecutor):
    """Copies the exported encoder to a new version folder when a task's Evaluator blessed its model."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        pushed = artifact_utils.get_single_instance(output_dict[contract.PUSHED_MODEL])
        prefix = blessing_key("")
        blessed_by = sorted(
            key.removeprefix(prefix)
            for key, found in input_dict.items()
            if key.startswith(prefix) and found and artifact_ref(found[0]).properties.get("blessed")
        )
        if not blessed_by:
            pushed.set_int_custom_property("pushed", 0)
            return
        version = str(int(time.time()))
        destination = os.path.join(exec_properties[PUSH_DESTINATION], version)
        copy_tree(artifact_utils.get_single_uri(input_dict[contract.EXPORTED_ENCODER]), destination)
        pushed.set_int_custom_property("pushed", 1)
        pushed.set_string_custom_property("pushed_destination", destination)
        pushed.set_string_custom_property("pushed_version", version)
        pushed.set_string_custom_property("blessed_by", ",".join(blessed_by))


class EncoderPusherSpec(component_spec.ComponentSpec):
    """EncoderPusher's parameters and output; `encoder_pusher_spec` adds a blessing input per GLUE task."""

    PARAMETERS = {PUSH_DESTINATION: component_spec.ExecutionParameter(type=str)}
    INPUTS = {contract.EXPORTED_ENCODER: component_spec.ChannelParameter(type=ExportedEncoder)}
    OUTPUTS = {contract.PUSHED_MODEL: component_spec.ChannelParameter(type=standard_artifacts.PushedModel)}


def encoder_pusher_spec(tasks: list[str]) -> type[EncoderPusherSpec]:
    blessings = {
        blessing_key(task): component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing) for task in tasks
    }
    return type("EncoderPusherSpec", (EncoderPusherSpec,), {"INPUTS": {**EncoderPusherSpec.INPUTS, **blessings}})


class EncoderPusher(base_component.BaseComponent):
    """Pushes the exported encoder when a GLUE task's Evaluator blessed the model fine-tuned from it.

    Args:
        exported_encoder: EncoderExport's output.
        blessings: each GLUE task's Evaluator `blessing` channel, by task name.
        push_destination: the folder the versions go into (`serving/encoder` beside the GLUE models).
    """

    SPEC_CLASS = EncoderPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self, exported_encoder: channel.BaseChannel, blessings: dict[str, channel.BaseChannel], push_destination: str
    ):
        spec_class = encoder_pusher_spec(sorted(blessings))
        super().__init__(
            spec=spec_class(
                **{
                    PUSH_DESTINATION: push_destination,
                    contract.EXPORTED_ENCODER: exported_encoder,
                    contract.PUSHED_MODEL: channel.Channel(type=standard_artifacts.PushedModel),
                    **{blessing_key(task): blessing for task, blessing in blessings.items()},
                }
            )
        )
