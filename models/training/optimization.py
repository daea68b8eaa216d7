"""Optimizers and learning-rate schedules for pre-training and fine-tuning."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="bert_tfx")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak_learning_rate`, then linear decay to 0 at `total_steps`.

    Args:
        peak_learning_rate: float. Rate at the end of warm-up.
        warmup_steps: int. Optimizer steps of linear warm-up.
        total_steps: int. Optimizer step at which the rate reaches 0.
    """

    def __init__(self, peak_learning_rate: float, warmup_steps: int, total_steps: int):
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = float(self.warmup_steps)
        decay_span = float(max(self.total_steps - self.warmup_steps, 1))
        warming = self.peak_learning_rate * step / max(warmup, 1.0)
        decaying = self.peak_learning_rate * keras.ops.clip(1.0 - (step - warmup) / decay_span, 0.0, 1.0)
        # Without warm-up (warmup_steps=0) the first step already takes the peak rate.
        return keras.ops.where(step < warmup, warming, decaying)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
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
    learning_rate: float,
    warmup_steps: int,
    total_steps: int,
    weight_decay: float = 0.01,
    clip_norm: float = 0.0,
    summed_gradients: bool = False,
) -> keras.optimizers.Optimizer:
    """AdamW or LAMB with warm-up and linear decay, decoupled weight decay and global-norm clipping.

    Args:
        name: "adamw" or "lamb".
        learning_rate: peak learning rate.
        warmup_steps: linear warm-up steps.
        total_steps: steps until the rate reaches 0.
        weight_decay: decoupled weight decay, not applied to biases and LayerNorm.
        clip_norm: global gradient-norm bound; 0 disables clipping.
        summed_gradients: the caller sums the gradients over replicas before `apply` (the pre-training step
            does), so that clipping bounds the gradient of the whole step (see `SummedGradients`).
    """
    schedule = WarmupLinearDecay(learning_rate, warmup_steps, total_steps)
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
