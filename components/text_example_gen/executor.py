"""Beam executor of TextExampleGen: read, clean, de-duplicate, encode."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.dsl.io import fileio
from tfx.types import standard_component_specs

from components.file_example_gen import open_binary, reader_config
from components.text_example_gen.corpus_reader import Document, read_documents
from models import features


def _bytes_feature(values: list[str]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8") for v in values]))


def document_to_example(document: Document) -> tf.train.Example:
    """Encodes one document with the raw corpus features of `models.features`."""
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                features.TEXT: _bytes_feature([document.text]),
                features.SENTENCES: _bytes_feature(list(document.sentences)),
                features.DOC_ID: _bytes_feature([document.doc_id]),
                features.TITLE: _bytes_feature([document.title]),
                features.SOURCE: _bytes_feature([document.source]),
            }
        )
    )


def _first_by_id(documents: list[Document]) -> Document:
    """Of documents with the same content, keeps one deterministically (lowest source, then id)."""
    return min(documents, key=lambda d: (d.source, d.doc_id))


def _read_file(path: str, min_chars: int) -> Iterator[Document]:
    yield from read_documents(path, min_chars=min_chars, opener=open_binary)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _CorpusToExample(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str) -> beam.PCollection:
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    min_chars = int(reader_config(exec_properties)["min_document_chars"])
    pattern = os.path.join(input_base, split_pattern)
    paths = sorted(p for p in fileio.glob(pattern) if not fileio.isdir(p))
    if not paths:
        raise FileNotFoundError(f"TextExampleGen: no corpus files match {pattern}")
    return (
        pipeline
        | "ListFiles" >> beam.Create(paths)
        | "Reshuffle" >> beam.Reshuffle()
        | "ReadDocuments" >> beam.FlatMap(_read_file, min_chars)
        | "KeyByContent" >> beam.Map(lambda d: (d.fingerprint, d))
        | "DropDuplicates" >> beam.CombinePerKey(_first_by_id)
        | "Values" >> beam.Values()
        | "ToExample" >> beam.Map(document_to_example)
    )


class Executor(BaseExampleGenExecutor):
    """TextExampleGen executor: see `corpus_reader` for formats and cleaning."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CorpusToExample
