"""Transform's `preprocessing_fn`: groups of documents -> BERT pre-training instances.

One record in (a group of documents, see TextExampleGen), many instances out (TFT allows a different
output batch size when no feature is passed through). Per batch, in TensorFlow ops, so the same graph
runs in Beam and in the exported transform graph:

1. WordPiece vocabulary learned over the whole dataset (an analyzer, `vocab_learner`);
2. sentences tokenized as tensorflow_text's BertTokenizer does over that vocabulary (the words split
   once, for the vocabulary and for the ids);
3. instances built by the objective's builder (`data.objective`, `models.pretraining_data.objectives`):
   BERT's segment pairs with next-sentence labels, or RoBERTa's full sentences packed across documents;
4. masked-LM targets chosen (`models.pretraining_data.masking`), unless `dynamic_masking` leaves that to the Trainer.

Every random draw is a hash of (`data.seed`, document id, copy, step): the instances are the same
whatever Beam's batching or number of workers. Outputs follow `models.features`; the vocabulary is
the transform graph's asset `features.VOCAB_FILE`, so the Trainer reads it by name.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from configs.run_config import PretrainingDataConfig, section_from
from models import features
from models.encoder import tokenization
from models.pretraining_data import keyed_random, masking, objectives, vocab_learner
from models.pretraining_data.documents import Documents


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, tf.Tensor]:
    """TFX Transform entry point; `custom_config["data"]` is the run's `PretrainingDataConfig`."""
    config = section_from(custom_config, "data", PretrainingDataConfig)
    sentences = _as_ragged(inputs[features.SENTENCES])  # [groups, (sentences)] strings
    document_sentences = _as_ragged(inputs[features.DOCUMENT_SENTENCES])  # [groups, (documents)]
    doc_ids = _as_ragged(inputs[features.DOC_ID])  # [groups, (documents)]

    words = tokenization.basic_tokenizer(config.lower_case).tokenize(sentences.flat_values)  # [sentences, (words)]
    if config.vocab_file:
        vocab_path = vocab_learner.provided_vocab(words.flat_values, config.vocab_file)
    else:
        vocab_path = vocab_learner.learn_wordpiece_vocab(words.flat_values, config.vocab_size, config.max_alphabet)
    tft.annotate_asset(features.VOCAB_FILE, features.VOCAB_FILE)  # the analyzer writes it under that name
    table = tokenization.vocab_table(vocab_path)

    documents = Documents(
        sentence_ids=tokenization.word_pieces(table).tokenize(words).merge_dims(-2, -1),
        sentence_counts=tf.cast(document_sentences.flat_values, tf.int64),
        group=document_sentences.value_rowids(),
        keys=keyed_random.string_key(config.seed, doc_ids.flat_values),
    )
    # The learned vocabulary can be a little smaller than asked; random replacement tokens must exist.
    vocab_size = table.size() - 1  # the table's one out-of-vocabulary bucket is never produced
    continuation = masking.continuation_table(vocab_path) if config.whole_word_masking else None
    return build_instances(documents, vocab_size, config, continuation)


@tf.autograph.experimental.do_not_convert  # plain TF ops: tracing is faster without autograph
def build_instances(
    documents: Documents,
    vocab_size: tf.Tensor | int,
    config: PretrainingDataConfig,
    continuation: tf.lookup.StaticHashTable | None = None,
) -> dict[str, tf.Tensor]:
    """Tokenized documents -> pre-training features [instances, ...]: the objective's instances, masked unless
    `dynamic_masking` leaves that to the Trainer.

    `continuation` (`masking.continuation_table`) is needed for whole-word masking.
    """
    outputs, key = objectives.objective(config.objective).build_instances(documents, config)
    if config.dynamic_masking:
        return outputs
    is_continuation = None
    if continuation is not None:
        is_continuation = masking.continuation_of(continuation, outputs[features.INPUT_WORD_IDS])
    outputs.update(
        masking.mask_instances(
            outputs[features.INPUT_WORD_IDS],
            outputs[features.INPUT_MASK],
            key,
            vocab_size,
            masking.MaskingSettings.from_config(config),
            is_continuation,
        )
    )
    return outputs


def _as_ragged(value: Any) -> tf.RaggedTensor:
    if isinstance(value, tf.RaggedTensor):
        return value
    if isinstance(value, tf.SparseTensor):  # a VarLenFeature: row-major indices [row, position]
        return tf.RaggedTensor.from_value_rowids(
            value.values, value.indices[:, 0], nrows=value.dense_shape[0], validate=False
        )
    return tf.RaggedTensor.from_tensor(tf.reshape(value, [tf.shape(value)[0], -1]))
