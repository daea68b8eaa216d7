"""Optimizers and learning-rate schedules for pre-training and fine-tuning."""

from __future__ import annotations

import math

import keras

from configs.run_config import LEARNING_RATE_SCHEDULES as SCHEDULES


@keras.saving.register_keras_serializable(package="bert_tfx")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak_learning_rate`, then a decay to 0 at `total`.

    Progress is counted in optimizer steps, or, with `clock`, in the seconds of training the clock has counted
    (`models.pretraining.time_budget`): then `warmup` and `total` are seconds. With q the share of the decay
    span (`warmup` to `total`) gone by, the rate after warm-up is `peak_learning_rate` times
    - `linear`: 1 - q (BERT);
    - `cosine`: (1 + cos(pi q)) / 2;
    - `polynomial`: (1 - q) ** `power` (Model Garden's PolynomialDecay to 0);
    - `constant_then_decay`: 1 until the last `decay_fraction` of the span, then linearly to 0.

    Args:
        peak_learning_rate: float. Rate at the end of warm-up.
        warmup: int or float. Steps (seconds with `clock`) of linear warm-up.
        total: int or float. Step (second with `clock`) at which the rate reaches 0.
        schedule: one of `SCHEDULES`.
        power: float. The polynomial's power.
        decay_fraction: float in (0, 1]. The decaying share of the span for `constant_then_decay`.
        clock: an object with a `seconds` float variable, read at every step; None counts steps.
    """

    def __init__(
        self,
        peak_learning_rate: float,
        warmup: float,
        total: float,
        schedule: str = "linear",
        power: float = 1.0,
        decay_fraction: float = 0.1,
        clock=None,
    ):
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule={schedule!r}; expected one of {', '.join(SCHEDULES)}")
        if schedule == "constant_then_decay" and not 0 < decay_fraction <= 1:
            raise ValueError(f"decay_fraction={decay_fraction} must be in (0, 1]")
        self.peak_learning_rate = peak_learning_rate
        self.warmup = warmup
        self.total = total
        self.schedule = schedule
        self.power = power
        self.decay_fraction = decay_fraction
        self.clock = clock

    def __call__(self, step):
        progress = self.clock.seconds if self.clock is not None else step
        progress = keras.ops.cast(progress, "float32")
        smallest = 1.0 if self.clock is None else 1e-6  # a whole step; a microsecond
        warmup = float(self.warmup)
        decay_span = float(max(self.total - self.warmup, smallest))
        warming = self.peak_learning_rate * progress / max(warmup, smallest)
        q = keras.ops.clip((progress - warmup) / decay_span, 0.0, 1.0)
        if self.schedule == "linear":
            factor = 1.0 - q
        elif self.schedule == "cosine":
            factor = 0.5 * (1.0 + keras.ops.cos(math.pi * q))
        elif self.schedule == "polynomial":
            factor = keras.ops.power(1.0 - q, self.power)
        else:
            factor = keras.ops.clip((1.0 - q) / self.decay_fraction, 0.0, 1.0)
        # Without warm-up the first step already takes the peak rate.
        return keras.ops.where(progress < warmup, warming, self.peak_learning_rate * factor)

    def get_config(self):
        if self.clock is not None:
            raise NotImplementedError("a schedule that follows a training clock is not serialisable")
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup": self.warmup,
            "total": self.total,
            "schedule": self.schedule,
            "power": self.power,
            "decay_fraction": self.decay_fraction,
        }


# Biases and LayerNorm parameters are not decayed (as in the original BERT optimizer).
_NO_DECAY = ["bias", "gamma", "beta"]


class SummedGradients:
    """For an optimizer whose gradients arrive already summed over the replicas.

    Keras' TensorFlow optimizers clip each replica's gradient and then all-reduce (sum) it, so a global-norm
    clip bounds each replica's part, not the gradient of the step, and the result depends on the replica
    count. The pre-training step sums the gradients over the replicas itself (`BertPretrainer.train_step`);
    this optimizer then clips the whole gradient and does not sum it again (keras 3.15:
    `TFOptimizer._all_reduce_sum_gradients`, called by its update after clipping).
    """

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return list(grads_and_vars)


class AdamWForSummedGradients(SummedGradients, keras.optimizers.AdamW):
    """AdamW for gradients already summed over replicas (see `SummedGradients`)."""


class LambForSummedGradients(SummedGradients, keras.optimizers.Lamb):
    """LAMB for gradients already summed over replicas (see `SummedGradients`)."""


def create_optimizer(
    name: str,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    warmup_steps: int = 0,
    total_steps: int = 0,
    weight_decay: float = 0.01,
    clip_norm: float = 0.0,
    summed_gradients: bool = False,
) -> keras.optimizers.Optimizer:
    """AdamW or LAMB with warm-up and decay, decoupled weight decay and global-norm clipping.

    Args:
        name: "adamw" or "lamb".
        learning_rate: peak learning rate of a linear warm-up over `warmup_steps` and a linear decay to 0 at
            `total_steps`; or a schedule (`WarmupDecay`), used as it is.
        warmup_steps: linear warm-up steps (with a float `learning_rate`).
        total_steps: steps until the rate reaches 0 (with a float `learning_rate`).
        weight_decay: decoupled weight decay, not applied to biases and LayerNorm.
        clip_norm: global gradient-norm bound; 0 disables clipping.
        summed_gradients: the caller sums the gradients over replicas before `apply` (the pre-training step
            does), so that clipping bounds the gradient of the whole step (see `SummedGradients`).
    """
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        schedule = learning_rate
    else:
        schedule = WarmupDecay(learning_rate, warmup_steps, total_steps)
    options = {"global_clipnorm": clip_norm} if clip_norm > 0 else {}
    classes = {
        "adamw": (keras.optimizers.AdamW, AdamWForSummedGradients),
        "lamb": (keras.optimizers.Lamb, LambForSummedGradients),
    }
    if name not in classes:
        raise ValueError(f"optimizer={name!r}; expected 'adamw' or 'lamb'")
    optimizer_class = classes[name][1 if summed_gradients else 0]
    optimizer = optimizer_class(
        learning_rate=schedule, weight_decay=weight_decay, beta_1=0.9, beta_2=0.999, epsilon=1e-6, **options
    )
    optimizer.exclude_from_weight_decay(var_names=_NO_DECAY)
    return optimizer
