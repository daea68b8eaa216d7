"""GLUE fine-tuning on tiny shapes: the dataset builder, the step budget, and the whole procedure."""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from configs.glue_tasks import TASKS
from configs.run_config import GlueConfig
from models import backbone as backbone_lib
from models import features, glue_classifier, glue_fine_tuning, run_files, tokenization
from tests.models.glue_records import serialized_example, write_examples
from tests.models.tiny import VOCAB, tiny_backbone, write_vocab

PAIRS = [
    ("the cat sat", "a dog ran", 1),
    ("the dog sat on the mat", "the cats ran far away", 0),
    ("a cat", "the mat", 1),
    ("dogs ran", "cats sat", 0),
    ("the cat sat on a mat", "a dog", 1),
]


def tokenizer_for(tmp_path):
    return tokenization.wordpiece_tokenizer(tokenization.vocab_table(write_vocab(tmp_path / "vocab.txt")), True)


def test_eval_dataset_packs_both_sentences_once_per_example(tmp_path):
    pattern = write_examples(tmp_path / "eval" / "data.gz", PAIRS)
    dataset = glue_classifier.labelled_dataset(pattern, tokenizer_for(tmp_path), TASKS["mrpc"], 12, 2, training=False)
    batches = list(dataset)
    assert [len(labels) for _, labels in batches] == [2, 2, 1]
    inputs, labels = batches[0]
    assert labels.numpy().tolist() == [1, 0]
    ids = [VOCAB.index(t) for t in ("the", "cat", "sat", "a", "dog", "ran")]
    expected = [features.CLS_ID, *ids[:3], features.SEP_ID, *ids[3:], features.SEP_ID]
    assert inputs["token_ids"].numpy()[0].tolist() == expected + [features.PAD_ID] * (12 - len(expected))
    assert inputs["segment_ids"].numpy()[0].tolist() == [0] * 5 + [1] * 4 + [0] * 3
    assert inputs["padding_mask"].numpy()[0].tolist() == [1] * 9 + [0] * 3
    # The second pair is longer than 12 tokens: trimmed round-robin, both sentences keep a share.
    second = inputs["segment_ids"].numpy()[1]
    assert inputs["padding_mask"].numpy()[1].sum() == 12 and 4 <= second.sum() <= 6


def test_single_sentence_tasks_ignore_sentence2(tmp_path):
    pattern = write_examples(tmp_path / "eval" / "data.gz", PAIRS)
    inputs, _ = next(
        iter(glue_classifier.labelled_dataset(pattern, tokenizer_for(tmp_path), TASKS["sst2"], 12, 5, training=False))
    )
    assert (inputs["segment_ids"].numpy() == 0).all()
    assert ((inputs["token_ids"].numpy() == features.SEP_ID).sum(axis=1) == 1).all()


def test_train_dataset_repeats_shuffled_full_batches(tmp_path):
    pattern = write_examples(tmp_path / "train" / "data.gz", PAIRS)
    dataset = glue_classifier.labelled_dataset(pattern, tokenizer_for(tmp_path), TASKS["mrpc"], 16, 2, training=True)
    batches = [inputs["token_ids"].numpy() for inputs, _ in dataset.take(10)]
    assert all(len(batch) == 2 for batch in batches), "the last, partial batch is dropped"
    seen = [tuple(row) for batch in batches for row in batch]
    assert len(set(seen)) == len(PAIRS), "20 draws from 5 examples repeat them all"
    assert seen[: len(PAIRS)] != seen[len(PAIRS) : 2 * len(PAIRS)], "each pass is reshuffled"


def test_step_budget_is_explicit_or_epochs_over_the_train_split():
    assert glue_fine_tuning.train_steps(GlueConfig(train_steps=7), num_train_examples=1000) == 7
    assert glue_fine_tuning.train_steps(GlueConfig(train_steps=None, epochs=3, batch_size=32), 100) == 12


def test_fine_tune_trains_exports_and_writes_metrics(tmp_path):
    checkpoint = str(tmp_path / "checkpoint")
    backbone_lib.save_checkpoint(tiny_backbone(), write_vocab(tmp_path / "vocab.txt"), True, checkpoint)
    paths = glue_fine_tuning.FineTuningPaths(
        checkpoint_dir=checkpoint,
        train_pattern=write_examples(tmp_path / "examples" / "train" / "data.gz", PAIRS * 4),
        eval_pattern=write_examples(tmp_path / "examples" / "eval" / "data.gz", PAIRS),
        serving_dir=str(tmp_path / "model" / "Format-Serving"),
        run_dir=str(tmp_path / "model_run"),
    )
    config = dataclasses.replace(GlueConfig(), max_seq_length=16, batch_size=4, train_steps=None, epochs=2)
    metrics = glue_fine_tuning.fine_tune(TASKS["mrpc"], config, seed=3, paths=paths)

    assert metrics["train_steps"] == 2 * 5  # 20 examples, batches of 4, 2 epochs
    assert json.loads(open(os.path.join(paths.run_dir, run_files.GLUE_METRICS_FILE)).read()) == metrics
    assert 0.0 <= metrics["dev"]["accuracy"] <= 1.0 and metrics["task"] == "mrpc"
    served = tf.saved_model.load(paths.serving_dir)
    out = served.signatures["serving_default"](examples=tf.constant([serialized_example("the cat", "a dog")]))
    np.testing.assert_allclose(out[features.PROBABILITIES].numpy().sum(), 1.0, rtol=1e-5)
