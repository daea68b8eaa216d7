"""The pre-training task on tiny shapes: metric names, learning, and the MLM head's weight tying."""

import keras
import numpy as np
import pytest

from models import features
from models.bert_pretrainer import BertPretrainer
from models.optimization import create_optimizer
from tests.models.tiny import VOCAB, pretraining_batch, tiny_backbone

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
        optimizer=create_optimizer("adamw", learning_rate, warmup_steps=0, total_steps=1000), jit_compile=False
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
    for results in (trained, evaluated):
        assert set(results) == METRICS
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
