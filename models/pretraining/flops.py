"""Model FLOPs of a BERT pre-training step, and the matmul ceiling that MFU is measured against.

MFU (model FLOPs utilisation) = model FLOPs per second / the FLOP/s a large matmul reaches on this
machine, measured when training starts. The model FLOPs count the matmuls of the encoder, the
attention scores and the MLM head (at the masked positions only, as our head computes them),
3 times the forward pass for forward + backward, as in the PaLM paper's MFU. Embedding lookups,
softmax and LayerNorm are left out.
"""

from __future__ import annotations

import time

from configs.run_config import ModelConfig


def pretraining_flops_per_sequence(
    model: ModelConfig, vocab_size: int, seq_length: int, predictions: int, next_sentence: bool = True
) -> float:
    """Training FLOPs (forward and backward) of one sequence.

    Per token and layer, forward: 8 h^2 (Q, K, V, output projections) + 4 h i (feed-forward)
    + 4 s h (attention scores and weighted values), 2 FLOPs per multiply-add. The MLM head adds
    2 h^2 + 2 h V per prediction, the pooler and NSP head 2 h^2 + 4 h per sequence (an objective without the
    next-sentence task, `next_sentence=False`, trains neither).
    """
    h, i, s = model.hidden_dim, model.intermediate_dim, seq_length
    encoder = model.num_layers * s * (8 * h * h + 4 * h * i + 4 * s * h)
    heads = predictions * (2 * h * h + 2 * h * vocab_size) + (2 * h * h + 4 * h if next_sentence else 0)
    return 3.0 * (encoder + heads)


def measure_matmul_flops(size: int = 1024, repeats: int = 10, dtype: str = "float32") -> float:
    """FLOP/s of a `size` x `size` TensorFlow matmul on the default device (best of `repeats`)."""
    import tensorflow as tf  # here, so that the FLOP count above needs no TensorFlow (bench/gpu_masked_lm_proxy.py)

    a = tf.random.normal([size, size], dtype=dtype)
    b = tf.random.normal([size, size], dtype=dtype)
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best
