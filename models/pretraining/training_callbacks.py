"""Keras callbacks of the pre-training loop: resumable checkpoints, and progress with throughput.

`PretrainingCheckpoints` keeps model weights, optimizer state (which holds the step) and the input
position (batches consumed) in a folder that outlives a failed Trainer execution, so the next
execution with the same config and data resumes where the last checkpoint left off.
`TrainingProgress` adds to every logging period's logs (hence `history.json` and TensorBoard):
`step_time_ms`, `sequences_per_second`, `tokens_per_second` (sequence positions, padding
included), `learning_rate` and `mfu`, and logs a progress line with an ETA.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable

import keras
import tensorflow as tf

_LOG = logging.getLogger(__name__)


class PretrainingCheckpoints:
    """Model, optimizer state and input position in `directory`, the latest `keep` of them.

    Args:
        directory: checkpoint folder (the same for every execution that may resume).
        model: the compiled model; it and its optimizer must be built before `restore`.
        keep: how many checkpoints to keep.
        gradient_accumulation_steps: input batches per optimizer step (gradient accumulation).
        restore_from: the folder `restore` reads, if not `directory` (multi-worker training: every
            worker restores the chief's checkpoints and saves to a folder of its own).
    """

    def __init__(
        self,
        directory: str,
        model: keras.Model,
        keep: int,
        gradient_accumulation_steps: int = 1,
        restore_from: str | None = None,
    ):
        self.directory = directory
        self.restore_from = restore_from or directory
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.input_position = tf.Variable(0, dtype=tf.int64, trainable=False, name="input_position")
        self._model = model
        self._checkpoint = tf.train.Checkpoint(
            model=model, optimizer=model.optimizer, input_position=self.input_position
        )
        self._manager = tf.train.CheckpointManager(self._checkpoint, directory, max_to_keep=keep)

    @property
    def step(self) -> int:
        return int(self._model.optimizer.iterations.numpy())

    def restore(self) -> int:
        """Restores the latest checkpoint, if any; returns the optimizer step it holds (0 if none)."""
        latest = tf.train.latest_checkpoint(self.restore_from)
        if latest is None:
            return 0
        self._checkpoint.restore(latest).assert_existing_objects_matched()
        return self.step

    def save(self) -> str:
        """Saves the current state, numbered by the optimizer step; returns the checkpoint's path."""
        self.input_position.assign(self.step * self.gradient_accumulation_steps)
        return self._manager.save(checkpoint_number=self.step)

    @property
    def saved_steps(self) -> list[int]:
        return [int(path.rsplit("-", 1)[1]) for path in self._manager.checkpoints]


class CheckpointEveryNSteps(keras.callbacks.Callback):
    """Saves `checkpoints` every `every_steps` optimizer steps.

    Args:
        checkpoints: where and what to save.
        every_steps: optimizer steps between checkpoints.
    """

    def __init__(self, checkpoints: PretrainingCheckpoints, every_steps: int):
        super().__init__()
        self.checkpoints = checkpoints
        self.every_steps = every_steps
        self._last_saved = -1

    def on_train_batch_end(self, batch, logs=None):
        step = self.checkpoints.step
        if step % self.every_steps == 0 and step != self._last_saved:
            self.checkpoints.save()
            self._last_saved = step


class TrainingProgress(keras.callbacks.Callback):
    """Throughput, learning rate and MFU per logging period, and a progress line with an ETA.

    Put it before the TensorBoard callback so that its figures reach TensorBoard too. The first
    period includes tracing and XLA compilation, so its throughput reads low.

    Args:
        total_steps: optimizer steps of the whole run.
        sequences_per_step: sequences one optimizer step sees (micro-batch size x accumulation).
        tokens_per_sequence: sequence length.
        flops_per_step: model FLOPs of one optimizer step (`models.pretraining.flops`).
        peak_flops: the FLOP/s ceiling MFU is relative to (`models.pretraining.flops.measure_matmul_flops`).
        print_fn: where the progress line goes; defaults to this module's logger (INFO).
    """

    def __init__(
        self,
        total_steps: int,
        sequences_per_step: int,
        tokens_per_sequence: int,
        flops_per_step: float,
        peak_flops: float,
        print_fn: Callable[[str], None] = _LOG.info,
    ):
        super().__init__()
        self.total_steps = total_steps
        self.sequences_per_step = sequences_per_step
        self.tokens_per_sequence = tokens_per_sequence
        self.flops_per_step = flops_per_step
        self.peak_flops = peak_flops
        self.print_fn = print_fn

    def _step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        self._start_time = self._last_batch_time = time.perf_counter()
        self._start_step = self._step()

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch_time = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        step = self._step()
        steps = max(step - self._start_step, 1)
        seconds = max(self._last_batch_time - self._start_time, 1e-9)
        step_time = seconds / steps
        sequences_per_second = self.sequences_per_step / step_time
        logs["step_time_ms"] = 1000.0 * step_time
        logs["sequences_per_second"] = sequences_per_second
        logs["tokens_per_second"] = sequences_per_second * self.tokens_per_sequence
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs["mfu"] = self.flops_per_step / step_time / self.peak_flops
        eta = datetime.timedelta(seconds=round(step_time * max(self.total_steps - step, 0)))
        self.print_fn(
            f"step {step}/{self.total_steps} ({100 * step / self.total_steps:.0f}%)"
            f" loss {logs.get('loss', float('nan')):.4f}"
            f" masked-LM accuracy {logs.get('masked_lm_accuracy', float('nan')):.4f}"
            f" | {sequences_per_second:.1f} seq/s, {1000 * step_time:.0f} ms/step, MFU {100 * logs['mfu']:.1f}%"
            f" | ETA {eta}"
        )
