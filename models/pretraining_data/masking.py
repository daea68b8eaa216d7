"""Masked-LM targets for packed instances, as in the original BERT data, drawn from keyed random numbers.

Used by the Transform (static masking: masks fixed in the data) and by the Trainer's input pipeline
(dynamic masking: fresh masks every time an instance is read, as RoBERTa does). Dense ops on
[instances, max_seq_length] ids:

- eligible tokens: real tokens other than [CLS], [SEP] and [UNK] ([UNK] is never a target);
- budget per instance: `round(eligible * masked_lm_prob)`, at least 1, at most `max_predictions_per_seq`;
- the budget goes to the eligible tokens in a random order; with whole-word masking the order is over
  words (a word is a token and the `##` pieces that follow it) and a word is taken whole or not at all;
- each chosen token becomes [MASK] (`mask_token_rate`), a random non-special token
  (`random_token_rate`) or stays as it is.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from models import features
from models.pretraining_data import keyed_random


@dataclasses.dataclass(frozen=True)
class MaskingSettings:
    """What `mask_instances` needs of `PretrainingDataConfig`."""

    masked_lm_prob: float
    max_predictions_per_seq: int
    mask_token_rate: float
    random_token_rate: float
    whole_word_masking: bool

    @classmethod
    def from_config(cls, config) -> MaskingSettings:
        return cls(
            masked_lm_prob=config.masked_lm_prob,
            max_predictions_per_seq=config.max_predictions_per_seq,
            mask_token_rate=config.mask_token_rate,
            random_token_rate=config.random_token_rate,
            whole_word_masking=config.whole_word_masking,
        )


def continuation_table(vocab_path: tf.Tensor | str) -> tf.lookup.StaticHashTable:
    """id -> 1 for `##` word pieces (a word's continuation), 0 otherwise, read from the vocabulary file."""
    initializer = tf.lookup.TextFileInitializer(
        vocab_path,
        key_dtype=tf.int64,
        key_index=tf.lookup.TextFileIndex.LINE_NUMBER,
        value_dtype=tf.string,
        value_index=tf.lookup.TextFileIndex.WHOLE_LINE,
    )
    return tf.lookup.StaticHashTable(initializer, default_value="")


def continuation_of(table: tf.lookup.StaticHashTable, word_ids: tf.Tensor) -> tf.Tensor:
    """True where a token id is a `##` word piece (`table` from `continuation_table`)."""
    return tf.strings.substr(table.lookup(tf.cast(word_ids, tf.int64)), 0, 2) == "##"


def with_dynamic_masks(
    dataset: tf.data.Dataset, vocab_path: str, vocab_size: int, settings: MaskingSettings, seed: int
) -> tf.data.Dataset:
    """Adds masked-LM targets to batches of unmasked instances, new ones every time a batch is read.

    The keys come from `seed`, the batch's position in the (repeating) stream and the row, so each
    epoch masks an instance differently, and a resumed run that skips to its input position draws the
    masks the interrupted one would have.
    """
    table = continuation_table(vocab_path) if settings.whole_word_masking else None

    def add_masks(index: tf.Tensor, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        word_ids = batch[features.INPUT_WORD_IDS]
        rows = tf.shape(word_ids, out_type=tf.int64)[0]
        keys = keyed_random.combine(keyed_random.combine(tf.constant(seed, tf.int64), index), tf.range(rows))
        is_continuation = continuation_of(table, word_ids) if table is not None else None
        masked = mask_instances(word_ids, batch[features.INPUT_MASK], keys, vocab_size, settings, is_continuation)
        return {**batch, **masked}

    return dataset.enumerate().map(add_masks, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


@tf.autograph.experimental.do_not_convert  # plain TF ops: tracing is faster without autograph
def mask_instances(
    word_ids: tf.Tensor,
    input_mask: tf.Tensor,
    keys: tf.Tensor,
    vocab_size: tf.Tensor | int,
    settings: MaskingSettings,
    is_continuation: tf.Tensor | None = None,
) -> dict[str, tf.Tensor]:
    """Chooses and applies masked-LM targets.

    Args:
        word_ids: int64 [instances, length], [CLS]/[SEP] included, padded with [PAD].
        input_mask: int [instances, length], 1 for real tokens.
        keys: int64 [instances], one random key per instance (`keyed_random`).
        vocab_size: ids of random replacements are drawn from [len(SPECIAL_TOKENS), vocab_size).
        settings: rates and budget.
        is_continuation: bool [instances, length], True for `##` pieces; needed for whole-word masking.

    Returns:
        `input_word_ids` (masked), `masked_lm_positions`, `masked_lm_ids`, `masked_lm_weights`, the last
        three [instances, max_predictions_per_seq], positions ascending, padded with 0 / weight 0.
    """
    word_ids = tf.cast(word_ids, tf.int64)
    length = tf.shape(word_ids, out_type=tf.int64)[1]
    positions = tf.range(length, dtype=tf.int64)[tf.newaxis, :]
    row_keys = tf.cast(keys, tf.int64)[:, tf.newaxis]
    special = (word_ids == features.CLS_ID) | (word_ids == features.SEP_ID) | (word_ids == features.UNK_ID)
    eligible = (tf.cast(input_mask, tf.bool)) & ~special
    num_eligible = tf.reduce_sum(tf.cast(eligible, tf.int64), axis=1)
    budget = tf.cast(tf.round(tf.cast(num_eligible, tf.float32) * settings.masked_lm_prob), tf.int64)
    budget = tf.minimum(tf.maximum(budget, 1), settings.max_predictions_per_seq)
    budget = tf.where(num_eligible > 0, budget, 0)[:, tf.newaxis]

    if settings.whole_word_masking:
        if is_continuation is None:
            raise ValueError("whole-word masking needs is_continuation")
        starts = ~(is_continuation & eligible)
        word_index = tf.cumsum(tf.cast(starts, tf.int64), axis=1)  # positions of a word share it
        score = keyed_random.uniform(row_keys, keyed_random.MASK_ORDER, word_index)
    else:
        score = keyed_random.uniform(row_keys, keyed_random.MASK_ORDER, positions)
    score = tf.where(eligible, score, 2.0)
    order = tf.argsort(score, axis=1, stable=True)  # ties (a word's pieces) stay in position order
    rank = tf.cast(tf.argsort(order, axis=1, stable=True), tf.int64)  # rank of each position

    if settings.whole_word_masking:
        # A word's pieces hold consecutive ranks; it is chosen when its last piece still fits the budget.
        rows = tf.shape(word_ids, out_type=tf.int64)[0]
        flat_word = tf.reshape(word_index + tf.range(rows)[:, tf.newaxis] * (length + 1), [-1])
        eligible_rank = tf.reshape(tf.where(eligible, rank, -1), [-1])
        last_rank = tf.math.unsorted_segment_max(eligible_rank, flat_word, rows * (length + 1))
        selected = eligible & (tf.reshape(tf.gather(last_rank, flat_word), tf.shape(rank)) < budget)
    else:
        selected = eligible & (rank < budget)

    kind = keyed_random.uniform(row_keys, keyed_random.MASK_KIND, positions)
    random_ids = len(features.SPECIAL_TOKENS) + keyed_random.below(
        row_keys, keyed_random.MASK_TOKEN, tf.cast(vocab_size, tf.int64) - len(features.SPECIAL_TOKENS), positions
    )
    to_mask = selected & (kind < settings.mask_token_rate)
    to_random = selected & ~to_mask & (kind < settings.mask_token_rate + settings.random_token_rate)
    masked_ids = tf.where(to_mask, tf.constant(features.MASK_ID, tf.int64), word_ids)
    masked_ids = tf.where(to_random, random_ids, masked_ids)

    slots = settings.max_predictions_per_seq
    chosen = tf.sort(tf.where(selected, positions, length), axis=1)[:, :slots]
    chosen = tf.pad(chosen, [[0, 0], [0, tf.maximum(slots - tf.shape(chosen)[1], 0)]], constant_values=length)
    weights = chosen < length
    chosen = tf.where(weights, chosen, 0)
    return {
        features.INPUT_WORD_IDS: masked_ids,
        features.MASKED_LM_POSITIONS: chosen,
        features.MASKED_LM_IDS: tf.where(weights, tf.gather(word_ids, chosen, batch_dims=1), 0),
        features.MASKED_LM_WEIGHTS: tf.cast(weights, tf.float32),
    }
