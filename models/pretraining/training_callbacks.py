"""Keras callbacks of the pre-training loop: resumable checkpoints, health checks, and progress with throughput.

`PretrainingCheckpoints` keeps model weights, optimizer state (which holds the step and the loss scale) and
`batches_seen` (step batches consumed: the input position, and the key of the next dropout masks) in a folder
that outlives a failed Trainer execution, so the next execution with the same config and data resumes where
the last checkpoint left off and continues as the uninterrupted run would have; it never writes a non-finite
value. `TrainingHealth` stops a run at its first non-finite loss or gradient, naming the step and the
checkpoint a re-run resumes from.
`TrainingProgress` adds to every logging period's logs (hence `history.json` and TensorBoard):
`step_time_ms`, `sequences_per_second`, `tokens_per_second` (sequence positions, padding
included), `learning_rate` and `mfu`, and logs a progress line with an ETA.
"""

from __future__ import annotations

import datetime
import logging
import math
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

_LOG = logging.getLogger(__name__)


class NonFiniteTrainingError(RuntimeError):
    """Training produced a non-finite loss, gradient or weight."""


def _all_finite(variables) -> bool:
    return all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in variables if tf.as_dtype(v.dtype).is_floating)


def _unreadable(path: str) -> str | None:
    """Why the checkpoint `path` cannot be read whole (every tensor read through), or None when it can."""
    try:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, OSError) as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return None


class PretrainingCheckpoints:
    """Model (with its `batches_seen`, the input position) and optimizer state in `directory`, the latest `keep`.

    Checkpoints are numbered by the optimizer step. A training step is one call of the model's `train_step`
    (a whole accumulation window), so a checkpoint always falls between steps.

    Args:
        directory: checkpoint folder (the same for every execution that may resume).
        model: the compiled `BertPretrainer`; it and its optimizer must be built before `restore`.
        keep: how many checkpoints to keep.
        restore_from: the folder `restore` reads, if not `directory` (multi-worker training: every
            worker restores the chief's checkpoints and saves to a folder of its own).
        clock: the run's training clock (`models.pretraining.time_budget.TrainingClock`), kept with the rest, so
            that a resumed run with a time budget goes on from the time it had used.
    """

    def __init__(self, directory: str, model: keras.Model, keep: int, restore_from: str | None = None, clock=None):
        self.directory = directory
        self.restore_from = restore_from or directory
        self.clock = clock
        self._model = model
        parts = {"clock": clock} if clock is not None else {}
        self._checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, **parts)
        self._manager = tf.train.CheckpointManager(self._checkpoint, directory, max_to_keep=keep)
        self.restored_step = 0  # the step `restore` found (0: none)

    @property
    def step(self) -> int:
        return int(self._model.optimizer.iterations.numpy())

    @property
    def input_position(self) -> int:
        """Step batches read so far: where a resumed run's input starts."""
        return int(self._model.batches_seen.numpy())

    def restore(self) -> int:
        """Restores the latest readable checkpoint, if any; returns the optimizer step it holds (0 if none).

        A checkpoint whose files cannot be read whole (truncated by a full disk, a damaged copy) is skipped with a
        warning naming it, and the one before it tried. The manager lists a checkpoint only once all its files are
        written, so a run killed while saving leaves the previous one latest.
        """
        state = tf.train.get_checkpoint_state(self.restore_from)
        for path in reversed(list(state.all_model_checkpoint_paths) if state else []):
            problem = _unreadable(path)
            if problem:
                _LOG.warning("Skipping the damaged checkpoint %s (%s); trying the one before it", path, problem)
                continue
            self._checkpoint.restore(path).assert_existing_objects_matched()
            self.restored_step = self.step
            return self.restored_step
        if state and state.all_model_checkpoint_paths:
            _LOG.warning("No checkpoint in %s could be read: pre-training starts from step 0", self.restore_from)
        return self.restored_step

    def save(self) -> str:
        """Saves the current state, numbered by the optimizer step; returns the checkpoint's path.

        Raises NonFiniteTrainingError, saving nothing, when a weight or optimizer value is not finite: every
        checkpoint written can be resumed from.
        """
        if not _all_finite([*self._model.variables, *self._model.optimizer.variables]):
            raise NonFiniteTrainingError(
                f"not saving a checkpoint at step {self.step}: the model or optimizer holds a non-finite value"
            )
        return self._manager.save(checkpoint_number=self.step)

    @property
    def saved_steps(self) -> list[int]:
        return [int(path.rsplit("-", 1)[1]) for path in self._manager.checkpoints]


class CheckpointEveryNSteps(keras.callbacks.Callback):
    """Saves `checkpoints` every `every_steps` optimizer steps (not again at a step a restore started from).

    Args:
        checkpoints: where and what to save.
        every_steps: optimizer steps between checkpoints.
    """

    def __init__(self, checkpoints: PretrainingCheckpoints, every_steps: int):
        super().__init__()
        self.checkpoints = checkpoints
        self.every_steps = every_steps
        self._last_saved = checkpoints.step

    def on_train_batch_end(self, batch, logs=None):
        step = self.checkpoints.step
        if step % self.every_steps == 0 and step != self._last_saved:
            self.checkpoints.save()
            self._last_saved = step


class TrainingHealth(keras.callbacks.Callback):
    """Stops training at the first non-finite loss or gradient norm, naming the step and the checkpoint to go back to.

    With float16 loss scaling a non-finite gradient is expected now and then (the step is skipped and the
    scale lowered), so there only the loss counts, and `max_skipped_in_a_row` steps skipped one after the other.
    Put it before the checkpoint callback, so that no checkpoint follows a bad step.

    Args:
        checkpoints: the run's checkpoints (their steps are named in the error).
        loss_scaled: whether the optimizer skips steps whose gradients overflow (float16).
        max_skipped_in_a_row: how many steps in a row may be skipped before training stops.
    """

    def __init__(self, checkpoints: PretrainingCheckpoints, loss_scaled: bool, max_skipped_in_a_row: int = 50):
        super().__init__()
        self.checkpoints = checkpoints
        self.loss_scaled = loss_scaled
        self.max_skipped_in_a_row = max_skipped_in_a_row
        self._last_step, self._skipped = checkpoints.step, 0

    def _fail(self, step: int, what: str) -> None:
        saved = self.checkpoints.saved_steps
        resume = f"the last checkpoint, step {saved[-1]} in {self.checkpoints.directory}" if saved else "step 0"
        raise NonFiniteTrainingError(
            f"pre-training stopped at step {step}: {what}. Nothing after {resume} was saved; "
            "running the pipeline again resumes from there with the same result, so change what causes it first: "
            "a lower trainer.learning_rate, trainer.clip_norm (e.g. 1.0), trainer.mixed_precision=mixed_bfloat16 "
            "instead of mixed_float16, or a longer trainer.warmup_steps (a changed setting starts afresh)"
        )

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        step = self.checkpoints.step
        applied = step != self._last_step
        attempted = step if applied else step + 1  # a skipped float16 step did not advance the optimizer
        loss = float(np.asarray(logs.get("loss", 0.0)).reshape(-1)[0])
        if not math.isfinite(loss):
            self._fail(attempted, f"the loss is {loss}")
        norm = float(np.asarray(logs.get("gradient_norm", 0.0)).reshape(-1)[0])
        if not self.loss_scaled and not math.isfinite(norm):
            self._fail(attempted, f"the gradient norm is {norm}")
        self._skipped = 0 if applied else self._skipped + 1
        self._last_step = step
        if self._skipped >= self.max_skipped_in_a_row:
            self._fail(attempted, f"{self._skipped} steps in a row had non-finite gradients at every loss scale")


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
        clock: the run's training clock: its minutes go into the logs (`training_minutes`).
        budget_seconds: a time budget (with `clock`): the ETA is the budget left when that comes first.
    """

    def __init__(
        self,
        total_steps: int,
        sequences_per_step: int,
        tokens_per_sequence: int,
        flops_per_step: float,
        peak_flops: float,
        print_fn: Callable[[str], None] = _LOG.info,
        clock=None,
        budget_seconds: float = 0.0,
    ):
        super().__init__()
        self.clock = clock
        self.budget_seconds = budget_seconds
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
        logs["step"] = step  # the x axis of the curves
        logs["step_time_ms"] = 1000.0 * step_time
        logs["sequences_per_second"] = sequences_per_second
        logs["tokens_per_second"] = sequences_per_second * self.tokens_per_sequence
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs["mfu"] = self.flops_per_step / step_time / self.peak_flops
        eta_seconds = step_time * max(self.total_steps - step, 0)
        if self.clock is not None:
            logs["training_minutes"] = self.clock.elapsed / 60.0
            if self.budget_seconds > 0:
                eta_seconds = min(eta_seconds, max(self.budget_seconds - self.clock.elapsed, 0.0))
        eta = datetime.timedelta(seconds=round(eta_seconds))
        done = f"step {step}/{self.total_steps} ({100 * step / self.total_steps:.0f}%)"
        if self.clock is not None and self.budget_seconds > 0:
            done = f"step {step} ({100 * self.clock.elapsed / self.budget_seconds:.0f}% of the time budget)"
        self.print_fn(
            done + f" loss {logs.get('loss', float('nan')):.4f}"
            f" masked-LM accuracy {logs.get('masked_lm_accuracy', float('nan')):.4f}"
            f" | {sequences_per_second:.1f} seq/s, {1000 * step_time:.0f} ms/step, MFU {100 * logs['mfu']:.1f}%"
            f" | ETA {eta}"
        )
