"""GLUE fine-tuning inside TensorFlow: input pipeline, classifier, and the serving module.

The classifier is keras-hub's BertTextClassifier over the pre-trained backbone. Text is
tokenized with the pre-training vocabulary by `models.encoder.tokenization`, in tf.data for training and
inside the exported SavedModel for serving, so both see identical ids.

Serving signature `serving_default(examples: string[batch])` takes serialized tf.Examples with
`sentence1` (and `sentence2` for pair tasks) and returns `probabilities` [batch, classes], or for a
regression task (STS-B) `score` [batch]: what the Evaluator's GLUE metrics read.
"""

from __future__ import annotations

import keras
import keras_hub
import tensorflow as tf
import tensorflow_text as tf_text

from configs.glue_tasks import GlueTask
from models import features
from models.encoder import backbone as backbone_lib
from models.encoder import tokenization
from models.training.dataset_options import without_autotuning

_TEXT_SPEC = {
    features.GLUE_SENTENCE1: tf.io.FixedLenFeature([], tf.string),
    features.GLUE_SENTENCE2: tf.io.FixedLenFeature([], tf.string, default_value=""),
}
_ID_SPEC = {**_TEXT_SPEC, features.GLUE_IDX: tf.io.FixedLenFeature([], tf.int64)}


def _labelled_spec(task: GlueTask) -> dict[str, tf.io.FixedLenFeature]:
    label_type = tf.float32 if task.is_regression else tf.int64
    return {**_TEXT_SPEC, features.GLUE_LABEL: tf.io.FixedLenFeature([], label_type)}


def encode_sentences(
    tokenizer: tf_text.BertTokenizer, parsed: dict[str, tf.Tensor], task: GlueTask, max_seq_length: int
) -> dict[str, tf.Tensor]:
    """Parsed GLUE features -> the encoder's packed inputs (one or two segments)."""
    names = [features.GLUE_SENTENCE1] + ([features.GLUE_SENTENCE2] if task.is_pair else [])
    segments = [tokenization.tokenize(tokenizer, parsed[name]) for name in names]
    return tokenization.pack_segments(segments, max_seq_length)


def _encoded(batches: tf.data.Dataset, encode) -> tf.data.Dataset:
    """`encode` mapped over serialized batches, prefetched; without autotuning, as every fine-tuning run makes and
    drops several iterators (`models.training.dataset_options`)."""
    return without_autotuning(batches.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


def labelled_dataset(
    file_pattern: str,
    tokenizer: tf_text.BertTokenizer,
    task: GlueTask,
    max_seq_length: int,
    batch_size: int,
    training: bool,
    seed: int = 42,
) -> tf.data.Dataset:
    """(encoder inputs, label) batches from GlueExampleGen's gzipped TFRecords."""
    files = tf.io.gfile.glob(file_pattern)
    if not files:
        raise FileNotFoundError(f"no GLUE examples match {file_pattern}")
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if training:
        dataset = dataset.shuffle(10000, seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=training)

    def encode(serialized):
        parsed = tf.io.parse_example(serialized, _labelled_spec(task))
        packed = encode_sentences(tokenizer, parsed, task, max_seq_length)
        return backbone_lib.backbone_inputs(packed), parsed[features.GLUE_LABEL]

    return _encoded(dataset, encode)


def unlabelled_dataset(
    file_pattern: str, tokenizer: tf_text.BertTokenizer, task: GlueTask, max_seq_length: int, batch_size: int
) -> tf.data.Dataset:
    """(encoder inputs, example id) batches of a test split, in file order."""
    files = sorted(tf.io.gfile.glob(file_pattern))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(batch_size)

    def encode(serialized):
        parsed = tf.io.parse_example(serialized, _ID_SPEC)
        packed = encode_sentences(tokenizer, parsed, task, max_seq_length)
        return backbone_lib.backbone_inputs(packed), parsed[features.GLUE_IDX]

    return _encoded(dataset, encode)


def build_classifier(backbone: keras_hub.models.BertBackbone, task: GlueTask, dropout: float) -> keras.Model:
    """BertTextClassifier producing logits over the task's classes, or one score for a regression task."""
    return keras_hub.models.BertTextClassifier(
        backbone, num_classes=task.num_outputs, preprocessor=None, dropout=dropout
    )


class GlueServing(tf.Module):
    """Serialized tf.Examples -> class probabilities (or a regression task's score).

    Args:
        classifier: the fine-tuned classifier (logits).
        vocab_path: the pre-training vocabulary; copied into the SavedModel's assets.
        lower_case: whether the vocabulary is uncased.
        task: the GLUE task (which sentences to read).
        max_seq_length: tokens per example, special tokens included.
    """

    def __init__(self, classifier: keras.Model, vocab_path: str, lower_case: bool, task: GlueTask, max_seq_length: int):
        super().__init__(name="glue_serving")
        self.classifier = classifier
        self.task = task
        self.max_seq_length = max_seq_length
        self.vocab, self.tokenizer = tokenization.saved_model_tokenizer(vocab_path, lower_case)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_example(examples, _TEXT_SPEC)
        packed = encode_sentences(self.tokenizer, parsed, self.task, self.max_seq_length)
        outputs = tf.cast(self.classifier(backbone_lib.backbone_inputs(packed), training=False), tf.float32)
        if self.task.is_regression:
            return {features.SCORE: outputs[:, 0]}
        return {features.PROBABILITIES: tf.nn.softmax(outputs, axis=-1)}


def export_classifier(
    classifier: keras.Model, vocab_path: str, lower_case: bool, task: GlueTask, max_seq_length: int, export_dir: str
) -> None:
    """Saves a `GlueServing` module with its `serving_default` signature."""
    module = GlueServing(classifier, vocab_path, lower_case, task, max_seq_length)
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.serve_examples})
