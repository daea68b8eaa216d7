"""The data steps (TextExampleGen -> StatisticsGen -> SchemaGen -> Transform) on a bundled corpus file,
uncached: two runs with the same seed write byte-identical instances whatever Beam's batching and number
of worker processes; a third run, with another seed, writes unmasked instances (dynamic masking) that a
short Trainer masks itself, and its token sequences differ from the first run's once that run's masks are
undone. Real TFX components on LocalDagRunner, real Beam."""

import glob

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx

from configs import presets
from inspection import store
from models import features
from models.pretraining_data.instance_statistics import read_instances, statistics_of
from pipeline.beam_options import IN_PROCESS_BEAM_ARGS
from pipeline.bert_pipeline import PipelinePaths, data_nodes, pretraining_trainer
from tests.conftest import DATA_DIR

pytestmark = pytest.mark.e2e

IN_PROCESS = list(IN_PROCESS_BEAM_ARGS)
TWO_WORKERS = ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def run_data_steps(root, overrides, beam_args, with_trainer=False):
    # One of the three bundled files (about 45 documents), in groups of 8: enough to show the properties.
    config = presets.load(
        "smoke",
        [
            "pipeline_name=data-steps",
            "corpus.input_pattern=wiki_00.gz",
            "corpus.documents_per_group=8",
            "data.dupe_factor=2",
            *overrides,
        ],
    )
    paths = PipelinePaths(
        corpus_dir=str(DATA_DIR / "corpus"), glue_dir="", pipeline_root=str(root / "pipeline_root"), serving_dir=""
    )
    data = data_nodes(config, paths)
    steps = [data.corpus, data.statistics, data.schema, data.transform]
    root.mkdir(parents=True, exist_ok=True)
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name=config.pipeline_name,
            pipeline_root=paths.pipeline_root,
            components=steps + ([pretraining_trainer(config, data.transform)] if with_trainer else []),
            enable_cache=False,
            metadata_connection_config=store.sqlite_config(root / "metadata.sqlite"),
            beam_pipeline_args=beam_args,
        )
    )
    return glob.glob(str(root / "pipeline_root" / "Transform" / "transformed_examples" / "*" / "Split-*" / "*"))


def instances(files):
    """Every serialized instance, sorted: files and their order may differ between runs, instances may not."""
    return sorted(raw.numpy() for raw in tf.data.TFRecordDataset(files, compression_type="GZIP"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("data_steps")
    return {
        "first": run_data_steps(base / "first", ["data.groups_per_batch=1"], IN_PROCESS),
        "again": run_data_steps(base / "again", ["data.groups_per_batch=5"], TWO_WORKERS),
        "dynamic": run_data_steps(
            base / "dynamic",
            [
                "data.seed=7",
                "data.dynamic_masking=true",
                "data.whole_word_masking=true",
                "trainer.train_steps=40",
                "trainer.warmup_steps=5",
                "trainer.log_every_steps=20",
                "trainer.eval_steps=2",
            ],
            IN_PROCESS,
            with_trainer=True,
        ),
        "dynamic_root": base / "dynamic" / "pipeline_root",
    }


def test_same_seed_gives_identical_instances_whatever_the_batching_and_workers(runs):
    first = instances(runs["first"])
    assert len(first) > 500
    assert first == instances(runs["again"])


def token_sequences(files, masked=True):
    """Each instance's token ids with its masks undone, as bytes (the packing, whatever the masking)."""
    sequences = set()
    for batch in read_instances(files):
        ids = batch[features.INPUT_WORD_IDS].copy()
        if masked:
            rows, slots = np.nonzero(batch[features.MASKED_LM_WEIGHTS])
            ids[rows, batch[features.MASKED_LM_POSITIONS][rows, slots]] = batch[features.MASKED_LM_IDS][rows, slots]
        sequences.update(row.tobytes() for row in ids)
    return sequences


def test_another_seed_gives_other_instances(runs):
    first, other = token_sequences(runs["first"]), token_sequences(runs["dynamic"], masked=False)
    assert len(first) > 500 and len(other) > 500
    # Some instances are the same under any seed (a document's first chunk of two sentences, a true
    # continuation, full target): about a sixth here. With the seed ignored it would be all of them.
    assert len(first & other) < len(first) / 3


def test_instances_follow_the_recipe(runs):
    config = presets.preset("smoke").data
    stats = statistics_of(runs["first"]).summary()
    assert 0.4 < stats["random_next_share"] < 0.6
    assert abs(stats["selected_share"] - config.masked_lm_prob) < 0.01
    assert abs(stats["mask_share"] - 0.8) < 0.02 and abs(stats["random_share"] - 0.1) < 0.02
    assert stats["full_length_share"] > 0.75
    assert stats["unk_targets"] == 0


def test_dynamic_masking_writes_unmasked_instances_and_the_trainer_masks_them(runs):
    import json

    first = tf.train.Example.FromString(
        next(iter(tf.data.TFRecordDataset(runs["dynamic"], compression_type="GZIP"))).numpy()
    )
    assert "masked_lm_positions" not in first.features.feature
    assert features.MASK_ID not in first.features.feature["input_word_ids"].int64_list.value
    [history] = glob.glob(str(runs["dynamic_root"] / "Trainer" / "model_run" / "*" / "history.json"))
    history = json.loads(open(history).read())
    # The masked-LM head was trained on masks drawn by the Trainer: its loss fell and it predicts some.
    assert history["lm_example_loss"][-1] < history["lm_example_loss"][0]
    assert history["val_masked_lm_accuracy"][-1] > 0
