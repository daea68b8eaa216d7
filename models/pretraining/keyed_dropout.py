"""Dropout whose masks depend on the example, not on the device, the micro-batch or the run's history.

Keras' `Dropout` draws its masks from a `SeedGenerator`: a stream that depends on how many masks were drawn
before and on each mask's shape, and whose state a checkpoint does not hold. A batch split over two replicas,
or over two micro-batches, therefore gets other masks than the whole batch on one device, and a resumed run
draws the masks of its first steps again. Here each element is kept or dropped by a hash (`keyed_random`) of
the example's key, the layer's index and the element's position inside the example; the pre-training step
derives each example's key from the run's seed, the number of step batches read before and the example's row
in the step batch (`BertPretrainer`). A step drops the same units of the same examples however the batch is
split, and a resumed run drops what the uninterrupted run would have.

`use_keyed_dropout(model)` makes every `keras.layers.Dropout` inside a model keyed (keras-hub's BERT encoder:
the embeddings, and in each block the attention probabilities, the attention output and the feed-forward
output); they draw keyed masks while an `example_keys(keys)` block is active, in training. Outside of one, or
in inference, they are Keras' `Dropout` as before. The layers' configs are unchanged, so an encoder saved and
loaded elsewhere (keras-hub, the GLUE classifier) has plain dropout.

Example:
>>> layer = keras.layers.Dropout(0.5)
>>> use_keyed_dropout(layer)
1
>>> x = tf.ones([2, 4])
>>> with example_keys(tf.constant([7, 7], tf.int64)):
...     y = layer(x, training=True)
>>> bool(tf.reduce_all(y[0] == y[1]))  # same key, same mask
True
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import keras
import tensorflow as tf

from models.pretraining_data import keyed_random

# keyed_random streams of the dropout layers: STREAM_BASE + the layer's index in its model (the data streams
# of `keyed_random` are small numbers; these cannot meet them).
STREAM_BASE = 1 << 20

_ACTIVE = threading.local()  # per thread: MirroredStrategy traces each replica's step in a thread of its own


@contextlib.contextmanager
def example_keys(keys: tf.Tensor) -> Iterator[None]:
    """Within the block, keyed dropout layers called in training use `keys` (int64 [batch], one per example)."""
    stack = getattr(_ACTIVE, "keys", None)
    if stack is None:
        stack = _ACTIVE.keys = []
    stack.append(keys)
    try:
        yield
    finally:
        stack.pop()


def _active_keys() -> tf.Tensor | None:
    stack = getattr(_ACTIVE, "keys", None)
    return stack[-1] if stack else None


class KeyedDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` whose mask is a hash of the example's key, the layer's stream and the element.

    Made from an existing Dropout by `use_keyed_dropout` (which sets `stream`), not constructed directly.
    """

    stream: int = STREAM_BASE

    def call(self, inputs, training=False):
        keys = _active_keys()
        if not training or self.rate == 0 or keys is None:
            return super().call(inputs, training=training)
        rank = inputs.shape.rank
        positions = tf.reshape(tf.range(tf.reduce_prod(tf.shape(inputs)[1:]), dtype=tf.int64), tf.shape(inputs)[1:])
        uniform = keyed_random.uniform(tf.reshape(keys, [-1] + [1] * (rank - 1)), self.stream, positions)
        keep = uniform >= self.rate
        scaled = inputs * tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return tf.where(keep, scaled, tf.zeros_like(inputs))


def use_keyed_dropout(model: keras.layers.Layer) -> int:
    """Makes every Dropout layer of `model` (itself included) a KeyedDropout, each with a stream of its own by its
    order in the model; returns how many there are.

    Raises ValueError for a Dropout with a `noise_shape` (its mask is shared along some axes; not supported).
    """
    layers = [layer for layer in [model, *model._flatten_layers()] if isinstance(layer, keras.layers.Dropout)]
    unique = list({id(layer): layer for layer in layers}.values())
    for index, layer in enumerate(unique):
        if layer.noise_shape is not None:
            raise ValueError(f"dropout layer {layer.name} has a noise_shape; keyed dropout does not support one")
        layer.__class__ = KeyedDropout
        layer.stream = STREAM_BASE + index
    return len(unique)
