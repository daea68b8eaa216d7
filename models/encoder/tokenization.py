"""WordPiece tokenization shared by Transform, the exported encoder and GLUE fine-tuning.

Every place that turns text into ids builds its tokenizer here, so pre-training data, the
serving encoder and the fine-tuned classifiers tokenize identically.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text

# BasicTokenizer is the normalise-and-split-words half of BertTokenizer. tensorflow_text does not
# export it at the top level; its own vocabulary tools import it from here.
from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer

from models import features


def basic_tokenizer(lower_case: bool) -> BasicTokenizer:
    """Splits text into words the way BertTokenizer does before WordPiece (for vocabulary learning)."""
    return BasicTokenizer(lower_case=lower_case)


def vocab_table(vocab_path: tf.Tensor | str | tf.saved_model.Asset) -> tf.lookup.StaticVocabularyTable:
    """A token -> id table over a vocabulary file, one token per line, id = line number."""
    initializer = tf.lookup.TextFileInitializer(
        vocab_path,
        key_dtype=tf.string,
        key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
        value_dtype=tf.int64,
        value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
    )
    return tf.lookup.StaticVocabularyTable(initializer, num_oov_buckets=1)


def wordpiece_tokenizer(table: tf.lookup.StaticVocabularyTable, lower_case: bool) -> tf_text.BertTokenizer:
    """BertTokenizer producing int64 ids from `table`; unknown words map to [UNK]."""
    return tf_text.BertTokenizer(
        table, token_out_type=tf.int64, unknown_token=features.UNK_TOKEN, lower_case=lower_case
    )


def word_pieces(table: tf.lookup.StaticVocabularyTable) -> tf_text.WordpieceTokenizer:
    """The WordPiece half of `wordpiece_tokenizer`, for words `basic_tokenizer` already split.

    `word_pieces(table).tokenize(basic_tokenizer(lc).tokenize(text))` gives the ids
    `wordpiece_tokenizer(table, lc).tokenize(text)` gives (a test checks it): Transform splits words
    once, for the vocabulary and for the ids.
    """
    return tf_text.WordpieceTokenizer(table, token_out_type=tf.int64, unknown_token=features.UNK_TOKEN)


def saved_model_tokenizer(vocab_path: str, lower_case: bool) -> tuple[tf.saved_model.Asset, tf_text.BertTokenizer]:
    """The vocabulary as a SavedModel asset and a tokenizer over it, for modules that get exported.

    Keep both as attributes of the tf.Module so the vocabulary file is copied into `assets/`.
    (The table must be built on the Asset; handing the Asset to BertTokenizer directly fails.)
    """
    vocab = tf.saved_model.Asset(vocab_path)
    return vocab, wordpiece_tokenizer(vocab_table(vocab), lower_case)


def tokenize(tokenizer: tf_text.BertTokenizer, text: tf.Tensor) -> tf.RaggedTensor:
    """Text [batch] -> token ids [batch, (tokens)] (word boundaries merged away)."""
    return tokenizer.tokenize(text).merge_dims(-2, -1)


def pack_segments(segments: list[tf.RaggedTensor], max_seq_length: int) -> dict[str, tf.Tensor]:
    """Trims segments round-robin, adds [CLS]/[SEP], pads: the encoder's three input features.

    Args:
        segments: one or two token-id tensors [batch, (tokens)].
        max_seq_length: length of the outputs, special tokens included.

    Returns:
        `input_word_ids`, `input_type_ids`, `input_mask`, each int64 [batch, max_seq_length].
    """
    budget = max_seq_length - len(segments) - 1
    trimmed = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim(segments)
    word_ids, type_ids = tf_text.combine_segments(
        trimmed, start_of_sequence_id=features.CLS_ID, end_of_segment_id=features.SEP_ID
    )
    return pad_sequences(word_ids, type_ids, max_seq_length)


def pad_sequences(word_ids: tf.RaggedTensor, type_ids: tf.RaggedTensor, max_seq_length: int) -> dict[str, tf.Tensor]:
    """Pads ragged ids to dense [batch, max_seq_length] features, with the mask of real tokens."""
    padded_ids, mask = tf_text.pad_model_inputs(word_ids, max_seq_length=max_seq_length, pad_value=features.PAD_ID)
    padded_types, _ = tf_text.pad_model_inputs(type_ids, max_seq_length=max_seq_length, pad_value=0)
    return {
        features.INPUT_WORD_IDS: tf.cast(padded_ids, tf.int64),
        features.INPUT_TYPE_IDS: tf.cast(padded_types, tf.int64),
        features.INPUT_MASK: tf.cast(mask, tf.int64),
    }
