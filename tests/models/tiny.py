"""A shared harness of tiny shapes for the model tests: a vocabulary of tens, 2 layers, width 16."""

from __future__ import annotations

import keras
import numpy as np

from configs.run_config import ModelConfig
from models import features
from models.encoder import backbone as backbone_lib

VOCAB = [*features.SPECIAL_TOKENS, "the", "cat", "sat", "on", "mat", "a", "dog", ".", "##s", "ran", "far", "away"]
SEQ_LENGTH = 16
PREDICTIONS = 4
MODEL = ModelConfig(
    num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, dropout=0.0, max_position_embeddings=32
)


def write_vocab(path) -> str:
    path.write_text("".join(token + "\n" for token in VOCAB))
    return str(path)


def tiny_backbone(vocab_size: int = len(VOCAB)):
    return backbone_lib.build_backbone(MODEL, vocab_size)


def pretraining_batch(batch_size: int = 8, seed: int = 0, unused_ids: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
    """A fixed batch in the feature contract: [CLS] A [SEP] B [SEP] with 4 masked positions.

    Token ids are drawn from the real tokens of `VOCAB`, leaving out `unused_ids`.
    """
    rng = np.random.default_rng(seed)
    real_ids = [i for i in range(len(features.SPECIAL_TOKENS), len(VOCAB)) if i not in unused_ids]
    word_ids = np.zeros((batch_size, SEQ_LENGTH), np.int64)
    type_ids = np.zeros_like(word_ids)
    mask = np.zeros_like(word_ids)
    positions = np.zeros((batch_size, PREDICTIONS), np.int64)
    targets = np.zeros_like(positions)
    for row in range(batch_size):
        a, b = rng.choice(real_ids, 5), rng.choice(real_ids, 6)
        ids = [features.CLS_ID, *a, features.SEP_ID, *b, features.SEP_ID]
        word_ids[row, : len(ids)] = ids
        type_ids[row, len(a) + 2 : len(ids)] = 1
        mask[row, : len(ids)] = 1
        chosen = np.sort(
            rng.choice([p for p, t in enumerate(ids) if t >= len(features.SPECIAL_TOKENS)], PREDICTIONS, replace=False)
        )
        positions[row] = chosen
        targets[row] = word_ids[row, chosen]
        word_ids[row, chosen] = features.MASK_ID
    return {
        features.INPUT_WORD_IDS: word_ids,
        features.INPUT_TYPE_IDS: type_ids,
        features.INPUT_MASK: mask,
        features.MASKED_LM_POSITIONS: positions,
        features.MASKED_LM_IDS: targets,
        features.MASKED_LM_WEIGHTS: np.ones((batch_size, PREDICTIONS), np.float32),
        features.NEXT_SENTENCE_LABELS: rng.integers(0, 2, batch_size).astype(np.int64),
    }


class KillAt(keras.callbacks.Callback):
    """Interrupts training (KeyboardInterrupt) when the optimizer is about to take step `step`: a kill between steps,
    within the process."""

    def __init__(self, step: int):
        super().__init__()
        self.step = step

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            raise KeyboardInterrupt("killed")
