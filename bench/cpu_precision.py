"""Benchmark: the pre-training step of a preset on this CPU in float32 and mixed bfloat16, with and without XLA.

The Trainer's own model and optimizer (`trainer_module.build_pretrainer` with the preset's trainer settings), on
synthetic batches of the preset's length, batch and predictions (`bench/train_step.py`'s), every variant built
first and then timed in turns (two rounds), so that a change in the machine's speed falls on all of them alike.
Prints sequences per second of each and its ratio to float32 with XLA (the Trainer's default).

    .venv/bin/python bench/cpu_precision.py [--preset tiny-cpu-hour] [--vocab-size 8000] [--steps 60]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.train_step import synthetic_batches  # noqa: E402
from configs import presets  # noqa: E402
from models.pretraining.trainer_module import build_pretrainer  # noqa: E402

VARIANTS = [("", True), ("", False), ("mixed_bfloat16", True), ("mixed_bfloat16", False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny-cpu-hour")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    config = presets.preset(args.preset)
    data, trainer = config.data, config.trainer
    rows = synthetic_batches(
        trainer.batch_size, data.max_seq_length, data.max_predictions_per_seq, vocab_size=args.vocab_size
    )
    stacked = {name: np.stack([row[name] for row in rows]) for name in rows[0]}
    batches = tf.data.Dataset.from_tensor_slices(stacked).repeat().prefetch(2)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}; preset {args.preset}, batch "
        f"{trainer.batch_size}, {data.max_seq_length} tokens, {data.max_predictions_per_seq} predictions"
    )
    models = {}
    for precision, jit in VARIANTS:
        steps_only = dataclasses.replace(
            trainer, mixed_precision=precision, jit_compile=jit, time_budget_minutes=0, warmup_fraction=0
        )
        keras.utils.set_random_seed(0)
        model = build_pretrainer(config.model, args.vocab_size, steps_only)
        model.fit(batches, steps_per_epoch=3, epochs=1, verbose=0)  # trace (and compile)
        models[(precision or "float32", jit)] = model
    rates: dict[tuple, list[float]] = {key: [] for key in models}
    for _ in range(2):
        for key, model in models.items():
            start = time.perf_counter()
            model.fit(batches, steps_per_epoch=args.steps, epochs=1, verbose=0)
            rates[key].append(args.steps * trainer.batch_size / (time.perf_counter() - start))
    reference = max(rates[("float32", True)])
    print("| precision | XLA | sequences/s (two rounds) | best / float32 with XLA |")
    print("|---|---|---|---|")
    for (precision, jit), values in rates.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"| {precision} | {'yes' if jit else 'no'} | {shown} | {max(values) / reference:.2f} |")


if __name__ == "__main__":
    main()
