"""Random numbers that are a pure function of a key: the same key gives the same draw, in any batch.

Pre-training instances must not depend on how Beam batches documents or how many workers run:
each draw is `hash(key, stream, index)`, where the key comes from the run's seed, the document and
its copy, the stream names what the draw is for (split point, masked positions, ...) and the index
is the draw's position inside that document's stream. The hash is SplitMix64's finaliser, in
TensorFlow integer ops, so it runs in the exported transform graph as well as in Beam.
"""

from __future__ import annotations

import tensorflow as tf

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB

# Streams: one per purpose, so draws for different purposes never coincide.
TARGET_LENGTH = 1
SHORT = 2
SPLIT = 3
IS_RANDOM = 4
PARTNER = 5
PARTNER_START = 6
MASK_ORDER = 7
MASK_KIND = 8
MASK_TOKEN = 9


def _u64(value: tf.Tensor) -> tf.Tensor:
    value = tf.convert_to_tensor(value)
    if value.dtype == tf.uint64:
        return value
    return tf.bitcast(tf.cast(value, tf.int64), tf.uint64)


def _mix(z: tf.Tensor) -> tf.Tensor:
    z = (z ^ tf.bitwise.right_shift(z, tf.constant(30, tf.uint64))) * tf.constant(_MIX1, tf.uint64)
    z = (z ^ tf.bitwise.right_shift(z, tf.constant(27, tf.uint64))) * tf.constant(_MIX2, tf.uint64)
    return z ^ tf.bitwise.right_shift(z, tf.constant(31, tf.uint64))


def _mix_int(z: int) -> int:
    """`_mix` on a Python int (for constants: no ops in the graph)."""
    mask = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * _MIX1) & mask
    z = ((z ^ (z >> 27)) * _MIX2) & mask
    return z ^ (z >> 31)


def _counter(key: tf.Tensor, value: tf.Tensor | int) -> tf.Tensor:
    """SplitMix64's step: key + golden * (value + 1), in uint64 (wrapping)."""
    return _u64(key) + tf.constant(_GOLDEN, tf.uint64) * (_u64(value) + tf.constant(1, tf.uint64))


def combine(key: tf.Tensor, value: tf.Tensor | int) -> tf.Tensor:
    """A new int64 key from a key and a value (broadcasting), e.g. a document key and a copy index."""
    return tf.bitcast(_mix(_counter(key, value)), tf.int64)


def string_key(seed: int, strings: tf.Tensor) -> tf.Tensor:
    """An int64 key per string (a document id), mixed with the run's seed."""
    return combine(tf.strings.to_hash_bucket_fast(strings, 2**63 - 1), tf.constant(seed, tf.int64))


def bits(key: tf.Tensor, stream: int, index: tf.Tensor | int = 0) -> tf.Tensor:
    """64 random bits (as uint64) for each (key, index), broadcasting key against index.

    The stream is folded into the key as a mixed constant (computed in Python), so a draw is one mix.
    """
    stream_key = _u64(key) ^ tf.constant(_mix_int(stream * _GOLDEN & ((1 << 64) - 1)), tf.uint64)
    return _mix(_counter(stream_key, index))


def uniform(key: tf.Tensor, stream: int, index: tf.Tensor | int = 0) -> tf.Tensor:
    """A float32 in [0, 1) per (key, index)."""
    top24 = tf.bitwise.right_shift(bits(key, stream, index), tf.constant(40, tf.uint64))
    return tf.cast(top24, tf.float32) * (1.0 / (1 << 24))


def below(key: tf.Tensor, stream: int, count: tf.Tensor, index: tf.Tensor | int = 0) -> tf.Tensor:
    """An int64 uniform in [0, count - 1] per (key, index); 0 where count is 0 or less."""
    count = tf.maximum(tf.cast(count, tf.int64), 1)
    top31 = tf.bitcast(tf.bitwise.right_shift(bits(key, stream, index), tf.constant(33, tf.uint64)), tf.int64)
    return top31 % count
