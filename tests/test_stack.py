"""The pinned stack imports and works here: TFX, ML Metadata on SQLite, TF Text, Beam offline."""

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_tfx_v1_imports_with_pinned_versions():
    import tensorflow as tf
    import tfx
    from tfx import v1 as tfx_v1

    assert tfx.__version__ == "1.21.0"
    assert tf.__version__.startswith("2.21.")
    assert hasattr(tfx_v1.components, "Transform")


def test_ml_metadata_sqlite_round_trips_an_artifact(tmp_path):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(tmp_path / "mlmd.sqlite")
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = metadata_store.MetadataStore(config)
    artifact_type = metadata_store_pb2.ArtifactType(name="bert.WordpieceVocab")
    artifact_type.properties["size"] = metadata_store_pb2.INT
    type_id = store.put_artifact_type(artifact_type)
    artifact = metadata_store_pb2.Artifact(type_id=type_id, uri="/tmp/vocab.txt")
    artifact.properties["size"].int_value = 30522
    [artifact_id] = store.put_artifacts([artifact])

    reopened = metadata_store.MetadataStore(config)
    [read] = reopened.get_artifacts_by_id([artifact_id])
    assert read.uri == "/tmp/vocab.txt"
    assert read.properties["size"].int_value == 30522


def test_tensorflow_text_wordpiece_op_runs():
    import tensorflow as tf
    import tensorflow_text as tf_text

    vocab = ["[PAD]", "[UNK]", "un", "##aff", "##able", "the"]
    table = tf.lookup.StaticVocabularyTable(
        tf.lookup.KeyValueTensorInitializer(vocab, tf.range(len(vocab), dtype=tf.int64)), num_oov_buckets=1
    )
    tokenizer = tf_text.BertTokenizer(table, token_out_type=tf.int64, lower_case=True)
    ids = tokenizer.tokenize(tf.constant(["The Unaffable"])).merge_dims(-2, -1)
    assert ids.to_list() == [[5, 2, 3, 4]]


def test_our_beam_options_never_try_the_prism_runner():
    # A pipeline Prism supports (a GroupByKey, no side inputs, no `assert_that`): Beam's `DirectRunner` would
    # first log "Running pipeline with PrismRunner" and try to download it from GitHub. A fresh interpreter
    # logging at INFO, so that attempt would show in its output.
    code = """
import logging
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from configs.run_config import BeamConfig
from pipeline.beam_options import beam_args
logging.basicConfig(level=logging.INFO, force=True)
with beam.Pipeline(options=PipelineOptions(beam_args(BeamConfig()))) as p:
    pairs = p | beam.Create(["a b", "b c", "b"]) | beam.FlatMap(str.split) | beam.Map(lambda w: (w, 1))
    counts = pairs | beam.GroupByKey() | beam.MapTuple(lambda w, ones: (w, sum(ones)))
    counts | beam.Map(print)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(result.stdout.split()) == ["('a',", "('b',", "('c',", "1)", "1)", "3)"]
    assert "prism" not in (result.stdout + result.stderr).lower()
