"""BERT's instances (objective "mlm_nsp"): pairs of segments for masked LM and next-sentence prediction.

As the original `create_pretraining_data.py` builds them, per document copy (`data.dupe_factor`):
1. sentences are added to a chunk until it holds a target length (`max_seq_length - 3`, or with `short_seq_prob`
   a random shorter one);
2. the chunk is split at a random sentence boundary (inside the sentence for a one-sentence chunk) into segments
   A and B; with `next_sentence_random_prob` B is instead text from another document of the same group, from a
   random sentence on, and the sentences after A go back to start the next chunk (next_sentence_labels = 1);
3. the pair is trimmed to `max_seq_length - 3` tokens, the longer segment first (A loses its start, B its end, so
   the A|B boundary is kept), and laid out as [CLS] A [SEP] B [SEP].
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from configs.run_config import PretrainingDataConfig
from models import features
from models.pretraining_data import keyed_random
from models.pretraining_data.documents import Documents, copies, unknown_tokens


@tf.autograph.experimental.do_not_convert  # plain TF ops, no Python control flow on tensors: tracing is faster
def build_instances(documents: Documents, config: PretrainingDataConfig) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """Tokenized documents -> unmasked instances [instances, ...] (see the module docstring), and one random key per
    instance for its masks."""
    sentence_start = documents.sentence_ids.row_starts()
    sentence_end = documents.sentence_ids.row_limits()
    first_sentence = tf.cumsum(documents.sentence_counts, exclusive=True)
    last_sentence = first_sentence + documents.sentence_counts  # exclusive

    copy_doc, copy_key = copies(documents.keys, config.dupe_factor)
    group_start, group_size = _group_sizes(documents.group)
    chunks = _pack_chunks(
        tf.gather(first_sentence, copy_doc),
        tf.gather(last_sentence, copy_doc),
        copy_key,
        tf.gather(group_size, copy_doc) > 1,
        sentence_start,
        sentence_end,
        config,
    )
    key = keyed_random.combine(tf.gather(copy_key, chunks.copy), chunks.step)
    partner = _partner(tf.gather(copy_doc, chunks.copy), group_start, group_size, key)
    segments = _segments(documents, chunks, key, partner, first_sentence, last_sentence)
    return _trimmed_instances(documents.sentence_ids.flat_values, segments, key, chunks.is_random, config)


class _Segments(NamedTuple):
    """Token ranges [start, end) of each chunk's segments A and B, in the flat token array."""

    a_start: tf.Tensor
    a_end: tf.Tensor
    b_start: tf.Tensor
    b_end: tf.Tensor


def _segments(
    documents: Documents,
    chunks: _Chunks,
    key: tf.Tensor,
    partner: tf.Tensor,
    first_sentence: tf.Tensor,
    last_sentence: tf.Tensor,
) -> _Segments:
    """Each chunk's segment A, and its B: the true continuation, or sentences of its `partner` document."""
    sentence_start = documents.sentence_ids.row_starts()
    sentence_end = documents.sentence_ids.row_limits()
    # Segment A: the sentences before the split, or the start of a one-sentence chunk.
    single = chunks.split == chunks.end
    chunk_start = tf.gather(sentence_start, chunks.start)
    single_length = tf.gather(sentence_end, chunks.start) - chunk_start
    inside = 1 + keyed_random.below(key, keyed_random.SPLIT, single_length - 1)
    a_end = tf.where(
        single,
        tf.where(chunks.is_random, chunk_start + single_length, chunk_start + inside),
        tf.gather(sentence_start, tf.minimum(chunks.split, tf.size(sentence_start, out_type=tf.int64) - 1)),
    )
    a_start = chunk_start
    # Segment B: the true continuation ...
    b_start = a_end
    b_end = tf.gather(sentence_end, chunks.end - 1)
    # ... or another document of the group, from a random sentence on.
    partner_sentence = tf.gather(first_sentence, partner) + keyed_random.below(
        key, keyed_random.PARTNER_START, tf.gather(documents.sentence_counts, partner)
    )
    # As in the original, B takes whole sentences until it reaches what the chunk's target leaves for it.
    partner_from = tf.gather(sentence_start, partner_sentence)
    wanted = tf.maximum(chunks.target - (a_end - a_start), 1)
    partner_reach = tf.searchsorted(sentence_end, partner_from + wanted, side="left", out_type=tf.int64)
    partner_end = tf.gather(sentence_end, tf.minimum(partner_reach, tf.gather(last_sentence, partner) - 1))
    b_start = tf.where(chunks.is_random, partner_from, b_start)
    b_end = tf.where(chunks.is_random, partner_end, b_end)
    return _Segments(a_start, a_end, b_start, b_end)


def _trimmed_instances(
    tokens: tf.Tensor, segments: _Segments, key: tf.Tensor, is_random: tf.Tensor, config: PretrainingDataConfig
) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """The unmasked features of the chunks whose segments both keep a token after trimming, and their keys.

    Trims the longer segment first: A keeps its end, B its start.
    """
    max_tokens = config.max_seq_length - 3
    a_length = segments.a_end - segments.a_start
    b_length = tf.maximum(segments.b_end - segments.b_start, 0)
    a_kept = tf.minimum(a_length, tf.maximum(max_tokens - b_length, (max_tokens + 1) // 2))
    b_kept = tf.minimum(b_length, max_tokens - a_kept)
    keep = (a_kept > 0) & (b_kept > 0)
    a_from = tf.boolean_mask(segments.a_end - a_kept, keep)
    a_kept, b_from, b_kept = (
        tf.boolean_mask(a_kept, keep),
        tf.boolean_mask(segments.b_start, keep),
        tf.boolean_mask(b_kept, keep),
    )
    labels = tf.where(tf.boolean_mask(is_random, keep), features.IS_RANDOM_NEXT, features.IS_NEXT)
    outputs = _assemble(tokens, a_from, a_kept, b_from, b_kept, config.max_seq_length)
    outputs[features.NEXT_SENTENCE_LABELS] = tf.cast(labels, tf.int64)
    outputs[features.UNKNOWN_TOKENS] = unknown_tokens(outputs[features.INPUT_WORD_IDS])
    return outputs, tf.boolean_mask(key, keep)


class _Chunks(tf.experimental.ExtensionType):
    """The chunks `_pack_chunks` made, one entry per chunk (global sentence indices, `end` exclusive)."""

    copy: tf.Tensor
    step: tf.Tensor
    start: tf.Tensor
    split: tf.Tensor  # first sentence of the true continuation; == end for a one-sentence chunk
    end: tf.Tensor
    target: tf.Tensor  # the chunk's target length in tokens
    is_random: tf.Tensor


def _pack_chunks(
    first: tf.Tensor,
    last: tf.Tensor,
    keys: tf.Tensor,
    has_partner: tf.Tensor,
    sentence_start: tf.Tensor,
    sentence_end: tf.Tensor,
    config: PretrainingDataConfig,
) -> _Chunks:
    """Greedy packing of each document copy, all copies in step: one chunk per copy per loop iteration.

    Args:
        first, last: per copy, its document's first sentence and one past its last (global indices).
        keys: per copy, its random key.
        has_partner: per copy, whether its group has another document to draw a random B from.
        sentence_start, sentence_end: per sentence, its token range in the flat token array.
    """
    max_tokens = config.max_seq_length - 3
    empty = tf.zeros([0], tf.int64)

    def body(step, position, copy, steps, start, split, end, targets, is_random):
        at = tf.where(position < last)[:, 0]  # the copies not packed to their end yet
        key, here, limit, partnered = (tf.gather(x, at) for x in (keys, position, last, has_partner))
        short = keyed_random.uniform(key, keyed_random.SHORT, step) < config.short_seq_prob
        target = tf.where(
            short, 2 + keyed_random.below(key, keyed_random.TARGET_LENGTH, max_tokens - 1, step), max_tokens
        )
        # The first sentence whose end reaches start + target closes the chunk.
        reach = tf.searchsorted(sentence_end, tf.gather(sentence_start, here) + target, side="left", out_type=tf.int64)
        chunk_end = tf.minimum(reach + 1, limit)
        count = chunk_end - here
        several = count >= 2
        chunk_split = tf.where(
            several, here + 1 + keyed_random.below(key, keyed_random.SPLIT, count - 1, step), chunk_end
        )
        random_next = partnered & (
            keyed_random.uniform(key, keyed_random.IS_RANDOM, step) < config.next_sentence_random_prob
        )
        # A random B leaves the sentences after A for the next chunk, as the original does.
        advance = tf.where(random_next & several, chunk_split, chunk_end)
        position = tf.tensor_scatter_nd_update(position, at[:, tf.newaxis], advance)
        return (
            step + 1,
            position,
            tf.concat([copy, at], 0),
            tf.concat([steps, tf.fill(tf.shape(at), step)], 0),
            tf.concat([start, here], 0),
            tf.concat([split, chunk_split], 0),
            tf.concat([end, chunk_end], 0),
            tf.concat([targets, target], 0),
            tf.concat([is_random, random_next], 0),
        )

    shape = tf.TensorShape([None])
    _, _, copy, steps, start, split, end, targets, is_random = tf.while_loop(
        lambda step, position, *_: tf.reduce_any(position < last),
        body,
        (tf.constant(0, tf.int64), first, empty, empty, empty, empty, empty, empty, tf.zeros([0], tf.bool)),
        shape_invariants=(tf.TensorShape([]), first.shape, shape, shape, shape, shape, shape, shape, shape),
    )
    return _Chunks(copy=copy, step=steps, start=start, split=split, end=end, target=targets, is_random=is_random)


def _group_sizes(group: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per document, the first document of its group and the group's size (documents are in group order)."""
    start = tf.searchsorted(group, group, side="left", out_type=tf.int64)
    end = tf.searchsorted(group, group, side="right", out_type=tf.int64)
    return start, end - start


def _partner(doc: tf.Tensor, group_start: tf.Tensor, group_size: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
    """Per chunk, another document of its document's group, uniformly (itself when it is alone)."""
    start, size = tf.gather(group_start, doc), tf.gather(group_size, doc)
    own = doc - start
    draw = keyed_random.below(key, keyed_random.PARTNER, size - 1)
    return start + tf.where(size > 1, tf.where(draw < own, draw, draw + 1), own)


def _assemble(
    tokens: tf.Tensor, a_from: tf.Tensor, a_kept: tf.Tensor, b_from: tf.Tensor, b_kept: tf.Tensor, length: int
) -> dict[str, tf.Tensor]:
    """[CLS] A [SEP] B [SEP] [PAD]..., dense [instances, length], from token ranges of the flat array."""
    p = tf.range(length, dtype=tf.int64)[tf.newaxis, :]
    a_kept, b_kept = a_kept[:, tf.newaxis], b_kept[:, tf.newaxis]
    in_a = (p >= 1) & (p <= a_kept)
    in_b = (p >= a_kept + 2) & (p < a_kept + 2 + b_kept)
    source = tf.where(in_a, a_from[:, tf.newaxis] + p - 1, b_from[:, tf.newaxis] + p - a_kept - 2)
    source = tf.clip_by_value(source, 0, tf.maximum(tf.size(tokens, out_type=tf.int64) - 1, 0))
    text = tf.gather(tokens, tf.where(in_a | in_b, source, 0))
    is_sep = (p == a_kept + 1) | (p == a_kept + b_kept + 2)
    special = tf.where(is_sep, tf.constant(features.SEP_ID, tf.int64), features.PAD_ID)
    word_ids = tf.where(in_a | in_b, tf.cast(text, tf.int64), special)
    word_ids = tf.where(p == 0, tf.constant(features.CLS_ID, tf.int64), word_ids)
    real = p < a_kept + b_kept + 3
    return {
        features.INPUT_WORD_IDS: word_ids,
        features.INPUT_TYPE_IDS: tf.cast((p >= a_kept + 2) & real, tf.int64),
        features.INPUT_MASK: tf.cast(real, tf.int64),
    }
