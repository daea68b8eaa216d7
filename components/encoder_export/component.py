"""EncoderExport component: the pre-trained encoder in the formats other libraries load.

It reads the encoder checkpoint of the Trainer's model (with its pre-training heads and vocabulary) and writes an
`ExportedEncoder` artifact holding a folder per format (`configs.pipeline_contract.EXPORT_FORMAT_DIRS`): Hugging
Face (`BertForPreTraining`, both heads, the tokenizer), a keras-hub preset, and the raw-text SavedModel
(`models.encoder.export_formats`). ML Metadata records its lineage to the Trainer's model, and through it to
Transform's vocabulary and the corpus.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import tensorflow as tf
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, channel, component_spec, standard_artifacts

from components.run_artifacts import ExportedEncoder
from configs import pipeline_contract as contract
from configs.run_config import PretrainingDataConfig, section_from
from models.encoder import backbone as backbone_lib
from models.encoder import export_formats

CUSTOM_CONFIG = "custom_config"


def copy_tree(local_dir: str, uri: str) -> None:
    """Copies the folder `local_dir` with everything in it to `uri` (any file system `tf.io.gfile` knows)."""
    for folder, _, files in tf.io.gfile.walk(local_dir):
        target = os.path.join(uri, os.path.relpath(folder, local_dir))
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(os.path.join(folder, name), os.path.join(target, name), overwrite=True)


class Executor(base_executor.BaseExecutor):
    """Exports the Trainer's encoder into the `exported_encoder` artifact."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        data = section_from(exec_properties[CUSTOM_CONFIG], "data", PretrainingDataConfig)
        checkpoint = backbone_lib.checkpoint_dir(artifact_utils.get_single_uri(input_dict[contract.MODEL]))
        uri = artifact_utils.get_single_uri(output_dict[contract.EXPORTED_ENCODER])
        if "://" not in uri:
            export_formats.export_checkpoint(checkpoint, uri, data.max_seq_length)
            return
        # keras-hub writes presets with local file calls: export here, then copy to the bucket.
        with tempfile.TemporaryDirectory() as local_dir:
            export_formats.export_checkpoint(checkpoint, local_dir, data.max_seq_length)
            copy_tree(local_dir, uri)


class EncoderExportSpec(component_spec.ComponentSpec):
    PARAMETERS = {CUSTOM_CONFIG: component_spec.ExecutionParameter(type=str)}
    INPUTS = {contract.MODEL: component_spec.ChannelParameter(type=standard_artifacts.Model)}
    OUTPUTS = {contract.EXPORTED_ENCODER: component_spec.ChannelParameter(type=ExportedEncoder)}


class EncoderExport(base_component.BaseComponent):
    """Exports a pre-trained encoder for Hugging Face, keras-hub and TensorFlow Serving.

    Args:
        model: the pre-training Trainer's `model` channel.
        custom_config: the run config's `data` section (`to_custom_config(config, "data")`): the SavedModel's
            sequence length.
    """

    SPEC_CLASS = EncoderExportSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: channel.BaseChannel, custom_config: dict[str, Any]):
        super().__init__(
            spec=EncoderExportSpec(
                **{
                    CUSTOM_CONFIG: json.dumps(custom_config, sort_keys=True),
                    contract.MODEL: model,
                    contract.EXPORTED_ENCODER: channel.Channel(type=ExportedEncoder),
                }
            )
        )
