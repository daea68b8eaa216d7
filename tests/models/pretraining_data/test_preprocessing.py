"""Pre-training instance construction (the in-graph core of Transform's preprocessing_fn)."""

import numpy as np
import pytest
import tensorflow as tf

from configs.run_config import PretrainingDataConfig
from models import features
from models.pretraining_data import keyed_random, masking
from models.pretraining_data.instance_statistics import InstanceStatistics
from models.pretraining_data.preprocessing import Documents, build_instances

VOCAB_SIZE = 5000


def synthetic_groups(num_groups=4, docs_per_group=10, seed=0, sentences=(1, 30)):
    """Every token of sentence s of document d is 100 * d + s + 10, so pairs can be traced back."""
    rng = np.random.default_rng(seed)
    groups, d = [], 0
    for _ in range(num_groups):
        group = []
        for _ in range(docs_per_group):
            d += 1
            count = int(rng.integers(*sentences))
            group.append([[100 * d + s + 10] * int(rng.integers(3, 12)) for s in range(count)])
        groups.append(group)
    return groups


def documents_of(groups, seed=12345, first_group=0):
    """`Documents` for groups of documents (lists of sentences of token ids); ids name the first token."""
    docs = [doc for group in groups for doc in group]
    sentences = [sentence for doc in docs for sentence in doc]
    return Documents(
        sentence_ids=tf.ragged.constant(sentences, dtype=tf.int64, ragged_rank=1)
        if sentences
        else tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.int64), tf.zeros([0], tf.int64)),
        sentence_counts=tf.constant([len(doc) for doc in docs], tf.int64),
        group=tf.constant([first_group + g for g, group in enumerate(groups) for _ in group], tf.int64),
        keys=keyed_random.string_key(seed, tf.constant([f"doc-{doc[0][0]}" for doc in docs] or [""])[: len(docs)]),
    )


def config_for(**overrides):
    values = dict(max_seq_length=32, max_predictions_per_seq=5, short_seq_prob=0.0, vocab_size=VOCAB_SIZE)
    values.update(overrides)
    return PretrainingDataConfig(**values)


def run(groups, config, seed=12345, continuation=None):
    out = build_instances(documents_of(groups, seed), VOCAB_SIZE, config, continuation)
    return {name: value.numpy() for name, value in out.items()}


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


def rows(out):
    """The instances as a sorted list of byte strings: equal multisets compare equal."""
    names = sorted(out)
    return sorted(
        b"".join(np.ascontiguousarray(out[name][i]).tobytes() for name in names) for i in range(len(out[names[0]]))
    )


@pytest.fixture(scope="module")
def instances():
    config = config_for()
    return config, run(synthetic_groups(), config)


def test_contract_features_and_shapes(instances):
    config, out = instances
    assert set(out) == set(features.INSTANCE_FEATURES)
    n = len(out[features.NEXT_SENTENCE_LABELS])
    assert n > 100
    for name in features.SEQUENCE_FEATURES:
        assert out[name].shape == (n, config.max_seq_length)
    for name in features.PREDICTION_FEATURES:
        assert out[name].shape == (n, config.max_predictions_per_seq)


def test_pretraining_task_consumes_the_instances_as_they_are(instances):
    # Producer and consumer of the contract meet: Transform's instances go straight into the task.
    from models.encoder import backbone as backbone_lib
    from models.pretraining.bert_pretrainer import BertPretrainer
    from models.training.optimization import create_optimizer
    from tests.models.tiny import MODEL

    config, out = instances
    for name, value in out.items():
        assert value.dtype == (np.float32 if name == features.MASKED_LM_WEIGHTS else np.int64), name
    batch = {name: value[:4] for name, value in out.items()}
    pretrainer = BertPretrainer(backbone_lib.build_backbone(MODEL, VOCAB_SIZE))
    pretrainer.compile(optimizer=create_optimizer("adamw", 1e-3, 0, 10, summed_gradients=True), jit_compile=False)
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


def test_masked_lm_budget_and_80_10_10(instances):
    config, out = instances
    eligible = out[features.INPUT_MASK].sum(axis=1) - 3  # [CLS] and two [SEP] are never selected
    selected = out[features.MASKED_LM_WEIGHTS].sum(axis=1)
    expected = np.minimum(np.maximum(np.round(eligible * config.masked_lm_prob), 1), config.max_predictions_per_seq)
    np.testing.assert_array_equal(selected, expected)
    rows_, slots = np.nonzero(out[features.MASKED_LM_WEIGHTS])
    positions = out[features.MASKED_LM_POSITIONS][rows_, slots]
    original = out[features.MASKED_LM_IDS][rows_, slots]
    assert (original >= 110).all(), "targets are real tokens, never special ones"
    assert (np.diff(out[features.MASKED_LM_POSITIONS], axis=1)[out[features.MASKED_LM_WEIGHTS][:, 1:] > 0] > 0).all()
    shown = out[features.INPUT_WORD_IDS][rows_, positions]
    assert 0.75 < np.mean(shown == features.MASK_ID) < 0.85
    assert 0.06 < np.mean(shown == original) < 0.14
    replaced = shown[(shown != features.MASK_ID) & (shown != original)]
    assert 0.06 < len(replaced) / len(shown) < 0.14
    assert (replaced >= len(features.SPECIAL_TOKENS)).all() and (replaced < VOCAB_SIZE).all()


def test_unknown_tokens_are_never_targets():
    groups = [[[[features.UNK_ID] * 6, [111] * 6, [features.UNK_ID] * 6, [112] * 6] for _ in range(8)]]
    out = run(groups, config_for(dupe_factor=4))
    targets = out[features.MASKED_LM_IDS][out[features.MASKED_LM_WEIGHTS] > 0]
    assert len(targets) > 50 and features.UNK_ID not in targets
    # Each instance counts its [UNK] tokens, for the share the run summary and the report give.
    unknown = (out[features.INPUT_WORD_IDS] == features.UNK_ID) & (out[features.INPUT_MASK] == 1)
    np.testing.assert_array_equal(out[features.UNKNOWN_TOKENS], unknown.sum(axis=1))
    assert out[features.UNKNOWN_TOKENS].sum() > 100


def test_next_sentence_pairs_are_true_continuations_or_other_documents_of_the_group():
    groups = synthetic_groups(num_groups=3, docs_per_group=6, seed=2)
    group_of = {d // 100: g for g, group in enumerate(groups) for doc in group for d in [doc[0][0]]}
    out = run(groups, config_for(dupe_factor=3))
    labels = out[features.NEXT_SENTENCE_LABELS]
    assert 0.45 < labels.mean() < 0.55
    for a, b, label in unmasked_segments(out, first_real_id=110):
        if label == features.IS_NEXT:
            assert a[-1] // 100 == b[0] // 100, "same document"
            assert b[0] in (a[-1], a[-1] + 1), "B goes on in A's last sentence or starts the next one"
        else:
            assert a[-1] // 100 != b[0] // 100, "random B comes from another document, never a copy of A's own"
            assert group_of[a[-1] // 100] == group_of[b[0] // 100], "from the same group"


def test_packing_fills_instances_as_the_original_does():
    # Documents of 40-80 sentences of 3-11 tokens, seq 32 (29 tokens for A and B): greedy packing reaches
    # the target in every chunk but a document's last, and a random B is filled to what A leaves.
    groups = synthetic_groups(num_groups=2, docs_per_group=20, seed=4, sentences=(40, 80))
    stats = InstanceStatistics()
    stats.add(run(groups, config_for(dupe_factor=2)))
    assert stats.summary()["full_length_share"] > 0.85
    shorter = InstanceStatistics()
    shorter.add(run(groups, config_for(dupe_factor=2, short_seq_prob=0.5)))
    assert shorter.summary()["mean_real_tokens"] < stats.summary()["mean_real_tokens"] - 2


def test_a_group_of_one_document_keeps_only_true_pairs():
    out = run([[[[11] * 5, [12] * 5, [13] * 5, [14] * 5]]], config_for(dupe_factor=3))
    assert len(out[features.NEXT_SENTENCE_LABELS]) >= 3
    assert (out[features.NEXT_SENTENCE_LABELS] == features.IS_NEXT).all()


@pytest.mark.parametrize("objective", ["mlm_nsp", "mlm"])
def test_empty_batch_gives_empty_outputs(objective):
    out = run([], config_for(max_seq_length=16, max_predictions_per_seq=3, objective=objective))
    assert out[features.INPUT_WORD_IDS].shape == (0, 16)
    assert out[features.MASKED_LM_POSITIONS].shape == (0, 3)


def test_dupe_factor_multiplies_instances_with_different_packing_and_masks():
    groups = synthetic_groups(num_groups=1, docs_per_group=10, seed=5)
    once = run(groups, config_for())
    thrice = run(groups, config_for(dupe_factor=3))
    n = len(once[features.NEXT_SENTENCE_LABELS])
    assert 2.5 * n < len(thrice[features.NEXT_SENTENCE_LABELS]) < 3.5 * n
    assert len(set(rows(thrice))) == len(rows(thrice)), "no two copies make the same instance"


def test_one_sentence_chunks_are_split_inside_the_sentence():
    groups = [[[list(range(1000 * d, 1000 * d + 20))] for d in range(1, 201)]]
    out = run(groups, config_for())
    labels = out[features.NEXT_SENTENCE_LABELS]
    assert len(labels) == 200
    assert 0.38 < labels.mean() < 0.62
    for a, b, label in unmasked_segments(out, first_real_id=1000):
        if label == features.IS_NEXT:
            np.testing.assert_array_equal(np.concatenate([a, b]), np.arange(a[0], a[0] + 20))


def test_instances_depend_on_seed_and_documents_not_on_batching():
    groups = synthetic_groups(num_groups=4, docs_per_group=5, seed=7)
    config = config_for(dupe_factor=2)
    together = run(groups, config)
    apart = [
        {k: v.numpy() for k, v in build_instances(documents_of([g], first_group=i), VOCAB_SIZE, config).items()}
        for i, g in enumerate(groups)
    ]
    merged = {name: np.concatenate([part[name] for part in apart]) for name in together}
    assert rows(together) == rows(merged)
    assert rows(run(groups, config)) == rows(together), "same seed, same instances"
    assert rows(run(groups, config, seed=99)) != rows(together), "another seed, other instances"


@pytest.fixture()
def continuation(tmp_path):
    """A vocabulary whose odd ids from 11 on are `##` pieces."""
    tokens = list(features.SPECIAL_TOKENS) + [
        f"##p{i}" if i % 2 and i > 10 else f"w{i}" for i in range(len(features.SPECIAL_TOKENS), VOCAB_SIZE)
    ]
    path = tmp_path / "vocab.txt"
    path.write_text("".join(t + "\n" for t in tokens))
    return masking.continuation_table(str(path))


def word_piece_documents(num_docs=12, seed=3):
    """Sentences of words of 1-4 pieces: an even id, then odd (`##`) ids."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(num_docs):
        sentences = []
        for _ in range(int(rng.integers(4, 10))):
            sentence = []
            for _ in range(int(rng.integers(2, 6))):
                pieces = int(rng.integers(0, 4))
                sentence += [int(rng.integers(6, 2000)) * 2] + [int(rng.integers(6, 2000)) * 2 + 1] * pieces
            sentences.append(sentence)
        docs.append(sentences)
    return docs


def selections_by_word(out):
    """Per instance, the selection flags of each word ([start, pieces...]) with the targets put back."""
    for ids, weights, positions, targets, mask in zip(
        out[features.INPUT_WORD_IDS],
        out[features.MASKED_LM_WEIGHTS],
        out[features.MASKED_LM_POSITIONS],
        out[features.MASKED_LM_IDS],
        out[features.INPUT_MASK],
        strict=True,
    ):
        restored, selected = ids.copy(), np.zeros(len(ids), bool)
        restored[positions[weights > 0]] = targets[weights > 0]
        selected[positions[weights > 0]] = True
        words = []
        for i in range(1, int(mask.sum())):
            if restored[i] in (features.CLS_ID, features.SEP_ID):
                continue
            is_piece = restored[i] % 2 == 1
            if is_piece and words and restored[i - 1] not in (features.CLS_ID, features.SEP_ID):
                words[-1].append(selected[i])
            else:
                words.append([selected[i]])
        yield words


def test_whole_word_masking_takes_words_whole(continuation):
    out = run([word_piece_documents()], config_for(whole_word_masking=True, dupe_factor=3), continuation=continuation)
    multi_piece_selected = 0
    for words in selections_by_word(out):
        for flags in words:
            assert all(flags) or not any(flags), "a word is masked whole or not at all"
            multi_piece_selected += len(flags) > 1 and all(flags)
    assert multi_piece_selected > 20
    stats = InstanceStatistics()
    stats.add(out)
    # A word that does not fit is skipped and later ones are tried, so the budget is nearly always filled:
    # 13.8% here against 14.1% without whole words (stopping at the first word that does not fit: 10.4%).
    assert 0.125 < stats.summary()["selected_share"] <= 0.16


def instances_of_long_and_short_words(count=300, length=48, seed=5):
    """[CLS] words [SEP] [PAD]...: words of 1-7 pieces (even start id, odd `##` ids), some [UNK]s between."""
    rng = np.random.default_rng(seed)
    ids = np.zeros([count, length], np.int64)
    continuation = np.zeros([count, length], bool)
    for row in range(count):
        tokens, pieces = [features.CLS_ID], [False]
        while len(tokens) < int(rng.integers(20, length)):
            if rng.random() < 0.05:
                tokens.append(features.UNK_ID)
                pieces.append(False)
            size = int(rng.choice([1, 1, 2, 3, 5, 7]))
            tokens += [int(rng.integers(6, 2000)) * 2] + [int(rng.integers(6, 2000)) * 2 + 1] * (size - 1)
            pieces += [False] + [True] * (size - 1)
        tokens, pieces = tokens[: length - 1] + [features.SEP_ID], pieces[: length - 1] + [False]
        ids[row, : len(tokens)], continuation[row, : len(tokens)] = tokens, pieces
    return ids, continuation


def words_in_keyed_order(ids, continuation, key, budget_settings):
    """One instance's words as BERT's script visits them: (visit order, positions), and the budget."""
    eligible = (ids > 0) & ~np.isin(ids, [features.CLS_ID, features.SEP_ID, features.UNK_ID])
    words = {}
    word = 0
    for position in range(len(ids)):
        word += not (continuation[position] and eligible[position])
        if eligible[position]:
            words.setdefault(word, []).append(position)
    scores = keyed_random.uniform(tf.constant([[key]], tf.int64), keyed_random.MASK_ORDER, tf.constant([list(words)]))
    order = sorted(zip(scores.numpy()[0], words.values(), strict=True), key=lambda pair: pair[0])
    prob, most = budget_settings
    budget = min(max(int(np.round(np.float32(eligible.sum()) * np.float32(prob))), 1), most)
    return [positions for _, positions in order], budget


def test_whole_word_masking_skips_a_word_that_does_not_fit_and_tries_the_next():
    # BERT's create_pretraining_data.py visits the words in a random order and skips one that would overrun
    # the budget; stopping at that word instead under-fills the budget, or chooses nothing when it comes first.
    ids, is_continuation = instances_of_long_and_short_words()
    settings = masking.MaskingSettings(
        masked_lm_prob=0.15,
        max_predictions_per_seq=5,
        mask_token_rate=0.8,
        random_token_rate=0.1,
        whole_word_masking=True,
    )
    keys = np.arange(len(ids), dtype=np.int64) * 7919 + 3
    out = masking.mask_instances(
        tf.constant(ids),
        tf.constant((ids > 0).astype(np.int64)),
        tf.constant(keys),
        VOCAB_SIZE,
        settings,
        tf.constant(is_continuation),
    )
    chosen = {name: value.numpy() for name, value in out.items()}
    stopping_differs = 0
    for row in range(len(ids)):
        words, budget = words_in_keyed_order(ids[row], is_continuation[row], keys[row], (0.15, 5))
        skipping, stopping, count = [], [], 0
        for positions in words:
            if count + len(positions) <= budget:
                skipping += positions
                count += len(positions)
            elif not stopping:
                stopping = sorted(skipping)
        stopping = stopping or sorted(skipping)
        weights = chosen[features.MASKED_LM_WEIGHTS][row] > 0
        got = chosen[features.MASKED_LM_POSITIONS][row][weights].tolist()
        assert got == sorted(skipping), f"row {row}: budget {budget}, words {words}"
        np.testing.assert_array_equal(chosen[features.MASKED_LM_IDS][row][weights], ids[row][got])
        stopping_differs += stopping != sorted(skipping)
    assert stopping_differs > 50  # the data has long words drawn early, so the test tells the two rules apart


def test_token_masking_splits_words(continuation):
    # The same data without whole-word masking selects single pieces of words: the test above can fail.
    out = run([word_piece_documents()], config_for(dupe_factor=3), continuation=continuation)
    split = sum(any(flags) and not all(flags) for words in selections_by_word(out) for flags in words)
    assert split > 20


def test_dynamic_masking_writes_unmasked_instances_and_masks_anew_each_read(continuation):
    groups = synthetic_groups(num_groups=2, docs_per_group=6, seed=8)
    config = config_for(dynamic_masking=True)
    out = run(groups, config)
    assert set(out) == {*features.SEQUENCE_FEATURES, features.NEXT_SENTENCE_LABELS, features.UNKNOWN_TOKENS}
    assert not (out[features.INPUT_WORD_IDS] == features.MASK_ID).any()

    batch = {name: value[:16] for name, value in out.items()}
    settings = masking.MaskingSettings.from_config(config)
    dataset = tf.data.Dataset.from_tensors(batch).repeat(3)
    epochs = [
        {k: v.numpy() for k, v in b.items()}
        for b in masking.with_dynamic_masks(dataset, "unused", VOCAB_SIZE, settings, seed=1)
    ]
    assert len(epochs) == 3
    assert not np.array_equal(epochs[0][features.MASKED_LM_POSITIONS], epochs[1][features.MASKED_LM_POSITIONS])
    for masked in epochs:
        np.testing.assert_array_equal(masked[features.INPUT_TYPE_IDS], batch[features.INPUT_TYPE_IDS])
        weights = masked[features.MASKED_LM_WEIGHTS] > 0
        assert weights.sum() > 16
        rows_ = np.nonzero(weights)[0]
        originals = batch[features.INPUT_WORD_IDS][rows_, masked[features.MASKED_LM_POSITIONS][weights]]
        np.testing.assert_array_equal(masked[features.MASKED_LM_IDS][weights], originals)
    again = [
        b[features.MASKED_LM_POSITIONS].numpy()
        for b in masking.with_dynamic_masks(dataset, "unused", VOCAB_SIZE, settings, seed=1)
    ]
    np.testing.assert_array_equal(again[2], epochs[2][features.MASKED_LM_POSITIONS]), "same seed, same masks"


def test_transform_tokenizes_exactly_as_the_serving_tokenizer(tmp_path):
    # Transform splits words once (for the vocabulary and the ids); the exported encoder and GLUE use
    # BertTokenizer. Both must give the same ids, [UNK] and accents included.
    from models.encoder import tokenization

    vocab = [*features.SPECIAL_TOKENS, "the", "cat", "sat", "##s", "on", "mat", "un", "##believ", "##able", ".", ","]
    path = tmp_path / "vocab.txt"
    path.write_text("".join(t + "\n" for t in vocab))
    text = tf.constant(["The cats sat on the mat.", "Unbelievable, the café!", "", "  spaces\tand\nlines  "])
    table = tokenization.vocab_table(str(path))
    serving = tokenization.tokenize(tokenization.wordpiece_tokenizer(table, lower_case=True), text)
    words = tokenization.basic_tokenizer(lower_case=True).tokenize(text)
    transform = tokenization.word_pieces(table).tokenize(words).merge_dims(-2, -1)
    assert serving.to_list() == transform.to_list()
    assert serving.to_list()[0] == [5, 6, 8, 7, 9, 5, 10, 14]
