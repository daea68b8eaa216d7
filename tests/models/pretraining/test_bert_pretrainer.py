"""The pre-training task on tiny shapes: metric names, learning, the MLM head's weight tying, accumulation and
keyed dropout."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import features
from models.encoder import backbone as backbone_lib
from models.pretraining import keyed_dropout
from models.pretraining.bert_pretrainer import BertPretrainer
from models.training.optimization import create_optimizer
from tests.models.tiny import MODEL, VOCAB, pretraining_batch, tiny_backbone, write_vocab

METRICS = {
    "loss",
    "lm_example_loss",
    "next_sentence_loss",
    "masked_lm_accuracy",
    "next_sentence_accuracy",
    "perplexity",
}


def compiled_pretrainer(learning_rate=1e-2):
    keras.utils.set_random_seed(0)
    pretrainer = BertPretrainer(tiny_backbone())
    pretrainer.compile(
        optimizer=create_optimizer("adamw", learning_rate, 0, 1000, summed_gradients=True), jit_compile=False
    )
    return pretrainer


@pytest.fixture(scope="module")
def training_on_a_fixed_batch():
    """Metrics of a fresh model's first train and test steps, then of a test step after 30 more steps."""
    pretrainer = compiled_pretrainer()
    batch = pretraining_batch()
    first_train = pretrainer.train_on_batch(batch, return_dict=True)
    first_test = pretrainer.test_on_batch(batch, return_dict=True)
    for _ in range(30):
        pretrainer.train_on_batch(batch)
    last_test = pretrainer.test_on_batch(batch, return_dict=True)
    return pretrainer, first_train, first_test, last_test


def test_train_and_test_steps_report_the_model_garden_metrics(training_on_a_fixed_batch):
    _, trained, evaluated, _ = training_on_a_fixed_batch
    assert set(trained) == METRICS | {"gradient_norm"} and trained["gradient_norm"] > 0
    assert set(evaluated) == METRICS
    for results in (trained, evaluated):
        assert results["loss"] == pytest.approx(results["lm_example_loss"] + results["next_sentence_loss"], rel=1e-5)
        assert results["perplexity"] == pytest.approx(np.exp(results["lm_example_loss"]), rel=1e-5)
    # A fresh model guesses: the MLM loss is near log(vocabulary size), NSP near log(2).
    assert trained["lm_example_loss"] == pytest.approx(np.log(len(VOCAB)), rel=0.3)
    assert trained["next_sentence_loss"] == pytest.approx(np.log(2), rel=0.3)


def test_loss_goes_down_over_a_few_steps_on_a_fixed_batch(training_on_a_fixed_batch):
    pretrainer, _, first, last = training_on_a_fixed_batch
    assert int(pretrainer.optimizer.iterations.numpy()) == 31
    assert last["lm_example_loss"] < 0.5 * first["lm_example_loss"]
    assert last["next_sentence_loss"] < first["next_sentence_loss"]
    assert last["masked_lm_accuracy"] > 0.5


def test_masked_lm_weights_select_which_predictions_count():
    pretrainer = compiled_pretrainer()
    batch = pretraining_batch()
    unweighted = dict(batch, **{features.MASKED_LM_WEIGHTS: np.zeros_like(batch[features.MASKED_LM_WEIGHTS])})
    unweighted[features.MASKED_LM_WEIGHTS][:, 0] = 1.0
    garbled = dict(unweighted, **{features.MASKED_LM_IDS: batch[features.MASKED_LM_IDS].copy()})
    garbled[features.MASKED_LM_IDS][:, 1:] = features.UNK_ID  # only weight-0 slots change
    first = pretrainer.test_on_batch(unweighted, return_dict=True)["lm_example_loss"]
    pretrainer.reset_metrics()
    second = pretrainer.test_on_batch(garbled, return_dict=True)["lm_example_loss"]
    assert first == pytest.approx(second, rel=1e-6)


def test_masked_lm_head_is_tied_to_the_token_embedding():
    # A token that never appears in the inputs: changing its embedding row can then only change the
    # MLM logits through the output projection, which is the embedding matrix itself when tied.
    unused = VOCAB.index("away")
    batch = pretraining_batch(unused_ids=(unused,))
    pretrainer = compiled_pretrainer()
    before = pretrainer(batch)["masked_lm_logits"].numpy()
    embeddings = pretrainer.backbone.token_embedding.embeddings
    rows = embeddings.numpy()
    rows[unused] += np.random.default_rng(0).normal(size=rows.shape[1])  # not constant: LayerNorm would cancel it
    embeddings.assign(rows)
    after = pretrainer(batch)["masked_lm_logits"].numpy()
    others = [i for i in range(len(VOCAB)) if i != unused]
    np.testing.assert_allclose(after[..., others], before[..., others], rtol=1e-5, atol=1e-5)
    assert np.abs(after[..., unused] - before[..., unused]).min() > 1e-3
    vocab_sized = [v for v in pretrainer.trainable_variables if len(VOCAB) in v.shape and len(v.shape) == 2]
    assert len(vocab_sized) == 1, "the vocabulary projection has no weights of its own"


def test_heads_start_from_berts_truncated_normal():
    keras.utils.set_random_seed(0)
    pretrainer = BertPretrainer(tiny_backbone())
    pretrainer(pretraining_batch())  # builds the heads
    kernels = [w.numpy() for w in pretrainer.masked_lm_head.weights if w.path.endswith("kernel")]
    kernels.append(pretrainer.next_sentence_head.kernel.numpy())
    assert len(kernels) == 2, "the MLM head's transform and the NSP head; the vocabulary projection is tied"
    for kernel in kernels:
        assert np.abs(kernel).max() <= 0.04 + 1e-6, "truncated at two standard deviations"
        assert 0.01 < kernel.std() < 0.025


@pytest.mark.parametrize("policy, compute_dtype", [("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")])
def test_mixed_precision_trains_with_float32_variables_and_loss(policy, compute_dtype):
    keras.utils.set_random_seed(0)
    pretrainer = BertPretrainer(backbone_lib.build_backbone(MODEL, len(VOCAB), dtype=policy))
    pretrainer.compile(optimizer=create_optimizer("adamw", 1e-2, 0, 100, summed_gradients=True), jit_compile=False)
    batch = pretraining_batch()
    outputs = pretrainer(batch)
    assert outputs["next_sentence_logits"].dtype == compute_dtype
    assert outputs["masked_lm_logits"].dtype == "float32", "the MLM head adds its bias and softmaxes in float32"
    first = pretrainer.train_on_batch(batch, return_dict=True)
    for _ in range(10):
        last = pretrainer.train_on_batch(batch, return_dict=True)
    assert np.isfinite(last["loss"]) and last["loss"] < first["loss"]
    assert {v.dtype for v in pretrainer.trainable_variables} == {"float32"}
    assert isinstance(pretrainer.optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    assert keras.config.dtype_policy().name == "float32", "the process-wide policy is left alone"


def test_a_mixed_precision_checkpoint_loads_as_float32(tmp_path):
    backbone = backbone_lib.build_backbone(MODEL, len(VOCAB), dtype="mixed_bfloat16")
    backbone(backbone_lib.backbone_inputs(pretraining_batch()))
    directory = str(tmp_path / "checkpoint")
    backbone_lib.save_checkpoint(backbone, write_vocab(tmp_path / "vocab.txt"), True, directory)
    restored, _, _ = backbone_lib.load_checkpoint(directory)
    outputs = restored(backbone_lib.backbone_inputs(pretraining_batch()))
    assert outputs["pooled_output"].dtype == "float32"
    np.testing.assert_array_equal(
        restored.token_embedding.embeddings.numpy(), backbone.token_embedding.embeddings.numpy()
    )


def varying_masks(seed: int) -> dict[str, np.ndarray]:
    """A batch of 8 whose rows have 1 to 4 masked-LM targets (the rest weighted 0)."""
    batch = pretraining_batch(batch_size=8, seed=seed)
    weights = np.zeros_like(batch[features.MASKED_LM_WEIGHTS])
    for row in range(8):
        weights[row, : 1 + (row + seed) % 4] = 1.0
    return {**batch, features.MASKED_LM_WEIGHTS: weights}


def trained(accumulation: int, batches, dropout: float = 0.1, next_sentence: bool = True) -> BertPretrainer:
    """A tiny pretrainer after one AdamW step (clipping at 1.0) per batch, with `accumulation` micro-batches."""
    keras.utils.set_random_seed(0)
    backbone = backbone_lib.build_backbone(dataclasses.replace(MODEL, dropout=dropout), len(VOCAB))
    pretrainer = BertPretrainer(
        backbone, gradient_accumulation_steps=accumulation, dropout_seed=3, next_sentence=next_sentence
    )
    optimizer = create_optimizer("adamw", 1e-3, 1, 10, clip_norm=1.0, summed_gradients=True)
    pretrainer.compile(optimizer=optimizer, jit_compile=False)
    for batch in batches:
        pretrainer.train_on_batch(batch)
    return pretrainer


def max_difference(a, b):
    return max(
        float(np.abs(x.numpy() - y.numpy()).max())
        for x, y in zip(a.trainable_variables, b.trainable_variables, strict=True)
    )


BATCHES = [varying_masks(seed) for seed in (5, 6, 7)]


def test_micro_batches_with_dropout_and_uneven_masks_train_as_the_whole_batch():
    whole, accumulated = trained(1, BATCHES), trained(2, BATCHES)
    assert int(accumulated.optimizer.iterations.numpy()) == int(whole.optimizer.iterations.numpy()) == 3
    assert int(accumulated.batches_seen.numpy()) == 3
    # The same sums in another order: float32 rounding only (see test_exactness.py for the whole matrix).
    assert max_difference(whole, accumulated) < 1e-6
    assert max_difference(whole, trained(1, BATCHES[:1])) > 1e-4, "the steps moved the weights"


def test_the_masked_lm_loss_weighs_each_micro_batch_by_its_targets():
    """A micro-batch with 4 targets per row weighs four times one with 1 per row, as in the whole batch: the loss
    normalised per micro-batch (then averaged) would weigh them equally."""
    batch = varying_masks(0)
    batch[features.MASKED_LM_WEIGHTS][:4] = [1, 0, 0, 0]
    batch[features.MASKED_LM_WEIGHTS][4:] = 1
    whole, accumulated = trained(1, [batch], dropout=0.0), trained(2, [batch], dropout=0.0)
    assert max_difference(whole, accumulated) < 1e-6


def test_dropout_masks_are_a_function_of_the_example_and_the_step():
    pretrainer = trained(1, [], dropout=0.5)
    batch = BATCHES[0]
    with keyed_dropout.example_keys(tf.constant([11] * 8, tf.int64)):
        same = pretrainer.backbone(backbone_lib.backbone_inputs(batch), training=True)["pooled_output"]
        again = pretrainer.backbone(backbone_lib.backbone_inputs(batch), training=True)["pooled_output"]
    with keyed_dropout.example_keys(tf.constant([12] * 8, tf.int64)):
        other = pretrainer.backbone(backbone_lib.backbone_inputs(batch), training=True)["pooled_output"]
    np.testing.assert_array_equal(same.numpy(), again.numpy())
    assert float(tf.reduce_max(tf.abs(same - other))) > 1e-3, "another key, other masks"
    inference = pretrainer.backbone(backbone_lib.backbone_inputs(batch), training=False)["pooled_output"]
    assert float(tf.reduce_max(tf.abs(same - inference))) > 1e-3, "dropout is on in training only"
    dropouts = [layer for layer in pretrainer.backbone._flatten_layers() if isinstance(layer, keras.layers.Dropout)]
    assert dropouts and all(isinstance(layer, keyed_dropout.KeyedDropout) for layer in dropouts)
    assert len({layer.stream for layer in dropouts}) == len(dropouts) == 1 + 3 * MODEL.num_layers


def test_without_the_next_sentence_task_the_loss_is_the_masked_lm_loss_and_accumulation_stays_exact():
    """RoBERTa's objective: no next-sentence head, labels or metrics; the loss is the masked-LM loss of the batch
    (what the same model's masked-LM head scores), and micro-batches with dropout and uneven masks still train as
    the whole batch."""
    batches = [{k: v for k, v in batch.items() if k != features.NEXT_SENTENCE_LABELS} for batch in BATCHES]
    whole = trained(1, batches, next_sentence=False)
    assert "next_sentence_head" not in {layer.name for layer in whole.layers}
    assert not any("next_sentence" in v.path for v in whole.trainable_variables)
    assert max_difference(whole, trained(2, batches, next_sentence=False)) < 1e-6
    results = whole.test_on_batch(batches[0], return_dict=True)
    assert set(results) == {"loss", "lm_example_loss", "masked_lm_accuracy", "perplexity"}
    assert results["loss"] == pytest.approx(results["lm_example_loss"], rel=1e-6)
    logits = whole(batches[0])["masked_lm_logits"]
    weights = batches[0][features.MASKED_LM_WEIGHTS]
    per_token = keras.losses.sparse_categorical_crossentropy(
        batches[0][features.MASKED_LM_IDS], logits, from_logits=True
    ).numpy()
    assert results["lm_example_loss"] == pytest.approx((per_token * weights).sum() / weights.sum(), rel=1e-5)
    with_task = trained(1, BATCHES)
    assert max_difference(with_task, trained(1, BATCHES[:1])) > 1e-4
