"""The data steps (TextExampleGen -> StatisticsGen -> SchemaGen -> Transform) on a bundled corpus file,
uncached: two runs with the same seed write byte-identical instances whatever Beam's batching and number
of worker processes; a third run pre-trains as RoBERTa does (`data.objective=mlm`: full sentences packed across
documents, no next-sentence task, whole-word and dynamic masking): Transform writes unmasked instances that a
short Trainer masks itself. The third run also continues from an exported model: Transform takes the model's
vocabulary (`data.vocab_file`) and the Trainer its weights (`trainer.init_from`, a Hugging Face folder; the
next-sentence head it has is left out). Real TFX components on LocalDagRunner, real Beam."""

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
from pipeline.bert_pipeline import PipelinePaths, data_nodes, pretraining_nodes
from tests.conftest import DATA_DIR

pytestmark = pytest.mark.e2e

IN_PROCESS = list(IN_PROCESS_BEAM_ARGS)
VOCAB_ASSET = "transform_fn/assets/vocab.txt"
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
            components=steps + (pretraining_nodes(config, data).components() if with_trainer else []),
            enable_cache=False,
            metadata_connection_config=store.sqlite_config(root / "metadata.sqlite"),
            beam_pipeline_args=beam_args,
        )
    )
    return glob.glob(str(root / "pipeline_root" / "Transform" / "transformed_examples" / "*" / "Split-*" / "*"))


def instances(files):
    """Every serialized instance, sorted: files and their order may differ between runs, instances may not."""
    return sorted(raw.numpy() for raw in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def exported_model(vocab_path: str, directory) -> dict:
    """A smoke-shaped pre-trainer over `vocab_path`, every weight moved off its initialisation, exported for
    Hugging Face; returns its weights and the export's folder."""
    import keras

    from models.encoder import backbone as backbone_lib
    from models.encoder import export_formats
    from models.pretraining.bert_pretrainer import BertPretrainer
    from tests.models.tiny import pretraining_batch

    keras.utils.set_random_seed(21)
    vocab_size = len(open(vocab_path).read().splitlines())
    pretrainer = BertPretrainer(backbone_lib.build_backbone(presets.preset("smoke").model, vocab_size))
    pretrainer({name: tf.constant(value) for name, value in pretraining_batch(batch_size=2).items()})
    rng = np.random.default_rng(5)
    for variable in pretrainer.trainable_variables:
        variable.assign(variable.numpy() + rng.normal(0.0, 0.05, variable.shape).astype(np.float32))
    checkpoint = directory / "checkpoint"
    backbone_lib.save_checkpoint(
        pretrainer.backbone, vocab_path, True, str(checkpoint), heads=pretrainer.head_weights()
    )
    folders = export_formats.export_checkpoint(str(checkpoint), str(directory / "exported"), 128, ["hf"])
    return {"hf": folders["hf"], "backbone": pretrainer.backbone.get_weights(), "heads": pretrainer.head_weights()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("data_steps")
    first = run_data_steps(base / "first", ["data.groups_per_batch=1"], IN_PROCESS)
    [learned] = glob.glob(str(base / "first" / "pipeline_root" / "Transform" / "transform_graph" / "*" / VOCAB_ASSET))
    # The exported model's vocabulary is not the one this corpus would give: its last tokens are its own.
    tokens = open(learned).read().splitlines()
    vocab = base / "source_vocab.txt"
    vocab.write_text("".join(f"{t}\n" for t in [*tokens[:-3], "exportedtokena", "exportedtokenb", "exportedtokenc"]))
    source = exported_model(str(vocab), base / "source")
    return {
        "first": first,
        "source": source,
        "source_vocab": str(vocab),
        "again": run_data_steps(base / "again", ["data.groups_per_batch=5"], TWO_WORKERS),
        "dynamic": run_data_steps(
            base / "dynamic",
            [
                "data.seed=7",
                "data.objective=mlm",
                "data.dynamic_masking=true",
                "data.whole_word_masking=true",
                "trainer.later_phases=[]",  # one phase: a Trainer that starts from `init_from`
                "trainer.train_steps=40",
                "trainer.warmup_steps=5",
                "trainer.log_every_steps=20",
                "trainer.eval_steps=2",
                f"data.vocab_file={source['hf']}/vocab.txt",
                f"trainer.init_from={source['hf']}",
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


def test_the_mlm_objective_packs_full_sentences_across_documents(runs):
    batches = list(read_instances(runs["dynamic"]))
    assert all(features.NEXT_SENTENCE_LABELS not in batch for batch in batches)
    ids = np.concatenate([batch[features.INPUT_WORD_IDS] for batch in batches])
    mask = np.concatenate([batch[features.INPUT_MASK] for batch in batches])
    assert len(ids) > 300 and (np.concatenate([b[features.INPUT_TYPE_IDS] for b in batches]) == 0).all()
    separators = (ids == features.SEP_ID).sum(axis=1)
    assert (separators >= 1).all() and (ids[:, 0] == features.CLS_ID).all()
    # A [SEP] inside the text is a document boundary: instances cross them where the next document's first
    # sentence fits (measured: 18 of 13,276 instances; Wikipedia articles are long, and a group holds 8).
    assert (separators >= 2).sum() >= 5
    # Whole sentences up to the length (measured: 73% of the 64 tokens filled on average): one sentence per
    # instance would fill far less.
    assert mask.sum(axis=1).mean() > 0.6 * ids.shape[1]


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


def test_a_run_given_an_exported_vocabulary_and_weights_starts_from_them_exactly(runs, tmp_path):
    """Export -> `data.vocab_file` + `trainer.init_from` -> the Trainer's step-0 checkpoint: the vocabulary byte
    for byte, and every weight of the encoder and of the masked-LM head (the objective has no other) equal to the
    exported ones."""
    import json

    from models.encoder import backbone as backbone_lib
    from models.pretraining.trainer_module import export_encoder_at_checkpoint

    [vocab] = glob.glob(str(runs["dynamic_root"] / "Transform" / "transform_graph" / "*" / VOCAB_ASSET))
    assert open(vocab, "rb").read() == open(runs["source_vocab"], "rb").read()
    [training] = glob.glob(str(runs["dynamic_root"] / "Trainer" / "model_run" / "*" / "training.json"))
    checkpoint_dir = json.loads(open(training).read())["checkpoint_dir"]
    inputs = json.loads(open(f"{checkpoint_dir}/trainer_inputs.json").read())
    assert tf.train.load_checkpoint(f"{checkpoint_dir}/ckpt-0") is not None, "the step-0 checkpoint is kept"
    export_encoder_at_checkpoint(
        f"{checkpoint_dir}/ckpt-0", inputs["custom_config"], inputs["transform_graph"], str(tmp_path / "step0")
    )
    backbone, _, _ = backbone_lib.load_checkpoint(str(tmp_path / "step0"))
    for got, expected in zip(backbone.get_weights(), runs["source"]["backbone"], strict=True):
        np.testing.assert_array_equal(got, expected)
    heads = backbone_lib.load_heads(str(tmp_path / "step0"))
    assert set(heads) == {name for name in runs["source"]["heads"] if name.startswith("masked_lm/")}, (
        "the masked-LM head; the objective has no next-sentence head"
    )
    for name, expected in heads.items():
        np.testing.assert_array_equal(expected, runs["source"]["heads"][name], err_msg=name)
    # ... and it trained on from there.
    final, _, _ = backbone_lib.load_checkpoint(
        backbone_lib.checkpoint_dir(glob.glob(str(runs["dynamic_root"] / "Trainer" / "model" / "*"))[0])
    )
    assert any(not np.array_equal(a, b) for a, b in zip(final.get_weights(), runs["source"]["backbone"], strict=True))
