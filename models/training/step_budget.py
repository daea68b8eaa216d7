"""Runs Keras `fit` for an exact number of optimizer steps, logging every `log_every_steps`."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

# Logging periods when batches may be skipped: `StopAtStep` ends training, not the period count.
UNBOUNDED_PERIODS = 2**31 - 1


class StopAtStep(keras.callbacks.Callback):
    """Stops training once the optimizer has taken `total_steps` steps (mid-epoch if need be).

    Args:
        total_steps: int. Optimizer steps after which training stops.
    """

    def __init__(self, total_steps: int):
        super().__init__()
        self.total_steps = total_steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.total_steps:
            self.model.stop_training = True


def fit_for_steps(
    model: keras.Model,
    dataset: tf.data.Dataset,
    total_steps: int,
    log_every_steps: int,
    callbacks: list[keras.callbacks.Callback] | None = None,
    initial_step: int = 0,
    steps_may_be_skipped: bool = False,
    **fit_kwargs,
) -> keras.callbacks.History:
    """`model.fit` over a repeating `dataset` until the optimizer has taken exactly `total_steps` steps.

    Keras epochs serve only as the logging period: metrics (and validation, if given) every
    `log_every_steps` batches, with a shorter last period when the steps left are not a multiple of it.

    Args:
        initial_step: optimizer steps already taken (a resumed run); training goes on from there.
        steps_may_be_skipped: the optimizer may leave a batch without a step (float16 loss scaling skips a step
            whose gradients overflow): then periods go on until the optimizer has taken `total_steps` steps,
            however many batches that needs.
    """
    steps_left = total_steps - initial_step
    if steps_left <= 0:
        return keras.callbacks.History()
    steps_per_period = max(1, min(log_every_steps, steps_left))
    periods = math.ceil(steps_left / steps_per_period)
    return model.fit(
        dataset,
        steps_per_epoch=steps_per_period,
        epochs=UNBOUNDED_PERIODS if steps_may_be_skipped else periods,
        callbacks=[*(callbacks or []), StopAtStep(total_steps)],
        **fit_kwargs,
    )
