"""What exactness costs: pre-training throughput and checkpoint time of the `mini` shape, this checkout beside another.

Run it in two checkouts in one session (for example this commit and the one before, from `git worktree add`),
then compare the figures of the same machine:

    python bench/exactness_cost.py --label new --out build/exactness_new.json
    (cd ../before && PYTHONPATH=$PWD python bench/exactness_cost.py --label old --out ../main/build/exactness_old.json)
    python bench/exactness_cost.py --compare build/exactness_old.json build/exactness_new.json

It trains BERT-Mini (4 layers, 256 wide, sequences of 128 with 20 predictions, vocabulary 16,000) with AdamW,
clipping at 1.0, warm-up and decay, XLA, on in-memory batches of 32, with dropout 0.1 and 0.0 (dropout 0 shows
what the dropout masks themselves cost), and with 2 micro-batches of 16 per step; then times checkpoint saves.
Works with either layout of the code (before and after `models/` was grouped by phase).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path

VOCAB_SIZE = 16000
SEQ_LENGTH = 128
PREDICTIONS = 20
STEP_BATCH = 32


def _modules():
    """(build_pretrainer, PretrainingCheckpoints, TrainerConfig, ModelConfig, features), wherever they live."""
    import models
    from configs.run_config import ModelConfig, TrainerConfig
    from models import features

    if (Path(models.__path__[0]) / "trainer_module.py").exists():  # before models/ was grouped by phase
        from models.trainer_module import build_pretrainer
        from models.training_callbacks import PretrainingCheckpoints
    else:
        from models.pretraining.trainer_module import build_pretrainer
        from models.pretraining.training_callbacks import PretrainingCheckpoints

    return build_pretrainer, PretrainingCheckpoints, TrainerConfig, ModelConfig, features


def _trainer_config(TrainerConfig, accumulation: int):
    fields = {f.name for f in dataclasses.fields(TrainerConfig)}
    key = "gradient_accumulation_steps" if "gradient_accumulation_steps" in fields else "grad_accum_steps"
    return TrainerConfig(
        train_steps=10_000,
        batch_size=STEP_BATCH // accumulation,
        learning_rate=5e-4,
        warmup_steps=100,
        **{key: accumulation},
    )


def _batches(features, steps: int):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    data = {
        features.INPUT_WORD_IDS: rng.integers(5, VOCAB_SIZE, (steps * STEP_BATCH, SEQ_LENGTH)),
        features.INPUT_TYPE_IDS: np.repeat([[0] * 64 + [1] * 64], steps * STEP_BATCH, 0),
        features.INPUT_MASK: np.ones((steps * STEP_BATCH, SEQ_LENGTH), np.int64),
        features.MASKED_LM_POSITIONS: np.sort(rng.integers(1, SEQ_LENGTH, (steps * STEP_BATCH, PREDICTIONS)), 1),
        features.MASKED_LM_IDS: rng.integers(5, VOCAB_SIZE, (steps * STEP_BATCH, PREDICTIONS)),
        features.MASKED_LM_WEIGHTS: (rng.random((steps * STEP_BATCH, PREDICTIONS)) < 0.8).astype(np.float32),
        features.NEXT_SENTENCE_LABELS: rng.integers(0, 2, steps * STEP_BATCH),
    }
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(STEP_BATCH, drop_remainder=True).cache().repeat()
    options = tf.data.Options()
    options.autotune.enabled = False  # a dropped autotuned iterator stalls the next fit (docs/benchmarks.md)
    return dataset.with_options(options)


def measure(steps: int, repeats: int) -> dict:
    import keras

    build_pretrainer, PretrainingCheckpoints, TrainerConfig, ModelConfig, features = _modules()
    results = {}
    for name, dropout, accumulation in (("dropout 0.1", 0.1, 1), ("dropout 0.0", 0.0, 1), ("2 micro-batches", 0.1, 2)):
        model_config = ModelConfig(num_layers=4, hidden_dim=256, num_heads=4, intermediate_dim=1024, dropout=dropout)
        keras.utils.set_random_seed(0)
        config = _trainer_config(TrainerConfig, accumulation)
        pretrainer = build_pretrainer(model_config, VOCAB_SIZE, config)
        data = _batches(features, steps)
        if accumulation > 1 and not hasattr(pretrainer, "gradient_accumulation_steps"):
            data = data.unbatch().batch(STEP_BATCH // accumulation)  # Keras' accumulation: one batch per micro-step
            step_batches = steps * accumulation
        else:
            step_batches = steps
        pretrainer.fit(data, steps_per_epoch=step_batches, epochs=1, verbose=0)  # traces and compiles
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            pretrainer.fit(data, steps_per_epoch=step_batches, epochs=1, verbose=0)
            seconds.append(time.perf_counter() - start)
        results[name] = {"sequences_per_second": steps * STEP_BATCH / min(seconds), "seconds": seconds}
        if name == "dropout 0.1":
            with tempfile.TemporaryDirectory() as directory:
                checkpoints = PretrainingCheckpoints(directory, pretrainer, keep=2)
                saves = []
                for _ in range(5):
                    start = time.perf_counter()
                    checkpoints.save()
                    saves.append(time.perf_counter() - start)
                results["checkpoint_save_seconds"] = min(saves)
        del pretrainer
        keras.backend.clear_session()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    args = parser.parse_args()
    if args.compare:
        old, new = (json.loads(p.read_text()) for p in args.compare)
        for name in ("dropout 0.1", "dropout 0.0", "2 micro-batches"):
            a, b = old["results"][name]["sequences_per_second"], new["results"][name]["sequences_per_second"]
            print(f"{name:16} {old['label']}: {a:7.1f} seq/s   {new['label']}: {b:7.1f} seq/s   ratio {b / a:.3f}")
        a, b = old["results"]["checkpoint_save_seconds"], new["results"]["checkpoint_save_seconds"]
        print(f"checkpoint save  {old['label']}: {a:.3f} s   {new['label']}: {b:.3f} s   ratio {b / a:.2f}")
        return 0
    figures = {
        "label": args.label,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "python bench/exactness_cost.py " + " ".join(f"--{k}={v}" for k, v in vars(args).items() if v),
        "results": measure(args.steps, args.repeats),
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
