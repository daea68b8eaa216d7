"""Which training checkpoints a Trainer may resume from: a fingerprint of what decides the result.

The Trainer keeps its resumable checkpoints in `<pipeline root>/Trainer/checkpoints/<fingerprint>/`, outside
any execution's folders; a run with the same fingerprint continues from them, any other starts afresh. So the
fingerprint covers exactly what changes the trained weights:
- the `data` and `model` sections, and the `trainer` section less the settings that only say how or how often
  to log, evaluate or keep checkpoints (`RESULT_NEUTRAL`) and how the step batch is laid out over devices and
  micro-batches (`LAYOUT`): those are replaced by the step batch's size, `batch_size *
  gradient_accumulation_steps`, which is what the result depends on;
- the content of the training files and of the vocabulary, not their paths: a pipeline that recomputed the
  same instances (a cleared cache, another pipeline root) still resumes, and different instances never do;
- for a later phase (`configs.training_phases`), the fingerprint of the phase it starts from.

Changing a layout setting (strategy, accumulation split at the same step batch, XLA) resumes and continues
within rounding of the uninterrupted run; changing nothing continues it exactly (`docs/benchmarks.md`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import tensorflow as tf

from configs.run_config import TrainerConfig

# Settings that change what is logged, evaluated or kept, not the weights.
RESULT_NEUTRAL = ("log_every_steps", "eval_steps", "keep_checkpoints", "checkpoint_every_steps")
# How a step batch is spread over devices and micro-batches, and compiled: the same arithmetic, within rounding.
LAYOUT = ("strategy", "batch_size", "gradient_accumulation_steps", "jit_compile")

_CHUNK = 8 << 20


def result_settings(custom_config: dict[str, Any], trainer: TrainerConfig) -> dict[str, Any]:
    """The config sections as far as they decide the trained weights (see the module docstring)."""
    settings = {name: section for name, section in custom_config.items() if name != "trainer"}
    kept = {k: v for k, v in dataclasses.asdict(trainer).items() if k not in RESULT_NEUTRAL + LAYOUT}
    settings["trainer"] = {**kept, "step_batch_size": trainer.batch_size * trainer.gradient_accumulation_steps}
    return settings


def content_digest(paths: Iterable[str]) -> str:
    """SHA-256 of the files' bytes, in the order of their names (tf.io.gfile: local or remote)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.rsplit("/", 1)[-1].encode() + b"\0")
        with tf.io.gfile.GFile(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def fingerprint(
    custom_config: dict[str, Any],
    trainer: TrainerConfig,
    train_files: list[str],
    vocab_path: str,
    starts_from: str = "",
) -> str:
    """16 hex digits naming the checkpoint folder of a Trainer with these settings and inputs.

    `starts_from` is the fingerprint of the phase a later phase continues (`models.pretraining.phase_state`), so a
    later phase resumes only from checkpoints that started from the same state.
    """
    files = [path for pattern in train_files for path in tf.io.gfile.glob(pattern)]
    identity = {
        "settings": result_settings(custom_config, trainer),
        "train_files": content_digest(files),
        "vocabulary": content_digest([vocab_path]),
    }
    if starts_from:
        identity["starts_from"] = starts_from
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
