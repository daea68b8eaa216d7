"""RoBERTa's FULL-SENTENCES instances (objective "mlm"): contiguous sentences packed across documents, masked LM only.

Per group of documents (one TextExampleGen record, `corpus.documents_per_group`) and copy (`data.dupe_factor`), the
group's documents make one stream of tokens, a [SEP] after every document but the group's last. Each instance takes
the stream's next whole sentences up to `max_seq_length - 2` tokens (or, with `short_seq_prob`, a random shorter
target), crossing document boundaries; a sentence longer than the target is cut where the instance is full and
goes on in the next one. Laid out as [CLS] text [SEP] [PAD]..., every token in segment 0; there are no
next-sentence labels. Every token of the stream lands in exactly one instance of each copy, except a document
separator at an instance's edge, which the instance's own [CLS] or [SEP] replaces.

Random draws (the short targets, and the masks after) are keyed by the group's first document, the copy and the
instance's place in the stream, so the instances do not depend on Beam's batching.
"""

from __future__ import annotations

import tensorflow as tf

from configs.run_config import PretrainingDataConfig
from models import features
from models.pretraining_data import keyed_random
from models.pretraining_data.documents import Documents, copies, unknown_tokens


@tf.autograph.experimental.do_not_convert  # plain TF ops: tracing is faster without autograph
def build_instances(documents: Documents, config: PretrainingDataConfig) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """Tokenized documents -> unmasked instances [instances, ...] (see the module docstring), and one random key per
    instance for its masks."""
    tokens, sentence_end, streams = _streams(documents)
    copy_stream, copy_key = copies(streams.key, config.dupe_factor)
    copy, step, start, end = _pack(
        tf.gather(streams.start, copy_stream), tf.gather(streams.end, copy_stream), copy_key, sentence_end, config
    )
    # A document separator at an instance's edge is dropped: [CLS] and the closing [SEP] stand there.
    last = tf.gather(tokens, tf.maximum(end - 1, 0))
    end = tf.where((end > start) & tf.equal(last, features.SEP_ID), end - 1, end)
    first = tf.gather(tokens, tf.minimum(start, tf.maximum(tf.size(tokens, out_type=tf.int64) - 1, 0)))
    start = tf.where((end > start) & tf.equal(first, features.SEP_ID), start + 1, start)
    keep = end > start
    start, end = tf.boolean_mask(start, keep), tf.boolean_mask(end, keep)
    key = keyed_random.combine(tf.gather(copy_key, tf.boolean_mask(copy, keep)), tf.boolean_mask(step, keep))
    outputs = _assemble(tokens, start, end - start, config.max_seq_length)
    outputs[features.UNKNOWN_TOKENS] = unknown_tokens(outputs[features.INPUT_WORD_IDS])
    return outputs, key


class _Streams(tf.experimental.ExtensionType):
    """One stream per group of documents: its token range [start, end) in the separated token array, its key."""

    start: tf.Tensor
    end: tf.Tensor
    key: tf.Tensor


def _streams(documents: Documents) -> tuple[tf.Tensor, tf.Tensor, _Streams]:
    """The tokens with a [SEP] after each document that another document of its group follows; each sentence's end
    in them (exclusive; a separator belongs to the sentence before it); and the groups' streams."""
    ids = documents.sentence_ids
    sentence_doc = tf.repeat(tf.range(tf.size(documents.sentence_counts, out_type=tf.int64)), documents.sentence_counts)
    sentence_group = tf.gather(documents.group, sentence_doc)
    sentences = tf.size(sentence_doc)  # the [:sentences] keeps a batch without sentences empty
    ends_document = tf.concat([sentence_doc[1:] != sentence_doc[:-1], [True]], axis=0)[:sentences]
    group_goes_on = tf.concat([sentence_group[1:] == sentence_group[:-1], [False]], axis=0)[:sentences]
    separated = tf.cast(ends_document & group_goes_on, tf.int64)
    separators = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(separated)], tf.constant(features.SEP_ID, ids.flat_values.dtype)), separated
    )
    tokens = tf.cast(tf.concat([ids, separators], axis=1).flat_values, tf.int64)
    sentence_end = tf.cumsum(ids.row_lengths() + separated)
    sentence_start = sentence_end - (ids.row_lengths() + separated)
    _, stream = tf.unique(sentence_group, out_idx=tf.int64)  # groups are in order: consecutive stream numbers
    first_sentence = tf.math.segment_min(tf.range(tf.size(sentence_group, out_type=tf.int64)), stream)
    streams = _Streams(
        start=tf.math.segment_min(sentence_start, stream),
        end=tf.math.segment_max(sentence_end, stream),
        key=tf.gather(documents.keys, tf.gather(sentence_doc, first_sentence)),
    )
    return tokens, sentence_end, streams


def _pack(
    start: tf.Tensor, end: tf.Tensor, keys: tf.Tensor, sentence_end: tf.Tensor, config: PretrainingDataConfig
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Greedy packing of every stream copy, all in step: one instance per copy per loop iteration.

    Returns per instance: its copy, its step (place in the copy's stream), and its token range [start, end).
    """
    max_tokens = config.max_seq_length - 2
    empty = tf.zeros([0], tf.int64)

    def body(step, position, copy, steps, starts, ends):
        at = tf.where(position < end)[:, 0]  # the copies not packed to their end yet
        key, here, limit = (tf.gather(x, at) for x in (keys, position, end))
        short = keyed_random.uniform(key, keyed_random.SHORT, step) < config.short_seq_prob
        target = tf.where(
            short, 2 + keyed_random.below(key, keyed_random.TARGET_LENGTH, max_tokens - 1, step), max_tokens
        )
        reach = tf.minimum(here + target, limit)
        # The last sentence that ends within reach; if none ends after `here`, the sentence is cut at `reach`.
        last = tf.searchsorted(sentence_end, reach, side="right", out_type=tf.int64) - 1
        whole = tf.gather(sentence_end, tf.maximum(last, 0))
        chunk_end = tf.where((last >= 0) & (whole > here), whole, reach)
        position = tf.tensor_scatter_nd_update(position, at[:, tf.newaxis], chunk_end)
        return (
            step + 1,
            position,
            tf.concat([copy, at], 0),
            tf.concat([steps, tf.fill(tf.shape(at), step)], 0),
            tf.concat([starts, here], 0),
            tf.concat([ends, chunk_end], 0),
        )

    shape = tf.TensorShape([None])
    _, _, copy, steps, starts, ends = tf.while_loop(
        lambda step, position, *_: tf.reduce_any(position < end),
        body,
        (tf.constant(0, tf.int64), start, empty, empty, empty, empty),
        shape_invariants=(tf.TensorShape([]), start.shape, shape, shape, shape, shape),
    )
    return copy, steps, starts, ends


def _assemble(tokens: tf.Tensor, start: tf.Tensor, length: tf.Tensor, max_seq_length: int) -> dict[str, tf.Tensor]:
    """[CLS] text [SEP] [PAD]..., dense [instances, max_seq_length], from token ranges of the flat array."""
    p = tf.range(max_seq_length, dtype=tf.int64)[tf.newaxis, :]
    length = length[:, tf.newaxis]
    in_text = (p >= 1) & (p <= length)
    source = tf.clip_by_value(start[:, tf.newaxis] + p - 1, 0, tf.maximum(tf.size(tokens, out_type=tf.int64) - 1, 0))
    text = tf.gather(tokens, tf.where(in_text, source, 0))
    closing = tf.where(p == length + 1, tf.constant(features.SEP_ID, tf.int64), features.PAD_ID)
    word_ids = tf.where(in_text, text, closing)
    word_ids = tf.where(p == 0, tf.constant(features.CLS_ID, tf.int64), word_ids)
    real = p < length + 2
    return {
        features.INPUT_WORD_IDS: word_ids,
        features.INPUT_TYPE_IDS: tf.zeros_like(word_ids),
        features.INPUT_MASK: tf.cast(real, tf.int64),
    }
