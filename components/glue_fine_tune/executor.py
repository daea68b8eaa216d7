"""GlueFineTune executor: resolves artifacts to paths and runs `models.glue.fine_tuning.fine_tune`."""

from __future__ import annotations

import os
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import path_utils

from configs import glue_tasks
from configs import pipeline_contract as contract
from configs.run_config import GlueConfig, section_from
from models.encoder import backbone
from models.glue import fine_tuning as glue_fine_tuning

EXAMPLES_KEY = contract.EXAMPLES
PRETRAINED_MODEL_KEY = "pretrained_model"
MODEL_KEY = contract.MODEL
MODEL_RUN_KEY = contract.MODEL_RUN
TASK_KEY = "task"
CUSTOM_CONFIG_KEY = standard_component_specs.CUSTOM_CONFIG_KEY


class Executor(base_executor.BaseExecutor):
    """Fine-tunes on `exec_properties["task"]` with the `glue` section of `custom_config` (its seeds and
    learning rates)."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        pretrained = artifact_utils.get_single_instance(input_dict[PRETRAINED_MODEL_KEY])
        model_uri = artifact_utils.get_single_uri(output_dict[MODEL_KEY])
        splits = artifact_utils.decode_split_names(examples.split_names)
        paths = glue_fine_tuning.FineTuningPaths(
            checkpoint_dir=backbone.checkpoint_dir(pretrained.uri),
            split_patterns={
                split: os.path.join(artifact_utils.get_split_uri([examples], split), "*") for split in splits
            },
            serving_dir=path_utils.serving_model_dir(model_uri),
            model_run_dir=artifact_utils.get_single_uri(output_dict[MODEL_RUN_KEY]),
        )
        glue_fine_tuning.fine_tune(
            glue_tasks.get_task(exec_properties[TASK_KEY]),
            section_from(exec_properties[CUSTOM_CONFIG_KEY], "glue", GlueConfig),
            paths,
        )
