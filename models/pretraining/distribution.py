"""tf.distribute strategies for pre-training, and where each worker writes.

`trainer.strategy` picks one: `default` (one device), `mirrored` (synchronous data parallelism over
the local GPUs, or the CPU), `multi_worker` (MultiWorkerMirroredStrategy over the cluster that the
`TF_CONFIG` environment variable describes, as Kubeflow's TFJob or Vertex AI set it). Under
multi-worker training every worker runs the same program and takes part in saving; only the
chief's files are kept, the others write to a scratch folder (`write_dir`) that is removed.
"""

from __future__ import annotations

import os

import tensorflow as tf


def strategy_for(name: str) -> tf.distribute.Strategy:
    """The strategy called `name` (see `configs.run_config.STRATEGIES`)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"trainer.strategy={name!r}; expected 'default', 'mirrored' or 'multi_worker'")


def in_multi_worker_mode(strategy: tf.distribute.Strategy) -> bool:
    """Whether `strategy` spans several worker processes (a cluster in TF_CONFIG)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is not None and bool(resolver.cluster_spec().as_dict())


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the outputs that are kept (always, outside multi-worker training)."""
    if not in_multi_worker_mode(strategy):
        return True
    task_type, task_id = strategy.cluster_resolver.task_type, strategy.cluster_resolver.task_id
    return task_type is None or task_type == "chief" or (task_type == "worker" and task_id == 0)


def write_dir(directory: str, strategy: tf.distribute.Strategy) -> str:
    """`directory` for the chief; a per-worker scratch folder beside it for the other workers."""
    if is_chief(strategy):
        return directory
    resolver = strategy.cluster_resolver
    parent, name = os.path.split(directory.rstrip("/"))
    return os.path.join(parent, f".{name}.{resolver.task_type}-{resolver.task_id}.scratch")


def discard_scratch(directory: str, strategy: tf.distribute.Strategy) -> None:
    """Removes what a non-chief worker wrote to its scratch folder for `directory`."""
    scratch = write_dir(directory, strategy)
    if scratch != directory and tf.io.gfile.exists(scratch):
        tf.io.gfile.rmtree(scratch)
