"""Tokenized documents as Transform hands them to an objective's instance builder, and what builders share."""

from __future__ import annotations

import tensorflow as tf

from models import features
from models.pretraining_data import keyed_random


class Documents(tf.experimental.ExtensionType):
    """A batch of tokenized documents, flat.

    Attributes:
        sentence_ids: token ids per sentence [sentences, (tokens)], document after document.
        sentence_counts: sentences per document [documents].
        group: the group (input record) of each document [documents]; random next segments come
            from other documents of the same group.
        keys: one random key per document [documents] (`keyed_random.string_key` of its id).
    """

    sentence_ids: tf.RaggedTensor
    sentence_counts: tf.Tensor
    group: tf.Tensor
    keys: tf.Tensor


def unknown_tokens(word_ids: tf.Tensor) -> tf.Tensor:
    """[UNK] tokens per instance (`features.UNKNOWN_TOKENS`), for the statistics of the instances."""
    return tf.reduce_sum(tf.cast(tf.equal(word_ids, features.UNK_ID), tf.int64), axis=1)


def copies(keys: tf.Tensor, dupe_factor: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Each of `keys`' items (documents or streams) `dupe_factor` times, item after item: per copy, the index of
    its item and its random key (the item's key combined with the copy's number)."""
    items = tf.size(keys, out_type=tf.int64)
    item = tf.repeat(tf.range(items), dupe_factor)
    key = keyed_random.combine(tf.gather(keys, item), tf.tile(tf.range(dupe_factor, dtype=tf.int64), [items]))
    return item, key
