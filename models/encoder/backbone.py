"""The BERT backbone: keras-hub's BertBackbone, its inputs, and the encoder checkpoint fine-tuning loads.

The checkpoint is a folder with the backbone's Keras config (`encoder_config.json`), its weights
(`encoder.weights.h5`) and the WordPiece vocabulary it was trained with (`vocab.txt`), plus
`tokenizer.json` saying how text was normalised. Everything needed to rebuild the encoder and
tokenize exactly as pre-training did, and nothing TFX-specific.
"""

from __future__ import annotations

import json
import os

import keras
import keras_hub
import tensorflow as tf

from configs.pipeline_contract import ENCODER_CHECKPOINT_DIR
from configs.run_config import ModelConfig
from models import features

CONFIG_FILE = "encoder_config.json"
WEIGHTS_FILE = "encoder.weights.h5"
TOKENIZER_FILE = "tokenizer.json"


def checkpoint_dir(model_artifact_uri: str) -> str:
    """Where the encoder checkpoint lives inside the pre-training Trainer's model artifact."""
    return os.path.join(model_artifact_uri, ENCODER_CHECKPOINT_DIR)


def build_backbone(model: ModelConfig, vocab_size: int, dtype: str | None = None) -> keras_hub.models.BertBackbone:
    """A randomly initialised BertBackbone of the configured shape."""
    return keras_hub.models.BertBackbone(
        vocabulary_size=vocab_size,
        num_layers=model.num_layers,
        num_heads=model.num_heads,
        hidden_dim=model.hidden_dim,
        intermediate_dim=model.intermediate_dim,
        dropout=model.dropout,
        max_sequence_length=model.max_position_embeddings,
        dtype=dtype,
    )


def backbone_inputs(batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Maps the feature contract's names to BertBackbone's input names (int32)."""
    return {
        "token_ids": tf.cast(batch[features.INPUT_WORD_IDS], tf.int32),
        "segment_ids": tf.cast(batch[features.INPUT_TYPE_IDS], tf.int32),
        "padding_mask": tf.cast(batch[features.INPUT_MASK], tf.int32),
    }


def read_vocab_size(vocab_path: str) -> int:
    """Tokens in a vocabulary file (one per line)."""
    with tf.io.gfile.GFile(vocab_path) as f:
        return sum(1 for _ in f)


def save_checkpoint(backbone: keras_hub.models.BertBackbone, vocab_path: str, lower_case: bool, directory: str) -> None:
    """Writes the encoder checkpoint folder (see the module docstring)."""
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, CONFIG_FILE), "w") as f:
        json.dump(keras.saving.serialize_keras_object(backbone), f, indent=2)
    with tf.io.gfile.GFile(os.path.join(directory, TOKENIZER_FILE), "w") as f:
        json.dump({"lower_case": lower_case}, f)
    backbone.save_weights(os.path.join(directory, WEIGHTS_FILE))
    tf.io.gfile.copy(vocab_path, os.path.join(directory, features.VOCAB_FILE), overwrite=True)


def load_checkpoint(directory: str, dtype: str = "float32") -> tuple[keras_hub.models.BertBackbone, str, bool]:
    """Rebuilds the encoder from a checkpoint folder, computing in `dtype` (variables are float32
    whatever policy pre-training used, so a mixed-precision checkpoint loads into a float32 model).

    Returns:
        the backbone with its trained weights, the vocabulary path, and whether text is lower-cased.
    """
    missing = [
        name
        for name in (CONFIG_FILE, WEIGHTS_FILE, features.VOCAB_FILE, TOKENIZER_FILE)
        if not tf.io.gfile.exists(os.path.join(directory, name))
    ]
    if missing:
        raise FileNotFoundError(f"encoder checkpoint {directory} lacks {', '.join(missing)}")
    with tf.io.gfile.GFile(os.path.join(directory, CONFIG_FILE)) as f:
        serialized = json.load(f)
    serialized["config"]["dtype"] = dtype
    backbone = keras.saving.deserialize_keras_object(serialized)
    backbone.load_weights(os.path.join(directory, WEIGHTS_FILE))
    with tf.io.gfile.GFile(os.path.join(directory, TOKENIZER_FILE)) as f:
        lower_case = bool(json.load(f)["lower_case"])
    return backbone, os.path.join(directory, features.VOCAB_FILE), lower_case
