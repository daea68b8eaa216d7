"""RoBERTa's FULL-SENTENCES instances (`data.objective=mlm`): whole sentences packed across the documents of a group."""

import numpy as np
import pytest

from configs.run_config import OBJECTIVES
from models import features
from models.pretraining_data import objectives
from models.pretraining_data.instance_statistics import InstanceStatistics
from tests.models.pretraining_data.test_preprocessing import config_for, run, synthetic_groups

LENGTH = 32  # max_seq_length: 30 tokens of text per instance


def streams(groups):
    """Per group, its sentences as BERT's script never sees them: one stream, a [SEP] closing each document but
    the last; each entry a sentence's tokens (with its separator)."""
    return [
        [
            sentence + ([features.SEP_ID] if s == len(doc) - 1 and d < len(group) - 1 else [])
            for d, doc in enumerate(group)
            for s, sentence in enumerate(doc)
        ]
        for group in groups
    ]


def packed_by_the_recipe(sentences, max_tokens):
    """The instances' text as the module docstring says: whole sentences up to `max_tokens`, a longer sentence cut
    where the instance is full, a separator at an instance's edge dropped."""
    tokens = [t for sentence in sentences for t in sentence]
    ends = np.cumsum([len(sentence) for sentence in sentences])
    instances, position = [], 0
    while position < len(tokens):
        reach = min(position + max_tokens, len(tokens))
        whole = [end for end in ends if position < end <= reach]
        end = whole[-1] if whole else reach
        text = tokens[position:end]
        if text and text[-1] == features.SEP_ID:
            text = text[:-1]
        if text and text[0] == features.SEP_ID:
            text = text[1:]
        if text:
            instances.append(text)
        position = end
    return instances


def texts(out):
    """Each instance's text: the tokens between [CLS] and its closing [SEP], masks undone."""
    found = []
    for ids, mask, positions, targets, weights in zip(
        out[features.INPUT_WORD_IDS],
        out[features.INPUT_MASK],
        out[features.MASKED_LM_POSITIONS],
        out[features.MASKED_LM_IDS],
        out[features.MASKED_LM_WEIGHTS],
        strict=True,
    ):
        ids = ids.copy()
        ids[positions[weights > 0]] = targets[weights > 0]
        real = int(mask.sum())
        assert ids[0] == features.CLS_ID and ids[real - 1] == features.SEP_ID and (ids[real:] == 0).all()
        found.append(ids[1 : real - 1].tolist())
    return found


def group_of(text, docs_per_group=5):
    """Token 100 d + s + 10 is of document d (from 1), documents 1-5 make group 0, 6-10 group 1, ..."""
    first = text[0] if text[0] != features.SEP_ID else text[1]
    return ((first - 10) // 100 - 1) // docs_per_group


def text_by_group(found, num_groups=3):
    """Per group, the tokens of its instances (in the order they came) without separators."""
    return [
        [t for text in found if group_of(text) == g for t in text if t != features.SEP_ID] for g in range(num_groups)
    ]


@pytest.fixture(scope="module")
def groups():
    # Sentences of 3-11 tokens, and one of 70 that no instance holds whole.
    found = synthetic_groups(num_groups=3, docs_per_group=5, seed=4, sentences=(1, 8))
    found[1][2].insert(1, [100 * 8 + 50] * 70)
    return found


def test_instances_are_the_groups_text_in_whole_sentences_across_documents(groups):
    out = run(groups, config_for(objective="mlm", max_seq_length=LENGTH, short_seq_prob=0.0))
    found = texts(out)
    for g, sentences in enumerate(streams(groups)):
        expected = packed_by_the_recipe(sentences, LENGTH - 2)
        assert [t for t in found if group_of(t) == g] == expected, f"group {g}"
    assert sum(features.SEP_ID in t for t in found) >= 5, "instances cross document boundaries"
    assert all(len(t) <= LENGTH - 2 for t in found)
    # Nothing is lost but separators at an edge: every token of every group, once, in order.
    assert text_by_group(found) == [[t for doc in group for sentence in doc for t in sentence] for group in groups]
    stats = InstanceStatistics()
    stats.add(out)
    assert stats.summary()["full_length_share"] < 0.5 < stats.summary()["mean_real_tokens"] / LENGTH


def test_mlm_instances_have_one_segment_masks_and_no_next_sentence_labels(groups):
    out = run(groups, config_for(objective="mlm", max_seq_length=LENGTH, dupe_factor=2))
    assert features.NEXT_SENTENCE_LABELS not in out
    assert (out[features.INPUT_TYPE_IDS] == 0).all()
    weights = out[features.MASKED_LM_WEIGHTS] > 0
    assert (weights.sum(axis=1) >= 1).all()
    masked = np.take_along_axis(out[features.INPUT_WORD_IDS], out[features.MASKED_LM_POSITIONS], axis=1)
    assert not np.isin(out[features.MASKED_LM_IDS][weights], [features.CLS_ID, features.SEP_ID]).any()
    assert (masked[weights] == features.MASK_ID).mean() > 0.6
    # Two copies: the same packing (short targets aside), other masks.
    by_text = {}
    for text, positions in zip(texts(out), out[features.MASKED_LM_POSITIONS].tolist(), strict=True):
        by_text.setdefault(tuple(text), []).append(positions)
    twice = [p for p in by_text.values() if len(p) == 2]
    assert len(twice) > 10 and sum(a != b for a, b in twice) > len(twice) / 2


def test_sentences_without_tokens_and_single_document_groups_lose_nothing():
    groups = [[[[11] * 5, [], [12] * 40]], [[[113] * 3, []], [[214] * 7]]]  # empty sentences; a group of one
    out = run(groups, config_for(objective="mlm", max_seq_length=LENGTH, short_seq_prob=0.0))
    found = texts(out)
    assert found == [[11] * 5, [113] * 3 + [features.SEP_ID] + [214] * 7, [12] * 30, [12] * 10]


def test_short_targets_cut_instances_shorter_by_the_seed(groups):
    full = texts(run(groups, config_for(objective="mlm", max_seq_length=LENGTH, short_seq_prob=0.0)))
    short = texts(run(groups, config_for(objective="mlm", max_seq_length=LENGTH, short_seq_prob=0.5)))
    assert len(short) > len(full)
    assert text_by_group(short) == text_by_group(full), "shorter instances, the same text"


def test_the_config_lists_the_registered_objectives():
    assert objectives.names() == tuple(OBJECTIVES)
    assert objectives.objective("mlm").next_sentence is False and objectives.objective("mlm_nsp").next_sentence
    with pytest.raises(ValueError, match="data.objective='t5'; expected one of mlm_nsp, mlm"):
        objectives.objective("t5")


def test_a_config_refuses_an_unknown_objective():
    with pytest.raises(ValueError, match="data.objective='span' must be one of mlm_nsp, mlm"):
        config_for(objective="span").validate()
