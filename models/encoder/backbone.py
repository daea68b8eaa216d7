"""The BERT backbone: keras-hub's BertBackbone, its inputs, and the encoder checkpoint fine-tuning loads.

The checkpoint is a folder with the backbone's Keras config (`encoder_config.json`), its weights
(`encoder.weights.h5`) and the WordPiece vocabulary it was trained with (`vocab.txt`), plus
`tokenizer.json` saying how text was normalised and, when pre-training wrote it, the masked-LM and
next-sentence heads (`pretraining_heads.npz`, arrays named by `HEAD_WEIGHTS`). Everything needed to
rebuild the encoder, tokenize exactly as pre-training did and export the model to other libraries
(`models.encoder.hf_format`, `models.encoder.keras_hub_format`), and nothing TFX-specific.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from configs.pipeline_contract import ENCODER_CHECKPOINT_DIR
from configs.run_config import ModelConfig
from models import features

CONFIG_FILE = "encoder_config.json"
WEIGHTS_FILE = "encoder.weights.h5"
TOKENIZER_FILE = "tokenizer.json"
HEADS_FILE = "pretraining_heads.npz"

# BertBackbone's layer-norm epsilon (and the original BERT's); the pre-training heads use it too.
LAYER_NORM_EPSILON = 1e-12
# The pre-training heads' weights, as `pretraining_heads.npz` names them: the masked-LM head's transform
# (dense + GELU + layer norm) and output bias (its decoder is the token embedding), the next-sentence classifier
# (absent for an objective without that task).
HEAD_WEIGHTS = (
    "masked_lm/dense/kernel",
    "masked_lm/dense/bias",
    "masked_lm/layer_norm/gamma",
    "masked_lm/layer_norm/beta",
    "masked_lm/output_bias",
    "next_sentence/kernel",
    "next_sentence/bias",
)
NEXT_SENTENCE_WEIGHTS = ("next_sentence/kernel", "next_sentence/bias")


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


def save_checkpoint(
    backbone: keras_hub.models.BertBackbone,
    vocab_path: str,
    lower_case: bool,
    directory: str,
    heads: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Writes the encoder checkpoint folder (see the module docstring); `heads` by `HEAD_WEIGHTS` names (the
    masked-LM head's, and the next-sentence head's when the objective has one)."""
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, CONFIG_FILE), "w") as f:
        json.dump(keras.saving.serialize_keras_object(backbone), f, indent=2)
    with tf.io.gfile.GFile(os.path.join(directory, TOKENIZER_FILE), "w") as f:
        json.dump({"lower_case": lower_case}, f)
    backbone.save_weights(os.path.join(directory, WEIGHTS_FILE))
    tf.io.gfile.copy(vocab_path, os.path.join(directory, features.VOCAB_FILE), overwrite=True)
    if heads is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **{name: np.asarray(heads[name], dtype=np.float32) for name in HEAD_WEIGHTS if name in heads})
        with tf.io.gfile.GFile(os.path.join(directory, HEADS_FILE), "wb") as f:
            f.write(buffer.getvalue())


def load_heads(directory: str) -> dict[str, np.ndarray] | None:
    """The pre-training heads of an encoder checkpoint by `HEAD_WEIGHTS` names (the next-sentence head's only where
    the objective had one); None when it holds none."""
    path = os.path.join(directory, HEADS_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "rb") as f:
        arrays = np.load(io.BytesIO(f.read()))
        missing = [name for name in HEAD_WEIGHTS if name not in arrays and name not in NEXT_SENTENCE_WEIGHTS]
        if missing:
            raise ValueError(f"{path} lacks the head weights {', '.join(missing)}")
        return {name: arrays[name] for name in HEAD_WEIGHTS if name in arrays}


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
