"""Initial weights for continued pre-training (`trainer.init_from`): a Hugging Face BERT folder, a keras-hub preset
folder, or an encoder an earlier run made (its encoder checkpoint, its Trainer Model artifact, or its ExportedEncoder).

The source must have this run's shape and vocabulary: a mismatch is an error naming both sides. Heads are loaded
where the source has them (Hugging Face `BertForPreTraining` and our checkpoints: both; a keras-hub `BertMaskedLM`
preset: the masked-LM head); the others keep their fresh initialisation.
"""

from __future__ import annotations

import json
import os

import keras_hub
import numpy as np
import tensorflow as tf

from configs.pipeline_contract import ENCODER_CHECKPOINT_DIR, EXPORT_FORMAT_DIRS
from models import features
from models.encoder import backbone as backbone_lib
from models.encoder import hf_format, keras_hub_format

HUGGING_FACE = "Hugging Face folder"
KERAS_HUB = "keras-hub preset"
CHECKPOINT = "encoder checkpoint"


def _exists(directory: str, name: str) -> bool:
    return tf.io.gfile.exists(os.path.join(directory, name))


def _read_json(path: str) -> dict:
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def resolve(path: str) -> tuple[str, str]:
    """(kind, folder) of an `init_from` path; an ExportedEncoder resolves to its Hugging Face folder and a Trainer
    Model artifact to its encoder checkpoint.

    Raises:
        FileNotFoundError naming what the folder lacks.
    """
    if _exists(path, backbone_lib.CONFIG_FILE):
        return CHECKPOINT, path
    if _exists(path, os.path.join(ENCODER_CHECKPOINT_DIR, backbone_lib.CONFIG_FILE)):
        return CHECKPOINT, os.path.join(path, ENCODER_CHECKPOINT_DIR)
    if _exists(path, os.path.join(EXPORT_FORMAT_DIRS["hf"], hf_format.CONFIG_FILE)):
        return HUGGING_FACE, os.path.join(path, EXPORT_FORMAT_DIRS["hf"])
    if _exists(path, hf_format.CONFIG_FILE):
        config = _read_json(os.path.join(path, hf_format.CONFIG_FILE))
        if config.get("model_type") == "bert" and _exists(path, hf_format.WEIGHTS_FILE):
            return HUGGING_FACE, path
        if "BertBackbone" in str(config.get("registered_name", config.get("class_name", ""))):
            return KERAS_HUB, path
    raise FileNotFoundError(
        f"trainer.init_from={path} is none of: a Hugging Face BERT folder (config.json with model_type bert and "
        "model.safetensors), a keras-hub BertBackbone preset, an encoder checkpoint or Trainer model of a run, an "
        "ExportedEncoder"
    )


def source_shape(kind: str, folder: str) -> dict[str, int]:
    """The source's vocabulary size and encoder shape, under BertBackbone's argument names."""
    if kind == HUGGING_FACE:
        config = _read_json(os.path.join(folder, hf_format.CONFIG_FILE))
        return {
            "vocabulary_size": config["vocab_size"],
            "num_layers": config["num_hidden_layers"],
            "num_heads": config["num_attention_heads"],
            "hidden_dim": config["hidden_size"],
            "intermediate_dim": config["intermediate_size"],
            "max_sequence_length": config["max_position_embeddings"],
        }
    name = backbone_lib.CONFIG_FILE if kind == CHECKPOINT else hf_format.CONFIG_FILE
    config = _read_json(os.path.join(folder, name))["config"]
    return {key: config[key] for key in SHAPE_KEYS}


SHAPE_KEYS = ("vocabulary_size", "num_layers", "num_heads", "hidden_dim", "intermediate_dim", "max_sequence_length")


def check_vocabulary(folder: str, kind: str, vocab_path: str) -> None:
    """Raises ValueError when the source's vocabulary file (if it has one) differs from this run's, naming the
    first line that differs."""
    own = os.path.join(folder, "assets", "tokenizer", "vocabulary.txt") if kind == KERAS_HUB else None
    source_vocab = own or os.path.join(folder, features.VOCAB_FILE)
    if not tf.io.gfile.exists(source_vocab):
        return
    with tf.io.gfile.GFile(source_vocab) as f:
        theirs = f.read().splitlines()
    with tf.io.gfile.GFile(vocab_path) as f:
        ours = f.read().splitlines()
    for line, (a, b) in enumerate(zip(theirs, ours, strict=False), start=1):
        if a != b:
            raise ValueError(
                f"trainer.init_from's vocabulary {source_vocab} differs from this run's {vocab_path} at line {line} "
                f"({a!r} there, {b!r} here): give Transform that vocabulary with data.vocab_file={source_vocab}"
            )


def load_initial_weights(path: str, backbone: keras_hub.models.BertBackbone, vocab_path: str) -> dict[str, np.ndarray]:
    """Assigns the encoder weights of `path` to `backbone` (built for this run's vocabulary `vocab_path`).

    Returns:
        the source's pre-training head weights by `backbone_lib.HEAD_WEIGHTS` names, those it has.
    Raises:
        ValueError naming both sizes when the source's vocabulary size or shape differs from this run's.
    """
    kind, folder = resolve(path)
    theirs = source_shape(kind, folder)
    ours = {key: getattr(backbone, key) for key in SHAPE_KEYS}
    if theirs["vocabulary_size"] != ours["vocabulary_size"]:
        raise ValueError(
            f"trainer.init_from={path} has a vocabulary of {theirs['vocabulary_size']} tokens; this run's vocabulary "
            f"{vocab_path} has {ours['vocabulary_size']}: give Transform the initial model's vocabulary with "
            f"data.vocab_file=<its vocab.txt>"
        )
    differ = {key: (theirs[key], ours[key]) for key in SHAPE_KEYS if theirs[key] != ours[key]}
    if differ:
        shown = ", ".join(f"{key} {a} there, {b} here" for key, (a, b) in differ.items())
        raise ValueError(f"trainer.init_from={path} has another shape than model.*: {shown}")
    check_vocabulary(folder, kind, vocab_path)
    if kind == HUGGING_FACE:
        return hf_format.read_hf_weights(folder, backbone) or {}
    if kind == CHECKPOINT:
        source, _, _ = backbone_lib.load_checkpoint(folder)
        backbone.set_weights(source.get_weights())
        return backbone_lib.load_heads(folder) or {}
    return _load_keras_hub(folder, backbone)


def _load_keras_hub(folder: str, backbone: keras_hub.models.BertBackbone) -> dict[str, np.ndarray]:
    if not _exists(folder, "task.json") or "BertMaskedLM" not in str(_read_json(os.path.join(folder, "task.json"))):
        backbone.set_weights(keras_hub.models.BertBackbone.from_preset(folder).get_weights())
        return {}
    task = keras_hub.models.BertMaskedLM.from_preset(folder)
    backbone.set_weights(task.backbone.get_weights())
    return {name: np.asarray(v.numpy()) for name, v in keras_hub_format.masked_lm_head_variables(task).items()}
