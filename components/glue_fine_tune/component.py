"""GlueFineTune component: (GLUE Examples, pre-trained Model) -> fine-tuned Model + ModelRun."""

from __future__ import annotations

import json
from typing import Any

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.glue_fine_tune import executor


class GlueFineTuneSpec(component_spec.ComponentSpec):
    """Inputs: GLUE examples and the pre-training Trainer's model; outputs a serving Model."""

    PARAMETERS = {
        executor.TASK_KEY: component_spec.ExecutionParameter(type=str),
        executor.CUSTOM_CONFIG_KEY: component_spec.ExecutionParameter(type=str),
    }
    INPUTS = {
        executor.EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        executor.PRETRAINED_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        executor.MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        executor.MODEL_RUN_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelRun),
    }


class GlueFineTune(base_component.BaseComponent):
    """Fine-tunes the pre-trained encoder on one GLUE task.

    Args:
        examples: GlueExampleGen output (`train`, `eval`, and the task's other dev and test splits).
        pretrained_model: the pre-training Trainer's `model` output (holds the encoder checkpoint).
        task: GLUE task name.
        custom_config: the run config's `glue` section (`configs.run_config.to_custom_config`): step budget,
            learning rates and seeds (one fine-tuning run each; the best on dev is the output model).
    """

    SPEC_CLASS = GlueFineTuneSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: channel.BaseChannel,
        pretrained_model: channel.BaseChannel,
        task: str,
        custom_config: dict[str, Any],
    ):
        spec = GlueFineTuneSpec(
            examples=examples,
            pretrained_model=pretrained_model,
            task=task,
            custom_config=json.dumps(custom_config, sort_keys=True),
            model=channel.Channel(type=standard_artifacts.Model),
            model_run=channel.Channel(type=standard_artifacts.ModelRun),
        )
        super().__init__(spec=spec)
