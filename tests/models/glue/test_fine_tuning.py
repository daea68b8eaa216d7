"""GLUE fine-tuning on tiny shapes: the dataset builder, the step budget, and the whole procedure."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from configs import pipeline_contract as contract
from configs.glue_tasks import TASKS
from configs.run_config import GlueConfig
from models import features
from models.encoder import backbone as backbone_lib
from models.encoder import tokenization
from models.glue import classifier as glue_classifier
from models.glue import fine_tuning as glue_fine_tuning
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


def test_fine_tuning_inputs_are_not_autotuned_so_dropping_their_iterators_never_waits(tmp_path):
    """Each fine-tuning run makes and drops several iterators; an autotuned one waits up to a minute for its
    autotuning thread when dropped (`models.training.dataset_options`)."""
    pattern = write_examples(tmp_path / "train" / "data.gz", PAIRS)
    tokenizer = tokenizer_for(tmp_path)
    for training in (True, False):
        dataset = glue_classifier.labelled_dataset(pattern, tokenizer, TASKS["mrpc"], 12, 2, training=training)
        assert dataset.options().autotune.enabled is False
    test_pattern = write_examples(
        tmp_path / "test" / "data.gz", [(a, b, None) for a, b, _ in PAIRS], ids=list(range(5))
    )
    unlabelled = glue_classifier.unlabelled_dataset(test_pattern, tokenizer, TASKS["mrpc"], 12, 2)
    assert unlabelled.options().autotune.enabled is False


def test_step_budget_is_explicit_or_epochs_over_the_train_split():
    assert glue_fine_tuning.train_steps(GlueConfig(train_steps=7), num_train_examples=1000) == 7
    assert glue_fine_tuning.train_steps(GlueConfig(train_steps=None, epochs=3, batch_size=32), 100) == 12


def fine_tuning_paths(tmp_path, train_rows, eval_rows, test_rows=None) -> glue_fine_tuning.FineTuningPaths:
    checkpoint = str(tmp_path / "checkpoint")
    backbone_lib.save_checkpoint(tiny_backbone(), write_vocab(tmp_path / "vocab.txt"), True, checkpoint)
    examples = tmp_path / "examples"
    patterns = {
        "train": write_examples(examples / "train" / "data.gz", train_rows),
        "eval": write_examples(examples / "eval" / "data.gz", eval_rows),
    }
    if test_rows is not None:
        ids = [10 + 3 * i for i in range(len(test_rows))][::-1]  # ids out of file order
        patterns["test"] = write_examples(examples / "test" / "data.gz", test_rows, ids=ids)
    return glue_fine_tuning.FineTuningPaths(
        checkpoint_dir=checkpoint,
        split_patterns=patterns,
        serving_dir=str(tmp_path / "model" / "Format-Serving"),
        model_run_dir=str(tmp_path / "model_run"),
    )


def test_fine_tune_tries_each_seed_keeps_the_best_and_predicts_the_test_split(tmp_path):
    test_rows = [(s1, s2, None) for s1, s2, _ in PAIRS]
    paths = fine_tuning_paths(tmp_path, PAIRS * 4, PAIRS, test_rows)
    config = dataclasses.replace(
        GlueConfig(), max_seq_length=16, batch_size=4, train_steps=None, epochs=2, seeds=[3, 4]
    )
    metrics = glue_fine_tuning.fine_tune(TASKS["mrpc"], config, paths=paths)

    assert metrics["train_steps"] == 2 * 5  # 20 examples, batches of 4, 2 epochs
    assert json.loads(open(os.path.join(paths.model_run_dir, contract.GLUE_METRICS_FILE)).read()) == metrics
    assert [trial["seed"] for trial in metrics["trials"]] == [3, 4]
    scores = [trial["score"] for trial in metrics["trials"]]
    best = metrics["trials"][scores.index(max(scores))]
    assert metrics["best_trial"] == {"learning_rate": config.learning_rates[0], "seed": best["seed"]}
    assert metrics["dev"] == best["dev"]["eval"] and set(metrics["dev"]) == {"f1", "accuracy"}
    f1s = [trial["dev"]["eval"]["f1"] for trial in metrics["trials"]]
    assert metrics["spread"]["eval"]["f1"] == {"median": np.median(f1s), "min": min(f1s), "max": max(f1s)}
    # The dev set has 3 of 5 positive: always "1" scores accuracy 0.6, F1 0.75.
    assert metrics["constant_baseline"]["eval"] == {"f1": pytest.approx(0.75), "accuracy": pytest.approx(0.6)}

    served = tf.saved_model.load(paths.serving_dir)
    examples = tf.constant([serialized_example(s1, s2) for s1, s2, _ in PAIRS])
    probabilities = served.signatures["serving_default"](examples=examples)[features.PROBABILITIES].numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    submission = open(os.path.join(paths.model_run_dir, contract.GLUE_PREDICTIONS_DIR, "MRPC.tsv")).read().splitlines()
    assert metrics["test_predictions"] == {"MRPC.tsv": 5}
    assert submission[0] == "index\tprediction"
    rows = [line.split("\t") for line in submission[1:]]
    assert [int(i) for i, _ in rows] == [10, 13, 16, 19, 22], "sorted by the test file's ids"
    # The exported model's answers are the predictions: the test rows were written in reverse id order.
    assert [p for _, p in rows] == [str(a) for a in probabilities.argmax(axis=1)[::-1]]


def test_stsb_fine_tunes_a_regression_head_and_submits_scores(tmp_path):
    scored = [(s1, s2, float(i)) for i, (s1, s2, _) in enumerate(PAIRS)]
    paths = fine_tuning_paths(tmp_path, scored * 4, scored, [(s1, s2, None) for s1, s2, _ in PAIRS])
    config = dataclasses.replace(GlueConfig(), max_seq_length=16, batch_size=4, train_steps=5)
    metrics = glue_fine_tuning.fine_tune(TASKS["stsb"], config, paths=paths)
    assert set(metrics["dev"]) == {"pearson", "spearman"} and -1 <= metrics["dev"]["pearson"] <= 1
    assert metrics["constant_baseline"]["eval"] == {"pearson": 0.0, "spearman": 0.0}
    served = tf.saved_model.load(paths.serving_dir)
    out = served.signatures["serving_default"](examples=tf.constant([serialized_example("the cat", "a dog")]))
    assert out[features.SCORE].shape == (1,)
    submission = open(os.path.join(paths.model_run_dir, contract.GLUE_PREDICTIONS_DIR, "STS-B.tsv")).read().splitlines()
    assert all(0.0 <= float(line.split("\t")[1]) <= 5.0 for line in submission[1:])


def test_submission_rows_use_label_strings():
    ids, answers = np.array([2, 0, 1]), np.array([0, 2, 1])
    assert glue_fine_tuning.submission_tsv(TASKS["mnli"], ids, answers) == (
        "index\tprediction\n0\tneutral\n1\tentailment\n2\tcontradiction\n"
    )
    assert glue_fine_tuning.submission_tsv(TASKS["stsb"], np.array([0, 1]), np.array([5.7, 2.25])) == (
        "index\tprediction\n0\t5.000\n1\t2.250\n"
    )
