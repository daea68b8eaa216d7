"""Pre-training for a wall-clock budget (`trainer.time_budget_minutes`), as Cramming and 24hBERT do.

`TrainingClock` counts the seconds spent in training steps (the input pipeline's waits included; evaluation,
checkpoint saving and logging between steps not), in a variable that the learning-rate schedule reads at every
step (`models.training.optimization.WarmupDecay` with `clock`) and that is saved in every resumable checkpoint,
so a resumed run goes on from the time it had used, not from zero. `TimeBudget` advances the clock after each
step and stops training once the budget is spent; `trainer.train_steps` stays an upper bound. Workers of a
cluster (MultiWorkerMirroredStrategy) add the mean of their step times, so they follow one clock: the same
learning rate at every step, and all stop after the same step.

A time budget is not exact in the way a step count is: how far training gets depends on the machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import tensorflow as tf

from models.pretraining import distribution


class TrainingClock(tf.Module):
    """Seconds of training so far, in a float64 variable (create it in the distribution strategy's scope)."""

    def __init__(self):
        super().__init__(name="training_clock")
        self.seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds")

    @property
    def elapsed(self) -> float:
        return float(self.seconds.numpy())


class TimeBudget(keras.callbacks.Callback):
    """Adds each training step's duration to `clock`, and stops training once `budget_seconds` are spent.

    Put it before the checkpoint callback, so that a checkpoint holds the time of the steps it holds.

    Args:
        clock: the run's `TrainingClock` (restored from the checkpoint when resuming).
        budget_seconds: training time after which training stops; 0: no budget (the clock only counts).
        time_source: monotonic seconds; tests pass a clock of their own.
        strategy: the run's distribution strategy; across workers, with a budget, each step's time is their mean.
    """

    def __init__(
        self,
        clock: TrainingClock,
        budget_seconds: float,
        time_source: Callable[[], float] = time.perf_counter,
        strategy: tf.distribute.Strategy | None = None,
    ):
        super().__init__()
        self.clock = clock
        self.budget_seconds = budget_seconds
        self.time_source = time_source
        self._across_workers = strategy if strategy and distribution.in_multi_worker_mode(strategy) else None
        self._step_began = None

    @property
    def spent(self) -> bool:
        return self.budget_seconds > 0 and self.clock.elapsed >= self.budget_seconds

    def on_train_batch_begin(self, batch, logs=None):
        self._step_began = self.time_source()

    def on_train_batch_end(self, batch, logs=None):
        seconds = self.time_source() - self._step_began
        if self._across_workers is not None and self.budget_seconds > 0:
            seconds = self._mean_over_workers(seconds)
        self.clock.seconds.assign_add(seconds)
        if self.spent:
            self.model.stop_training = True

    def _mean_over_workers(self, seconds: float) -> float:
        """The mean of every worker's `seconds` (a collective every worker joins after the same step)."""
        strategy = self._across_workers
        per_replica = strategy.run(lambda: tf.constant(seconds, tf.float64))
        return float(strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None))
