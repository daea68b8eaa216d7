"""Benchmark: our BERT pre-training step against keras-hub's own BertMaskedLM of the same shape.

Same backbone shape, vocabulary, sequence length, batch, optimizer (AdamW, warm-up + decay) and XLA,
in the same process: keras-hub's `BertMaskedLM` (masked LM only) is the reference; ours adds the
next-sentence head and its loss. Prints sequences per second of each, the ratio, and MFU against a
fp32 matmul ceiling measured in the same run (model FLOPs as in `models.pretraining.flops`).

    .venv/bin/python bench/train_step.py [--presets tiny mini] [--seq-length 128] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from configs import presets
from models import features
from models.encoder import backbone as backbone_lib
from models.pretraining import flops
from models.pretraining.bert_pretrainer import BertPretrainer
from models.training.optimization import create_optimizer

VOCAB_SIZE = 30522


def synthetic_batches(
    batch_size: int, seq_length: int, predictions: int, count: int = 8, vocab_size: int = VOCAB_SIZE
) -> list[dict]:
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(count):
        positions = np.sort(rng.choice(np.arange(1, seq_length - 1), (batch_size, predictions)), axis=1)
        batches.append(
            {
                features.INPUT_WORD_IDS: rng.integers(5, vocab_size, (batch_size, seq_length)),
                features.INPUT_TYPE_IDS: np.repeat(
                    [[0] * (seq_length // 2) + [1] * (seq_length - seq_length // 2)], batch_size, 0
                ),
                features.INPUT_MASK: np.ones((batch_size, seq_length), np.int64),
                features.MASKED_LM_POSITIONS: positions,
                features.MASKED_LM_IDS: rng.integers(5, vocab_size, (batch_size, predictions)),
                features.MASKED_LM_WEIGHTS: np.ones((batch_size, predictions), np.float32),
                features.NEXT_SENTENCE_LABELS: rng.integers(0, 2, batch_size),
            }
        )
    return batches


def ours(model_config, batches):
    model = BertPretrainer(backbone_lib.build_backbone(model_config, VOCAB_SIZE))
    optimizer = create_optimizer("adamw", 1e-4, 10, 10_000, clip_norm=1.0, summed_gradients=True)
    model.compile(optimizer=optimizer, jit_compile=True)
    data = tf.data.Dataset.from_tensor_slices({k: np.stack([b[k] for b in batches]) for k in batches[0]})
    return model, data


def reference(model_config, batches):
    model = keras_hub.models.BertMaskedLM(backbone_lib.build_backbone(model_config, VOCAB_SIZE), preprocessor=None)
    model.compile(
        optimizer=create_optimizer("adamw", 1e-4, 10, 10_000, clip_norm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy()],
        jit_compile=True,
    )
    inputs = {
        "token_ids": np.stack([b[features.INPUT_WORD_IDS] for b in batches]).astype(np.int32),
        "segment_ids": np.stack([b[features.INPUT_TYPE_IDS] for b in batches]).astype(np.int32),
        "padding_mask": np.stack([b[features.INPUT_MASK] for b in batches]).astype(np.int32),
        "mask_positions": np.stack([b[features.MASKED_LM_POSITIONS] for b in batches]).astype(np.int32),
    }
    labels = np.stack([b[features.MASKED_LM_IDS] for b in batches])
    weights = np.stack([b[features.MASKED_LM_WEIGHTS] for b in batches])
    return model, tf.data.Dataset.from_tensor_slices((inputs, labels, weights))


def sequences_per_second(model, data, batch_size: int, steps: int) -> float:
    data = data.repeat().prefetch(2)
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace and XLA-compile
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "mini"])
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--predictions", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    ceiling = flops.measure_matmul_flops(size=2048, repeats=5)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}, keras {keras.__version__},"
        f" keras-hub {keras_hub.__version__}"
    )
    print(f"fp32 matmul ceiling (2048x2048): {ceiling / 1e9:.1f} GFLOP/s")
    print("| preset | ours seq/s | keras-hub BertMaskedLM seq/s | ours / reference | ours MFU |")
    print("|---|---|---|---|---|")
    for name in args.presets:
        model_config = presets.preset(name).model
        batches = synthetic_batches(args.batch_size, args.seq_length, args.predictions)
        keras.utils.set_random_seed(0)
        reference_rate = sequences_per_second(*reference(model_config, batches), args.batch_size, args.steps)
        keras.utils.set_random_seed(0)
        our_rate = sequences_per_second(*ours(model_config, batches), args.batch_size, args.steps)
        per_sequence = flops.pretraining_flops_per_sequence(model_config, VOCAB_SIZE, args.seq_length, args.predictions)
        mfu = our_rate * per_sequence / ceiling
        print(
            f"| {name} | {our_rate:.1f} | {reference_rate:.1f} | {our_rate / reference_rate:.2f} | {100 * mfu:.1f}% |"
        )


if __name__ == "__main__":
    main()
