"""Transform's `preprocessing_fn`: documents -> BERT pre-training instances.

One document in, several instances out (TFT allows a different output batch size when no
feature is passed through). Per batch of documents, entirely in TensorFlow ops so the same
graph runs in Beam and in the exported transform graph:

1. WordPiece vocabulary learned over the whole dataset (an analyzer, `vocab_learner`);
2. sentences tokenized with tensorflow_text's BertTokenizer over that vocabulary;
3. each document's sentences packed into chunks of a target length (shorter with
   `short_seq_prob`), each chunk split at a random sentence boundary (inside the sentence for
   one-sentence chunks) into segments A and B; with `next_sentence_random_prob`, B is instead a
   chunk drawn uniformly from the batch's other documents, or from a non-adjacent part of the
   same document when the batch holds only one (next_sentence_labels = 1);
4. the pair trimmed round-robin to `max_seq_length - 3` (A from its start, B from its end, so
   the A|B boundary is kept), [CLS]/[SEP] added;
5. masked-LM targets chosen: `masked_lm_prob` of the real tokens (at most
   `max_predictions_per_seq`), replaced by [MASK] 80%, a random token 10%, unchanged 10%.

Outputs follow the contract in `models.features`. The vocabulary is annotated as the transform
graph's asset `features.VOCAB_FILE`, so the Trainer reads it by name.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_text as tf_text
import tensorflow_transform as tft

from configs.run_config import PretrainingDataConfig, section_from
from models import features, tokenization, vocab_learner


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, tf.Tensor]:
    """TFX Transform entry point; `custom_config["data"]` is the run's `PretrainingDataConfig`."""
    config = section_from(custom_config, "data", PretrainingDataConfig)
    sentences = _as_ragged(inputs[features.SENTENCES])  # [docs, (sentences)] strings

    words = tokenization.basic_tokenizer(config.lower_case).tokenize(sentences.flat_values)
    vocab_path = vocab_learner.learn_wordpiece_vocab(words.flat_values, config.vocab_size, config.max_alphabet)
    tft.annotate_asset(features.VOCAB_FILE, features.VOCAB_FILE)  # the analyzer writes it under that name
    table = tokenization.vocab_table(vocab_path)
    tokenizer = tokenization.wordpiece_tokenizer(table, config.lower_case)

    sentence_ids = tokenization.tokenize(tokenizer, sentences.flat_values)
    documents = tf.RaggedTensor.from_row_splits(sentence_ids, sentences.row_splits)
    # The learned vocabulary can be a little smaller than asked; random replacement tokens must exist.
    vocab_size = table.size() - 1  # the table's one out-of-vocabulary bucket is never produced
    return build_instances(documents, vocab_size, config)


def build_instances(
    documents: tf.RaggedTensor, vocab_size: tf.Tensor | int, config: PretrainingDataConfig
) -> dict[str, tf.Tensor]:
    """Token ids [docs, (sentences), (tokens)] -> pre-training features [instances, ...]."""
    documents = tf.ragged.boolean_mask(documents, documents.row_lengths(axis=2) > 0)
    doc_index = tf.repeat(tf.range(documents.nrows()), config.dupe_factor)
    documents = tf.gather(documents, doc_index)

    chunks, chunk_doc = _pack_chunks(documents, doc_index, config)
    first, second, labels = _sentence_pairs(chunks, chunk_doc, config)

    max_tokens = config.max_seq_length - 3
    # Trim A from its start and B from its end, so that a true continuation stays adjacent at the
    # A|B boundary (the original data trims either end at random, which can cut the boundary).
    reversed_first, second = tf_text.RoundRobinTrimmer(max_seq_length=max_tokens).trim([_reverse_rows(first), second])
    first = _reverse_rows(reversed_first)
    word_ids, type_ids = tf_text.combine_segments(
        [first, second], start_of_sequence_id=features.CLS_ID, end_of_segment_id=features.SEP_ID
    )
    masked_ids, positions, targets = tf_text.mask_language_model(
        word_ids,
        item_selector=tf_text.RandomItemSelector(
            max_selections_per_batch=config.max_predictions_per_seq,
            selection_rate=config.masked_lm_prob,
            unselectable_ids=[features.CLS_ID, features.SEP_ID, features.PAD_ID],
        ),
        mask_values_chooser=tf_text.MaskValuesChooser(
            vocab_size, features.MASK_ID, config.mask_token_rate, config.random_token_rate
        ),
    )
    outputs = tokenization.pad_sequences(masked_ids, type_ids, config.max_seq_length)
    padded_positions, weights = tf_text.pad_model_inputs(positions, config.max_predictions_per_seq)
    padded_targets, _ = tf_text.pad_model_inputs(targets, config.max_predictions_per_seq)
    outputs[features.MASKED_LM_POSITIONS] = tf.cast(padded_positions, tf.int64)
    outputs[features.MASKED_LM_IDS] = tf.cast(padded_targets, tf.int64)
    outputs[features.MASKED_LM_WEIGHTS] = tf.cast(weights, tf.float32)
    outputs[features.NEXT_SENTENCE_LABELS] = labels
    lengths = {name: config.max_seq_length for name in features.SEQUENCE_FEATURES}
    lengths.update({name: config.max_predictions_per_seq for name in features.PREDICTION_FEATURES})
    for name, length in lengths.items():
        outputs[name] = tf.reshape(outputs[name], [-1, length])
    return outputs


def _as_ragged(value: Any) -> tf.RaggedTensor:
    if isinstance(value, tf.RaggedTensor):
        return value
    if isinstance(value, tf.SparseTensor):
        return tf.RaggedTensor.from_sparse(value)
    return tf.RaggedTensor.from_tensor(tf.reshape(value, [tf.shape(value)[0], -1]))


def _reverse_rows(rows: tf.RaggedTensor) -> tf.RaggedTensor:
    """Reverses the values within each row of a 2-D ragged tensor."""
    row_of_value = rows.value_rowids()
    position = tf.range(tf.size(rows.values, out_type=tf.int64)) - tf.gather(rows.row_starts(), row_of_value)
    last = tf.gather(rows.row_starts() + rows.row_lengths() - 1, row_of_value)
    return rows.with_values(tf.gather(rows.values, last - position))


def _pack_chunks(
    documents: tf.RaggedTensor, doc_index: tf.Tensor, config: PretrainingDataConfig
) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """Groups consecutive sentences of each document into chunks of about a target length.

    A sentence goes to chunk `floor(tokens before it in the document / target)`; the target is
    `max_seq_length - 3`, or with `short_seq_prob` a random shorter length for the document.

    Returns:
        chunks [chunks, (sentences), (tokens)] and the document index of each chunk.
    """
    num_docs = documents.nrows()
    sentence_lengths = documents.row_lengths(axis=2)  # [docs, (sentences)]
    sentence_doc = sentence_lengths.value_rowids()
    ends = tf.concat([tf.zeros([1], tf.int64), tf.cumsum(sentence_lengths.flat_values)], axis=0)
    doc_start = tf.gather(ends, sentence_lengths.row_starts())
    tokens_before = ends[:-1] - tf.gather(doc_start, sentence_doc)

    max_tokens = config.max_seq_length - 3
    is_short = tf.random.uniform([num_docs]) < config.short_seq_prob
    short_target = tf.random.uniform([num_docs], minval=2, maxval=max_tokens + 1, dtype=tf.int64)
    target = tf.where(is_short, short_target, tf.constant(max_tokens, tf.int64))
    chunk_in_doc = tokens_before // tf.gather(target, sentence_doc)

    key = (
        sentence_doc * (tf.reduce_max(tf.concat([tf.zeros([1], tf.int64), chunk_in_doc], axis=0)) + 1) + chunk_in_doc
    )  # non-decreasing
    unique_keys, chunk_of_sentence = tf.unique(key, out_idx=tf.int64)
    chunks = tf.RaggedTensor.from_value_rowids(
        documents.values, chunk_of_sentence, nrows=tf.size(unique_keys, tf.int64)
    )
    chunk_doc = tf.gather(tf.gather(doc_index, sentence_doc), chunks.row_starts())
    return chunks, chunk_doc


def _select_rows(condition: tf.Tensor, if_true: tf.RaggedTensor, if_false: tf.RaggedTensor) -> tf.RaggedTensor:
    """Row-wise `where` for ragged tensors of the same number of rows."""
    rows = tf.range(tf.shape(condition, out_type=tf.int64)[0])
    stacked = tf.concat([if_false, if_true], axis=0)
    return tf.gather(stacked, tf.where(condition, rows + tf.size(condition, out_type=tf.int64), rows))


def _uniform_index(count: tf.Tensor) -> tf.Tensor:
    """A uniform integer in [0, count - 1] per row (0 where count is 0 or less)."""
    draw = tf.cast(tf.floor(tf.random.uniform(tf.shape(count)) * tf.cast(tf.maximum(count, 0), tf.float32)), tf.int64)
    return tf.minimum(draw, tf.maximum(count - 1, 0))  # uniform() can round up to 1.0 in float32


def _random_split(units: tf.Tensor) -> tf.Tensor:
    """A split point in [1, units - 1] per row, uniformly (1 where a row has fewer than 2 units)."""
    return 1 + _uniform_index(units - 1)


def _sentence_pairs(
    chunks: tf.RaggedTensor, chunk_doc: tf.Tensor, config: PretrainingDataConfig
) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.Tensor]:
    """Splits each chunk into segments A and B; B is the true continuation or another document's text.

    A chunk of several sentences is split at a random sentence boundary; a chunk of one sentence
    (a long sentence, or a short target length) inside the sentence, so every chunk can give a true
    continuation and the share of random ones stays `next_sentence_random_prob`. (The original data
    forces a random B for one-sentence chunks, which inflates that share for short sequences.)
    A random B comes from another document of the batch or, in a batch of one document, from a
    non-adjacent chunk of the same document; a chunk with neither keeps its true continuation.
    Pairs with an empty segment are dropped.

    Returns:
        segment A [pairs, (tokens)], segment B [pairs, (tokens)], next_sentence_labels [pairs].
    """
    num_chunks = chunks.nrows()
    num_sentences = chunks.row_lengths()
    tokens = chunks.merge_dims(1, 2)
    single = num_sentences < 2

    split = _random_split(tf.where(single, tokens.row_lengths(), num_sentences))
    in_first_sentences = tf.ragged.range(num_sentences) < tf.expand_dims(split, 1)
    in_first_tokens = tf.ragged.range(tokens.row_lengths()) < tf.expand_dims(split, 1)
    first = _select_rows(
        single,
        tf.ragged.boolean_mask(tokens, in_first_tokens),
        tf.ragged.boolean_mask(chunks, in_first_sentences).merge_dims(1, 2),
    )
    continuation = _select_rows(
        single,
        tf.ragged.boolean_mask(tokens, ~in_first_tokens),
        tf.ragged.boolean_mask(chunks, ~in_first_sentences).merge_dims(1, 2),
    )

    # The partner: a chunk drawn uniformly from the batch's other documents. Chunks are in document
    # order, so a chunk's own document spans [same_start, same_end) and the others are the rest.
    # TFT can still hand over a batch holding a single document; there the partner is a chunk of the
    # same document that is neither this chunk nor the next one (a harder negative, as in ALBERT's
    # sentence-order task), so the random share does not depend on how Beam batches.
    rows = tf.range(num_chunks)
    same_start = tf.searchsorted(chunk_doc, chunk_doc, side="left", out_type=tf.int64)
    same_end = tf.searchsorted(chunk_doc, chunk_doc, side="right", out_type=tf.int64)
    same_count = same_end - same_start
    other_count = num_chunks - same_count
    draw = _uniform_index(other_count)
    other_partner = tf.where(draw < same_start, draw, draw + same_count)
    has_next = rows + 1 < same_end
    far_count = same_count - 1 - tf.cast(has_next, tf.int64)
    far = _uniform_index(far_count)
    skipped = 1 + tf.cast(has_next, tf.int64)  # this chunk, and the next one if there is one
    same_partner = same_start + tf.where(far < rows - same_start, far, far + skipped)
    partner = tf.where(other_count > 0, other_partner, same_partner)
    partner = tf.minimum(partner, tf.maximum(num_chunks - 1, 0))
    has_partner = (other_count > 0) | (far_count > 0)
    is_random = (tf.random.uniform([num_chunks]) < config.next_sentence_random_prob) & has_partner

    second = _select_rows(is_random, tf.gather(tokens, partner), continuation)
    keep = (first.row_lengths() > 0) & (second.row_lengths() > 0)
    labels = tf.where(is_random, features.IS_RANDOM_NEXT, features.IS_NEXT)
    return (
        tf.ragged.boolean_mask(first, keep),
        tf.ragged.boolean_mask(second, keep),
        tf.boolean_mask(tf.cast(labels, tf.int64), keep),
    )
