"""TFX Transform with fixed batches, byte-stable output and an optional given vocabulary; otherwise TFX's own.

- Batches hold a fixed number of records (`data.groups_per_batch`). A record is a group of documents, and
  one group makes thousands of instances; TFT's adaptive batching grows batches up to a thousand records.
  (The instances do not depend on the batching: see `models.pretraining_data.preprocessing`.)
- Instances are written with deterministic serialization (map entries in key order). TFX's encoder writes
  a tf.Example's feature map in hash order, which varies between processes, so two runs wrote the same
  instances as different bytes.
- An optional input `vocabulary`, another Transform's graph, whose vocabulary this one uses instead of learning
  one (a later pre-training phase makes instances of another length from the same vocabulary,
  `configs.training_phases`): the executor sets `data.vocab_file` to that graph's vocabulary asset, and ML Metadata
  records which graph it came from.

TFX's Transform executor does its work in a `TransformProcessor` it builds by module-global name, with no
hook for either change; `Executor.Do` puts a subclass in that name's place for the length of one call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.components.transform import executor as transform_executor
from tfx.components.transform import labels as transform_labels
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import transform_pb2
from tfx.types import artifact_utils, channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import json_utils

from configs.run_config import PretrainingDataConfig, section_from
from models import features

VOCABULARY_KEY = "vocabulary"

_TfxProcessor = transform_executor.TransformProcessor


class _Processor(_TfxProcessor):
    """TFX's TransformProcessor with a fixed batch size and deterministic serialization."""

    groups_per_batch = 1  # set per call by `_processor`

    def _GetDesiredBatchSize(self, data_format: int, schema) -> int:
        return self.groups_per_batch

    @staticmethod
    @beam.ptransform_fn
    def _EncodeAndWrite(pcoll: beam.PCollection, schema, file_format: str, output_path: str) -> beam.pvalue.PDone:
        if file_format != transform_labels.FORMAT_TFRECORD:
            return pcoll | _TfxProcessor._EncodeAndWrite(schema, file_format, output_path)
        return (
            pcoll
            | "EncodeAndSerialize" >> beam.ParDo(_TfxProcessor._RecordBatchToExamplesFn(schema))
            | "ExtractExamples" >> beam.Values()
            | "SerializeDeterministically" >> beam.Map(_deterministic)
            | "WriteToTFRecord" >> beam.io.WriteToTFRecord(output_path, file_name_suffix=".gz")
        )


def _deterministic(serialized: bytes) -> bytes:
    return tf.train.Example.FromString(serialized).SerializeToString(deterministic=True)


@contextlib.contextmanager
def _processor(groups_per_batch: int) -> Iterator[None]:
    processor = type("PretrainingTransformProcessor", (_Processor,), {"groups_per_batch": groups_per_batch})
    transform_executor.TransformProcessor = processor
    try:
        yield
    finally:
        transform_executor.TransformProcessor = _TfxProcessor


class Executor(transform_executor.Executor):
    """Transform's executor with `_Processor` doing the work."""

    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        custom_config = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
        data = section_from(custom_config, "data", PretrainingDataConfig)
        if input_dict.get(VOCABULARY_KEY):
            graph = artifact_utils.get_single_uri(input_dict[VOCABULARY_KEY])
            vocab_file = tft.TFTransformOutput(graph).vocabulary_file_by_name(features.VOCAB_FILE)
            config = {**json.loads(custom_config), "data": dataclasses.asdict(data) | {"vocab_file": vocab_file}}
            exec_properties = {**exec_properties, standard_component_specs.CUSTOM_CONFIG_KEY: json.dumps(config)}
        with _processor(data.groups_per_batch):
            super().Do(input_dict, output_dict, exec_properties)


class PretrainingTransformSpec(standard_component_specs.TransformSpec):
    """TFX's TransformSpec with one more, optional input: the graph whose vocabulary to use."""

    INPUTS = {
        **standard_component_specs.TransformSpec.INPUTS,
        VOCABULARY_KEY: ChannelParameter(type=standard_artifacts.TransformGraph, optional=True),
    }


class PretrainingTransform(base_beam_component.BaseBeamComponent):
    """TFX's Transform, as the pipeline uses it: a `preprocessing_fn` by name, materialized examples, statistics
    left to a StatisticsGen, no analyzer cache; and the executor above.

    Args:
        examples: the corpus examples.
        schema: their schema.
        preprocessing_fn: the dotted name of the preprocessing function.
        splits_config: which splits to analyze and which to transform.
        custom_config: the run config's `data` section (`to_custom_config(config, "data")`).
        vocabulary: None (learn the vocabulary, or read `data.vocab_file`), or another Transform's graph, whose
            vocabulary this one uses.
    """

    SPEC_CLASS = PretrainingTransformSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(
        self,
        examples: channel.BaseChannel,
        schema: channel.BaseChannel,
        preprocessing_fn: str,
        splits_config: transform_pb2.SplitsConfig,
        custom_config: dict[str, Any],
        vocabulary: channel.BaseChannel | None = None,
    ):
        transformed_examples = types.Channel(type=standard_artifacts.Examples)
        transformed_examples.matching_channel_name = standard_component_specs.EXAMPLES_KEY
        spec = PretrainingTransformSpec(
            examples=examples,
            schema=schema,
            preprocessing_fn=preprocessing_fn,
            force_tf_compat_v1=0,
            splits_config=splits_config,
            transform_graph=types.Channel(type=standard_artifacts.TransformGraph),
            transformed_examples=transformed_examples,
            custom_config=json_utils.dumps(custom_config),
            disable_statistics=1,
            vocabulary=vocabulary,
        )
        super().__init__(spec=spec)
