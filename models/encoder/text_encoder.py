"""The serving encoder: a SavedModel that takes raw text and returns BERT embeddings.

It holds the trained backbone, the vocabulary as a SavedModel asset and the same tokenizer
Transform used, so serving tokenizes exactly as pre-training did. Processes that load it must
`import tensorflow_text` first (the tokenizer's ops live there).

Signature `serving_default(text: string[batch])` returns `pooled_output` [batch, hidden],
`sequence_output` [batch, max_seq_length, hidden], and the packed inputs it computed:
`input_word_ids`, `input_type_ids`, `input_mask` [batch, max_seq_length].
"""

from __future__ import annotations

import keras_hub
import tensorflow as tf

from models.encoder import backbone as backbone_lib
from models.encoder import tokenization


class TextEncoder(tf.Module):
    """Raw text -> BERT outputs.

    Args:
        backbone: the trained BertBackbone.
        vocab_path: the WordPiece vocabulary file; copied into the SavedModel's assets.
        lower_case: whether the vocabulary is uncased.
        max_seq_length: tokens per text, [CLS] and [SEP] included; longer texts are truncated.
    """

    def __init__(self, backbone: keras_hub.models.BertBackbone, vocab_path: str, lower_case: bool, max_seq_length: int):
        super().__init__(name="text_encoder")
        self.backbone = backbone
        self.max_seq_length = max_seq_length
        self.vocab, self.tokenizer = tokenization.saved_model_tokenizer(vocab_path, lower_case)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def encode(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        token_ids = tokenization.tokenize(self.tokenizer, text)
        packed = tokenization.pack_segments([token_ids], self.max_seq_length)
        outputs = self.backbone(backbone_lib.backbone_inputs(packed), training=False)
        return {
            "pooled_output": tf.cast(outputs["pooled_output"], tf.float32),
            "sequence_output": tf.cast(outputs["sequence_output"], tf.float32),
            **packed,
        }


def export_text_encoder(backbone, vocab_path: str, lower_case: bool, max_seq_length: int, export_dir: str) -> None:
    """Saves a `TextEncoder` with its `serving_default` signature to `export_dir`."""
    module = TextEncoder(backbone, vocab_path, lower_case, max_seq_length)
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.encode})
