"""Beam executor of GlueExampleGen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.dsl.io import fileio
from tfx.types import standard_component_specs

from components.file_example_gen import open_binary
from components.glue_example_gen.tsv_reader import GlueRecord, read_tsv
from configs import glue_tasks
from models import features

TASK_KEY = "task"


def record_to_example(record: GlueRecord) -> tf.train.Example:
    """Encodes one GLUE record with the GLUE features of `models.features`."""

    def text(value: str) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))

    def integer(value: int) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    feature = {
        features.GLUE_SENTENCE1: text(record.sentence1),
        features.GLUE_SENTENCE2: text(record.sentence2),
        features.GLUE_IDX: integer(record.idx),
    }
    if isinstance(record.label, float):
        feature[features.GLUE_LABEL] = tf.train.Feature(float_list=tf.train.FloatList(value=[record.label]))
    elif record.label is not None:
        feature[features.GLUE_LABEL] = integer(record.label)
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _read(path: str, task_name: str, labelled: bool, required: bool) -> Iterator[GlueRecord]:
    yield from read_tsv(path, glue_tasks.get_task(task_name), labelled=labelled, opener=open_binary, required=required)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _GlueTsvToExample(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str) -> beam.PCollection:
    task_name = exec_properties[TASK_KEY]
    [glue_file] = [f for f in glue_tasks.get_task(task_name).files if f.path == split_pattern]
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    paths = sorted(fileio.glob(pattern))
    if not paths and glue_file.required:
        raise FileNotFoundError(f"GlueExampleGen ({task_name}): no file matches {pattern}")
    return (
        pipeline
        | "ListFiles" >> beam.Create(paths)
        | "ReadTsv" >> beam.FlatMap(_read, task_name, glue_file.labelled, glue_file.required)
        | "ToExample" >> beam.Map(record_to_example)
    )


class Executor(BaseExampleGenExecutor):
    """GlueExampleGen executor: see `tsv_reader` for the file layout."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _GlueTsvToExample
