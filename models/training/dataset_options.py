"""tf.data options for inputs whose iterators are short-lived.

Dropping a tf.data iterator whose autotuning is on (tf.data's default) waits for the iterator's autotuning model
thread, which sleeps between optimisation rounds for longer and longer, up to a minute (native stack:
`RootDataset::Iterator::~Iterator` waiting in `UnboundedThreadPool::LogicalThreadWrapper::~LogicalThreadWrapper`).
Keras drops the validation iterator at every evaluation, and a finished fine-tuning run's iterators are dropped
whenever Python collects them, often inside the next run: 0-60 s of stall each time (docs/benchmarks.md, "The
gaps between logging periods"). Such inputs go without autotuning.
"""

from __future__ import annotations

import tensorflow as tf


def without_autotuning(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` with tf.data's autotuning off, so its iterators are dropped without waiting."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
