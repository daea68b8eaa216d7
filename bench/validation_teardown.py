"""Benchmark: the stall Keras makes at every evaluation when the validation data is autotuned by tf.data.

Keras drops the previous iterator over the validation data at the start of every evaluation. An iterator with
tf.data's autotuning on owns a model thread that sleeps between optimisation rounds (longer and longer, up to a
minute), and dropping the iterator waits for it to wake. The Trainer's validation data
(`models.pretraining.training_input.batches_in_memory`) has autotuning off. This script fits a small Keras model whose
logging periods last `--period-seconds` (a sleep after every batch stands in for the training work) and measures,
per evaluation, the time from the period's last training batch to the evaluation's first callback: the same
in-memory validation batches with autotuning on (tf.data's default) and as the Trainer makes them.

    .venv/bin/python bench/validation_teardown.py [--periods 8] [--period-seconds 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def evaluation_wait_recorder(batch_seconds: float):
    """A Keras callback that sleeps `batch_seconds` after every training batch (standing in for the training work)
    and appends to its `waits` the seconds from each period's last training batch to its evaluation's start."""
    import keras

    class EvaluationWaits(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.waits: list[float] = []
            self.last_batch = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(batch_seconds)
            self.last_batch = time.perf_counter()

        def on_test_begin(self, logs=None):
            self.waits.append(time.perf_counter() - self.last_batch)

    return EvaluationWaits()


def fit_and_measure(validation, periods: int, period_seconds: float, batches_per_period: int = 10) -> list[float]:
    import keras
    import tensorflow as tf

    features = tf.random.stateless_normal([256, 16], seed=[1, 2])
    labels = tf.cast(tf.reduce_sum(features, axis=1) > 0, tf.float32)
    train = tf.data.Dataset.from_tensor_slices((features, labels)).batch(32).repeat()
    model = keras.Sequential([keras.Input([16]), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    recorder = evaluation_wait_recorder(period_seconds / batches_per_period)
    model.fit(
        train,
        epochs=periods,
        steps_per_epoch=batches_per_period,
        validation_data=validation,
        validation_steps=2,
        callbacks=[recorder],
        verbose=0,
    )
    return recorder.waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--periods", type=int, default=8, help="logging periods, each followed by an evaluation")
    parser.add_argument("--period-seconds", type=float, default=12.0)
    args = parser.parse_args()

    import tensorflow as tf

    from models.pretraining.training_input import batches_in_memory

    features = tf.random.stateless_normal([64, 16], seed=[3, 4])
    labels = tf.cast(tf.reduce_sum(features, axis=1) > 0, tf.float32)
    upstream = tf.data.Dataset.from_tensor_slices((features, labels)).batch(32)
    as_trainer = batches_in_memory(upstream, steps=2)
    autotuning_on = tf.data.Options()
    autotuning_on.autotune.enabled = True
    autotuned = as_trainer.with_options(autotuning_on)
    assert autotuned.options().autotune.enabled and not as_trainer.options().autotune.enabled

    results = {}
    for name, validation in (("autotuning on (tf.data default)", autotuned), ("batches_in_memory", as_trainer)):
        waits = fit_and_measure(validation, args.periods, args.period_seconds)
        results[name] = waits
        print(
            f"{name}: waits before each evaluation (s): {' '.join(f'{w:.2f}' for w in waits)}; total {sum(waits):.1f} s"
        )
    training = args.periods * args.period_seconds
    print(
        f"{args.periods} periods of {args.period_seconds:.0f} s: "
        + "; ".join(
            f"{name} stalled {sum(w):.1f} s ({100 * sum(w) / training:.1f}% of the training time)"
            for name, w in results.items()
        )
    )


if __name__ == "__main__":
    main()
