"""Masked-LM targets for packed instances, as in the original BERT data, drawn from keyed random numbers.

Used by the Transform (static masking: masks fixed in the data) and by the Trainer's input pipeline
(dynamic masking: fresh masks every time an instance is read, as RoBERTa does). Dense ops on
[instances, max_seq_length] ids:

- eligible tokens: real tokens other than [CLS], [SEP] and [UNK] ([UNK] is never a target);
- budget per instance: `round(eligible * masked_lm_prob)`, at least 1, at most `max_predictions_per_seq`;
- the budget goes to the eligible tokens in a random order; with whole-word masking the order is over
  words (a word is a token and the `##` pieces that follow it), a word is taken whole or not at all, and a
  word that does not fit what is left of the budget is skipped while later words are still tried (as the
  original `create_pretraining_data.py` does);
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
        selected = _whole_words_within_budget(eligible, is_continuation, row_keys, budget)
    else:
        score = tf.where(eligible, keyed_random.uniform(row_keys, keyed_random.MASK_ORDER, positions), 2.0)
        order = tf.argsort(score, axis=1, stable=True)
        rank = tf.cast(tf.argsort(order, axis=1, stable=True), tf.int64)  # rank of each position
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


def _whole_words_within_budget(
    eligible: tf.Tensor, is_continuation: tf.Tensor, row_keys: tf.Tensor, budget: tf.Tensor
) -> tf.Tensor:
    """Positions of the words chosen for masking: bool [instances, length].

    Words (an eligible token and the eligible `##` pieces after it) are visited in a random order; a word
    is taken when it fits what is left of the instance's budget and skipped otherwise, so a long word
    drawn early does not stop shorter ones after it from filling the budget.

    Args:
        eligible: bool [instances, length], tokens that may be targets.
        is_continuation: bool [instances, length], True for `##` pieces.
        row_keys: int64 [instances, 1], one random key per instance.
        budget: int64 [instances, 1], the number of targets wanted.
    """
    rows = tf.shape(eligible, out_type=tf.int64)[0]
    width = tf.shape(eligible, out_type=tf.int64)[1] + 1  # word indices run from 1 to length
    starts = ~(is_continuation & eligible)
    word_index = tf.cumsum(tf.cast(starts, tf.int64), axis=1)  # positions of a word share it
    flat_word = tf.reshape(word_index + tf.range(rows)[:, tf.newaxis] * width, [-1])
    size = tf.math.unsorted_segment_sum(tf.reshape(tf.cast(eligible, tf.int64), [-1]), flat_word, rows * width)
    size = tf.reshape(size, [rows, width])  # eligible pieces of each word; 0: not a word to mask
    score = keyed_random.uniform(row_keys, keyed_random.MASK_ORDER, tf.range(width)[tf.newaxis, :])
    word_order = tf.argsort(tf.where(size > 0, score, 2.0), axis=1, stable=True)
    sizes_in_order = tf.transpose(tf.gather(size, word_order, batch_dims=1))  # [width, instances]
    budget = budget[:, 0]
    words = tf.reduce_max(tf.concat([tf.reduce_sum(tf.cast(size > 0, tf.int64), axis=1), [0]], axis=0))

    def visit(step, count, taken):
        fits = (sizes_in_order[step] > 0) & (count + sizes_in_order[step] <= budget)
        taken = taken.write(tf.cast(step, tf.int32) + 1, fits)
        return step + 1, count + tf.where(fits, sizes_in_order[step], 0), taken

    # Element 0 is a row of False, so the list stacks even when no instance has a word.
    first = tf.TensorArray(tf.bool, size=1, dynamic_size=True).write(0, tf.zeros([rows], tf.bool))
    _, _, taken = tf.while_loop(
        lambda step, count, _: (step < words) & tf.reduce_any(count < budget),  # until every budget is full
        visit,
        (tf.constant(0, tf.int64), tf.zeros_like(budget), first),
    )
    taken = tf.reshape(taken.stack(), [-1, rows])[1:]  # [words visited, instances]
    taken_in_order = tf.pad(tf.transpose(taken), [[0, 0], [0, width - tf.shape(taken, out_type=tf.int64)[0]]])
    taken_by_word = tf.gather(taken_in_order, tf.argsort(word_order, axis=1, stable=True), batch_dims=1)
    return eligible & tf.gather(taken_by_word, word_index, batch_dims=1)
