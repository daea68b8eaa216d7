"""Pre-training instance construction (the in-graph core of Transform's preprocessing_fn)."""

import numpy as np
import pytest
import tensorflow as tf

from configs.run_config import PretrainingDataConfig
from models import features
from models.preprocessing import build_instances

VOCAB_SIZE = 5000


def synthetic_documents(num_docs=40, seed=0):
    """Every token of sentence s of document d is 100 * d + s + 10, so pairs can be traced back."""
    rng = np.random.default_rng(seed)
    docs = []
    for d in range(1, num_docs + 1):
        docs.append([[100 * d + s + 10] * int(rng.integers(3, 12)) for s in range(int(rng.integers(1, 30)))])
    return tf.ragged.constant(docs, dtype=tf.int64, ragged_rank=2)


def unmasked_segments(out, first_real_id):
    """Per instance: segment A and segment B with masking undone (ids below `first_real_id` dropped), and the label."""
    for ids, types, weights, positions, targets, label in zip(
        out[features.INPUT_WORD_IDS],
        out[features.INPUT_TYPE_IDS],
        out[features.MASKED_LM_WEIGHTS],
        out[features.MASKED_LM_POSITIONS],
        out[features.MASKED_LM_IDS],
        out[features.NEXT_SENTENCE_LABELS],
        strict=True,
    ):
        ids = ids.copy()
        ids[positions[weights > 0]] = targets[weights > 0]
        real = ids >= first_real_id  # special tokens and padding are below every synthetic id
        yield ids[real & (types == 0)], ids[real & (types == 1)], label


@pytest.fixture(scope="module")
def instances():
    tf.random.set_seed(1)
    config = PretrainingDataConfig(
        max_seq_length=32, max_predictions_per_seq=5, short_seq_prob=0.0, vocab_size=VOCAB_SIZE
    )
    outputs = build_instances(synthetic_documents(), VOCAB_SIZE, config)
    return config, {name: value.numpy() for name, value in outputs.items()}


def test_contract_features_and_shapes(instances):
    config, out = instances
    assert set(out) == set(features.PRETRAINING_FEATURES)
    n = len(out[features.NEXT_SENTENCE_LABELS])
    assert n > 100
    for name in features.SEQUENCE_FEATURES:
        assert out[name].shape == (n, config.max_seq_length)
    for name in features.PREDICTION_FEATURES:
        assert out[name].shape == (n, config.max_predictions_per_seq)


def test_pretraining_task_consumes_the_instances_as_they_are(instances):
    # Producer and consumer of the contract meet: Transform's instances go straight into the task.
    from models import backbone as backbone_lib
    from models.bert_pretrainer import BertPretrainer
    from tests.models.tiny import MODEL

    config, out = instances
    for name, value in out.items():
        assert value.dtype == (np.float32 if name == features.MASKED_LM_WEIGHTS else np.int64), name
    batch = {name: value[:4] for name, value in out.items()}
    pretrainer = BertPretrainer(backbone_lib.build_backbone(MODEL, VOCAB_SIZE))
    pretrainer.compile(optimizer="adam", jit_compile=False)
    results = pretrainer.test_on_batch(batch, return_dict=True)
    assert np.log(VOCAB_SIZE) / 2 < results["lm_example_loss"] < 2 * np.log(VOCAB_SIZE)


def test_layout_is_cls_a_sep_b_sep(instances):
    _, out = instances
    for ids, types, mask in zip(
        out[features.INPUT_WORD_IDS], out[features.INPUT_TYPE_IDS], out[features.INPUT_MASK], strict=True
    ):
        length = int(mask.sum())
        assert mask[:length].all() and not mask[length:].any()
        assert ids[0] == features.CLS_ID and ids[length - 1] == features.SEP_ID
        seps = np.flatnonzero(ids[:length] == features.SEP_ID)
        assert len(seps) == 2
        assert (types[: seps[0] + 1] == 0).all() and (types[seps[0] + 1 : length] == 1).all()
        assert (ids[length:] == features.PAD_ID).all()


def test_about_15_percent_of_real_tokens_are_predicted(instances):
    config, out = instances
    real = out[features.INPUT_MASK].sum(axis=1) - 3  # [CLS] and two [SEP] are never selected
    selected = out[features.MASKED_LM_WEIGHTS].sum(axis=1)
    expected = np.minimum(np.ceil(real * config.masked_lm_prob), config.max_predictions_per_seq)
    np.testing.assert_array_equal(selected, expected)
    rows, slots = np.nonzero(out[features.MASKED_LM_WEIGHTS])
    positions = out[features.MASKED_LM_POSITIONS][rows, slots]
    original = out[features.MASKED_LM_IDS][rows, slots]
    assert (original >= 110).all(), "targets are real tokens, never special ones"
    shown = out[features.INPUT_WORD_IDS][rows, positions]
    assert 0.7 < np.mean(shown == features.MASK_ID) < 0.9
    assert 0.03 < np.mean(shown == original) < 0.2


def test_next_sentence_pairs_are_true_continuations_or_other_documents(instances):
    _, out = instances
    labels = out[features.NEXT_SENTENCE_LABELS]
    assert 0.4 < labels.mean() < 0.65
    for a, b, label in unmasked_segments(out, first_real_id=110):
        if label == features.IS_NEXT:
            assert a[-1] // 100 == b[0] // 100, "same document"
            assert b[0] in (a[-1], a[-1] + 1), "B goes on in A's last sentence or starts the next one"
        else:
            assert a[-1] // 100 != b[0] // 100, "random B comes from another document"


def test_single_document_batch_without_partner_keeps_only_true_pairs():
    config = PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, short_seq_prob=0.0)
    docs = tf.ragged.constant([[[11] * 5, [12] * 5, [13] * 5]], dtype=tf.int64, ragged_rank=2)
    out = build_instances(docs, 100, config)
    assert (out[features.NEXT_SENTENCE_LABELS].numpy() == features.IS_NEXT).all()


def test_empty_batch_gives_empty_outputs():
    config = PretrainingDataConfig(max_seq_length=16, max_predictions_per_seq=3)
    docs = tf.ragged.constant([[[1]]], dtype=tf.int64, ragged_rank=2)[:0]
    out = build_instances(docs, 100, config)
    assert out[features.INPUT_WORD_IDS].shape == (0, 16)


def test_dupe_factor_multiplies_instances_with_fresh_masks():
    tf.random.set_seed(3)
    docs = synthetic_documents(num_docs=10, seed=5)
    once = build_instances(
        docs, VOCAB_SIZE, PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, short_seq_prob=0.0)
    )
    thrice = build_instances(
        docs,
        VOCAB_SIZE,
        PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, short_seq_prob=0.0, dupe_factor=3),
    )
    n = once[features.NEXT_SENTENCE_LABELS].shape[0]
    assert 2.5 * n < thrice[features.NEXT_SENTENCE_LABELS].shape[0] <= 3 * n


def test_random_next_share_holds_when_one_long_document_dominates_the_batch():
    # Partners are drawn from the other documents' chunks, not from the whole batch, so a long
    # article does not mostly pick itself (and fall back to a true continuation).
    tf.random.set_seed(7)
    long_doc = [[1000 + s] * 8 for s in range(400)]
    short_docs = [[[2000 + 100 * d + s] * 8 for s in range(4)] for d in range(3)]
    docs = tf.ragged.constant([long_doc, *short_docs], dtype=tf.int64, ragged_rank=2)
    config = PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, short_seq_prob=0.0)
    labels = build_instances(docs, VOCAB_SIZE, config)[features.NEXT_SENTENCE_LABELS].numpy()
    assert len(labels) > 100
    assert 0.42 < labels.mean() < 0.6


def test_one_sentence_chunks_are_split_inside_the_sentence():
    tf.random.set_seed(11)
    docs = tf.ragged.constant(
        [[list(range(1000 * d, 1000 * d + 20))] for d in range(1, 201)], dtype=tf.int64, ragged_rank=2
    )
    config = PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, short_seq_prob=0.0)
    out = {k: v.numpy() for k, v in build_instances(docs, VOCAB_SIZE, config).items()}
    labels = out[features.NEXT_SENTENCE_LABELS]
    assert len(labels) == 200
    assert 0.38 < labels.mean() < 0.62
    for a, b, label in unmasked_segments(out, first_real_id=1000):
        if label == features.IS_NEXT:
            np.testing.assert_array_equal(np.concatenate([a, b]), np.arange(a[0], a[0] + 20))


def test_batch_of_one_document_draws_random_next_from_far_in_the_same_document():
    # TFT may batch a single document; random B then comes from a non-adjacent chunk of it.
    tf.random.set_seed(5)
    docs = tf.ragged.constant([[[1000 + s] * 8 for s in range(400)]], dtype=tf.int64, ragged_rank=2)
    config = PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, short_seq_prob=0.0)
    out = {k: v.numpy() for k, v in build_instances(docs, VOCAB_SIZE, config).items()}
    assert 0.4 < out[features.NEXT_SENTENCE_LABELS].mean() < 0.6
    for a, b, label in unmasked_segments(out, first_real_id=1000):
        if label == features.IS_NEXT:
            assert b[0] in (a[-1], a[-1] + 1)
        else:
            assert b[0] not in (a[-1], a[-1] + 1), "a random B is not the continuation"
            assert not (a[0] <= b[0] <= a[-1]), "nor A's own chunk"
