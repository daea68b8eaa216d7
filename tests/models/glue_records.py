"""Writes GLUE examples as GlueExampleGen does (gzipped TFRecords of tf.Examples), for the tests."""

from __future__ import annotations

import tensorflow as tf

from models import features


def serialized_example(
    sentence1: str, sentence2: str | None = None, label: int | float | None = None, idx: int | None = None
) -> bytes:
    feature = {features.GLUE_SENTENCE1: tf.train.Feature(bytes_list=tf.train.BytesList(value=[sentence1.encode()]))}
    if sentence2 is not None:
        feature[features.GLUE_SENTENCE2] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[sentence2.encode()]))
    if isinstance(label, float):
        feature[features.GLUE_LABEL] = tf.train.Feature(float_list=tf.train.FloatList(value=[label]))
    elif label is not None:
        feature[features.GLUE_LABEL] = tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
    if idx is not None:
        feature[features.GLUE_IDX] = tf.train.Feature(int64_list=tf.train.Int64List(value=[idx]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_examples(path, rows: list[tuple[str, str | None, int | float | None]], ids: list[int] | None = None) -> str:
    """Rows of (sentence1, sentence2, label); a test split has labels None and `ids`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for i, (sentence1, sentence2, label) in enumerate(rows):
            writer.write(serialized_example(sentence1, sentence2, label, ids[i] if ids else None))
    return str(path)
