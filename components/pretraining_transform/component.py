"""TFX Transform with fixed batches, byte-stable output and an optional given vocabulary; otherwise TFX's own.

- Batches hold a fixed number of records (`data.groups_per_batch`). A record is a group of documents, and
  one group makes thousands of instances; TFT's adaptive batching grows batches up to a thousand records.
  (The instances do not depend on the batching: see `models.pretraining_data.preprocessing`.)
- Instances are written with deterministic serialization (map entries in key order). TFX's encoder writes
  a tf.Example's feature map in hash order, which varies between processes, so two runs wrote the same
  instances as different bytes.
- Records are counted (`components.record_counts`): every read of a split's records, which must find as many as
  TextExampleGen wrote (the run fails naming the split and both counts otherwise), and the instances handed to the
  writer per split, recorded as the output's `records_<split>` for the InstanceStatisticsGen after it to check.
- `preprocessing_fn` is traced once, not three times, for TFT's questions of which inputs the analysis and the
  transform need (`tft.get_analyze_input_columns`, asked twice, and `tft.get_transform_input_columns`, each a
  trace of its own in TFT: 0.6-0.8 s each for this `preprocessing_fn`); analysis and export trace it as before.
- An optional input `vocabulary`, another Transform's graph, whose vocabulary this one uses instead of learning
  one (a later pre-training phase makes instances of another length from the same vocabulary,
  `configs.training_phases`): the executor sets `data.vocab_file` to that graph's vocabulary asset, and ML Metadata
  records which graph it came from.

TFX's Transform executor does its work in a `TransformProcessor` it builds by module-global name, with no
hook for these changes; `Executor.Do` puts a subclass in that name's place for the length of one call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import impl_helper, inspect_preprocessing_fn
from tfx import types
from tfx.components.transform import executor as transform_executor
from tfx.components.transform import labels as transform_labels
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.dsl.io import fileio
from tfx.proto import transform_pb2
from tfx.types import artifact_utils, channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import json_utils

from components import record_counts
from configs.pipeline_contract import RECORD_COUNTS_DIR
from configs.run_config import PretrainingDataConfig, section_from
from models import features

VOCABULARY_KEY = "vocabulary"

_TfxProcessor = transform_executor.TransformProcessor


class _CountingTFXIO:
    """A TFXIO whose Beam sources also count the rows they read, each read into a file of its own."""

    _reads = itertools.count(1)

    def __init__(self, tfxio, counts_dir: str, split: str):
        self._tfxio, self._counts_dir, self._split = tfxio, counts_dir, split

    def __getattr__(self, name: str):
        return getattr(self._tfxio, name)

    def Project(self, tensor_names):  # noqa: N802 (TFXIO's name)
        return _CountingTFXIO(self._tfxio.Project(tensor_names), self._counts_dir, self._split)

    def BeamSource(self, batch_size=None):  # noqa: N802 (TFXIO's name)
        path = os.path.join(self._counts_dir, f"read-{self._split}-{next(self._reads)}.json")
        return _CountedSource(self._tfxio.BeamSource(batch_size), path)


class _CountedSource(beam.PTransform):
    def __init__(self, source: beam.PTransform, count_path: str):
        super().__init__()
        self._source, self._count_path = source, count_path

    def expand(self, pbegin):
        batches = pbegin | "Read" >> self._source
        _ = batches | "CountRead" >> record_counts.CountInto(self._count_path, size=lambda batch: batch.num_rows)
        return batches


class _Processor(_TfxProcessor):
    """TFX's TransformProcessor with a fixed batch size, deterministic serialization and counted records."""

    groups_per_batch = 1  # set per call by `_processor`
    counts_dir = ""  # likewise

    def _GetDesiredBatchSize(self, data_format: int, schema) -> int:
        return self.groups_per_batch

    def _CreateTFXIO(self, dataset, schema):
        tfxio = super()._CreateTFXIO(dataset, schema)
        return _CountingTFXIO(tfxio, self.counts_dir, record_counts.split_of(dataset.file_pattern))

    @staticmethod
    @beam.ptransform_fn
    def _EncodeAndWrite(pcoll: beam.PCollection, schema, file_format: str, output_path: str) -> beam.pvalue.PDone:
        if file_format != transform_labels.FORMAT_TFRECORD:
            return pcoll | _TfxProcessor._EncodeAndWrite(schema, file_format, output_path)
        instances = (
            pcoll
            | "EncodeAndSerialize" >> beam.ParDo(_TfxProcessor._RecordBatchToExamplesFn(schema))
            | "ExtractExamples" >> beam.Values()
            | "SerializeDeterministically" >> beam.Map(_deterministic)
        )
        # `<artifact>/Split-<name>/<prefix>`: the counts go to `<artifact>/record_counts/`.
        counts_dir = os.path.join(os.path.dirname(os.path.dirname(output_path)), RECORD_COUNTS_DIR)
        split = record_counts.split_of(output_path)
        _ = instances | "CountWritten" >> record_counts.CountInto(os.path.join(counts_dir, f"written-{split}.json"))
        return instances | "WriteToTFRecord" >> beam.io.WriteToTFRecord(output_path, file_name_suffix=".gz")


class _TracedOnce:
    """`impl_helper` as `tensorflow_transform.inspect_preprocessing_fn` sees it: one trace per preprocessing_fn and
    input specs answers all its questions (they only read the traced graph)."""

    def __init__(self):
        self._traces: dict[tuple, tuple] = {}

    def __getattr__(self, name: str):
        return getattr(impl_helper, name)

    def trace_preprocessing_function(self, preprocessing_fn, input_specs, use_tf_compat_v1, base_temp_dir=None):
        key = (id(preprocessing_fn), repr(sorted(input_specs.items())), use_tf_compat_v1)
        if key not in self._traces:  # the function is kept with its trace, so its id is not reused meanwhile
            trace = impl_helper.trace_preprocessing_function(
                preprocessing_fn, input_specs, use_tf_compat_v1, base_temp_dir
            )
            self._traces[key] = (preprocessing_fn, trace)
        return self._traces[key][1]


@contextlib.contextmanager
def traced_once_for_inspection() -> Iterator[None]:
    """TFT's `get_analyze_input_columns` and `get_transform_input_columns` share one trace of a preprocessing_fn."""
    inspect_preprocessing_fn.impl_helper = _TracedOnce()
    try:
        yield
    finally:
        inspect_preprocessing_fn.impl_helper = impl_helper


def _deterministic(serialized: bytes) -> bytes:
    return tf.train.Example.FromString(serialized).SerializeToString(deterministic=True)


@contextlib.contextmanager
def _processor(groups_per_batch: int, counts_dir: str) -> Iterator[None]:
    settings = {"groups_per_batch": groups_per_batch, "counts_dir": counts_dir}
    processor = type("PretrainingTransformProcessor", (_Processor,), settings)
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
        transformed = artifact_utils.get_single_instance(output_dict[standard_component_specs.TRANSFORMED_EXAMPLES_KEY])
        counts_dir = os.path.join(transformed.uri, RECORD_COUNTS_DIR)
        fileio.makedirs(counts_dir)
        with _processor(data.groups_per_batch, counts_dir), traced_once_for_inspection():
            super().Do(input_dict, output_dict, exec_properties)
        self._check_counts(
            artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY]),
            transformed,
            counts_dir,
        )

    def _check_counts(self, examples, transformed, counts_dir: str) -> None:
        """Every read found the records TextExampleGen wrote; the instances written are recorded for the
        statistics after this step to check."""
        counts = record_counts.read_counts(counts_dir)
        for name, count in counts.items():
            if name.startswith("read-"):
                split = name.removeprefix("read-").rsplit("-", 1)[0]
                record_counts.check_read(
                    record_counts.node_id(self, "Transform"), examples, split, count, self._beam_pipeline_args
                )
        written = {n.removeprefix("written-"): c for n, c in counts.items() if n.startswith("written-")}
        record_counts.set_written(transformed, written)


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
