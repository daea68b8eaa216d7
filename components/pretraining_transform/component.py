"""TFX Transform with fixed batches and byte-stable output; otherwise TFX's own.

- Batches hold a fixed number of records (`data.groups_per_batch`). A record is a group of documents, and
  one group makes thousands of instances; TFT's adaptive batching grows batches up to a thousand records.
  (The instances do not depend on the batching: see `models.pretraining_data.preprocessing`.)
- Instances are written with deterministic serialization (map entries in key order). TFX's encoder writes
  a tf.Example's feature map in hash order, which varies between processes, so two runs wrote the same
  instances as different bytes.

TFX's Transform executor does its work in a `TransformProcessor` it builds by module-global name, with no
hook for either change; `Executor.Do` puts a subclass in that name's place for the length of one call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx.components import Transform
from tfx.components.transform import executor as transform_executor
from tfx.components.transform import labels as transform_labels
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

from configs.run_config import PretrainingDataConfig, section_from

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
        groups_per_batch = section_from(custom_config, "data", PretrainingDataConfig).groups_per_batch
        with _processor(groups_per_batch):
            super().Do(input_dict, output_dict, exec_properties)


class PretrainingTransform(Transform):
    """`tfx.components.Transform` with the executor above; same arguments."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
