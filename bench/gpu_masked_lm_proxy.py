"""GPU proxy for the pre-training step: keras-hub's BertMaskedLM on Keras' JAX backend, bf16.

Our Trainer runs on TensorFlow, which the lent GPU machines do not have; they have JAX. This
script measures the same architecture (keras-hub BertBackbone, the backbone our Trainer uses, with
its masked-LM head) in mixed bfloat16 at sequence length 128, and reports sequences per second
and MFU against a bf16 matmul ceiling measured in the same run, with the FLOP count of
`models.pretraining.flops`. It is a labelled proxy for our step on a GPU, not our step: on CPU,
bench/train_step.py found ours as fast as this same model (ratio 1.00-1.01).

    KERAS_BACKEND=jax python bench/gpu_masked_lm_proxy.py [--presets base] [--batch-size 64 256]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402

from configs import presets  # noqa: E402
from models.pretraining.flops import pretraining_flops_per_sequence  # noqa: E402

VOCAB_SIZE = 30522


def bf16_matmul_flops(size: int = 8192, repeats: int = 10) -> float:
    key = jax.random.PRNGKey(0)
    a = jax.random.normal(key, (size, size), jnp.bfloat16)
    b = jax.random.normal(key, (size, size), jnp.bfloat16)
    matmul = jax.jit(jnp.matmul)
    matmul(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def masked_lm(model_config) -> keras.Model:
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB_SIZE,
        num_layers=model_config.num_layers,
        num_heads=model_config.num_heads,
        hidden_dim=model_config.hidden_dim,
        intermediate_dim=model_config.intermediate_dim,
        dropout=model_config.dropout,
        max_sequence_length=model_config.max_position_embeddings,
    )
    model = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4, weight_decay=0.01, global_clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def sequences_per_second(model, batch_size: int, seq_length: int, predictions: int, steps: int) -> float:
    rng = np.random.default_rng(0)
    x = {
        "token_ids": rng.integers(5, VOCAB_SIZE, (batch_size, seq_length)).astype("int32"),
        "segment_ids": np.zeros((batch_size, seq_length), "int32"),
        "padding_mask": np.ones((batch_size, seq_length), "int32"),
        "mask_positions": np.sort(rng.choice(np.arange(1, seq_length), (batch_size, predictions)), 1).astype("int32"),
    }
    y = rng.integers(5, VOCAB_SIZE, (batch_size, predictions)).astype("int32")
    for _ in range(3):  # compile and warm up
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss).ravel()[0])  # wait for the device
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["base"])
    parser.add_argument("--batch-size", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--predictions", type=int, default=20)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()

    keras.config.set_dtype_policy("mixed_bfloat16")
    ceiling = bf16_matmul_flops()
    print(f"devices: {jax.devices()}; keras {keras.__version__} ({keras.backend.backend()})")
    print(f"keras-hub {keras_hub.__version__}")
    print(f"bf16 matmul ceiling (8192^3): {ceiling / 1e12:.0f} TFLOP/s")
    print("| preset | batch | seq/s | MFU |")
    print("|---|---|---|---|")
    for name in args.presets:
        model_config = presets.preset(name).model
        model = masked_lm(model_config)
        per_sequence = pretraining_flops_per_sequence(model_config, VOCAB_SIZE, args.seq_length, args.predictions)
        for batch_size in args.batch_size:
            rate = sequences_per_second(model, batch_size, args.seq_length, args.predictions, args.steps)
            print(f"| {name} | {batch_size} | {rate:.0f} | {100 * rate * per_sequence / ceiling:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
