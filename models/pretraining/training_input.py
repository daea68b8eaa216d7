"""The Trainer's input: step batches read in an order that depends only on the seed, and validation batches.

A step batch holds the examples of one optimizer step: `trainer.batch_size * gradient_accumulation_steps`
of them, over all replicas (tf.distribute splits it; `BertPretrainer` splits each replica's part into
micro-batches). Reading them in batches of the step's size, rather than in micro-batches regrouped later,
makes the stream of examples the same whatever the accumulation and replica count: a run with 2
micro-batches of 32 reads the same 64 examples per step as one with a batch of 64.

The order is a function of `trainer.seed` alone: each epoch the files are shuffled with that seed and the epoch's
number, read `READ_FILES_AT_ONCE` at a time in a deterministic interleave, and the records shuffled likewise in a
buffer of `SHUFFLE_BUFFER` (`read_batches`). TFXIO's dataset factory (`fn_args.data_accessor`) reads almost the
same way, but its interleave takes as many files at a time as the machine has cores (its cycle length is
AUTOTUNE, with no option to fix it) and its reshuffling depends on the process's history, so the order, and a
resumed run's input, changed with the machine; hence this reader, over the transformed feature spec.
Under multi-worker training each worker keeps its replicas' slices of every step batch
(`AutoShardPolicy.DATA`), so the workers together train on the step batches one device would. Every step batch
carries `ROW_IN_STEP`, each example's row in it, from which its dropout masks are keyed.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from configs.run_config import PretrainingDataConfig, TrainerConfig
from models.pretraining.bert_pretrainer import ROW_IN_STEP
from models.pretraining_data import masking
from models.training.dataset_options import without_autotuning

# Files read at a time (the interleave's cycle length): fixed, so that the order is the same on every machine.
READ_FILES_AT_ONCE = 4
# Records shuffled at a time (TFXIO's default).
SHUFFLE_BUFFER = 10_000
_EPOCHS = 1 << 40  # "forever"
_EPOCH_SEED_STRIDE = 1_000_003

FeatureSpec = Mapping[str, tf.io.FixedLenFeature]


def step_batch_size(config: TrainerConfig) -> int:
    """Examples per optimizer step, over all replicas and micro-batches."""
    return config.batch_size * config.gradient_accumulation_steps


def read_batches(file_patterns: list[str], feature_spec: FeatureSpec, batch_size: int, seed: int) -> tf.data.Dataset:
    """Repeating, shuffled batches of parsed tf.Examples from TFRecord files (gzipped where named `*.gz`).

    Epoch e reads the files and shuffles the records with a seed of `seed` and e, each shuffle fixed
    (`reshuffle_each_iteration=False`): tf.data's reshuffling draws its seeds from a generator shared by every
    dataset of the process with the same seeds, so the order depended on how many had been iterated before (the
    validation batches, another run in the same process). TensorFlow combines an op's seed with the global seed,
    which the Trainer sets to `trainer.seed` first.
    """
    paths = sorted(path for pattern in file_patterns for path in tf.io.gfile.glob(pattern))
    if not paths:
        raise FileNotFoundError(f"no training files match {file_patterns}")
    compression = "GZIP" if all(path.endswith(".gz") for path in paths) else ""

    def epoch(index: tf.Tensor) -> tf.data.Dataset:
        epoch_seed = tf.constant(seed, tf.int64) * _EPOCH_SEED_STRIDE + index
        files = tf.data.Dataset.from_tensor_slices(paths).shuffle(
            len(paths), seed=epoch_seed, reshuffle_each_iteration=False
        )
        records = files.interleave(
            lambda path: tf.data.TFRecordDataset(path, compression),
            cycle_length=READ_FILES_AT_ONCE,
            num_parallel_calls=READ_FILES_AT_ONCE,
            deterministic=True,
        )
        return records.shuffle(SHUFFLE_BUFFER, seed=epoch_seed, reshuffle_each_iteration=False)

    batches = tf.data.Dataset.range(_EPOCHS).flat_map(epoch).batch(batch_size, drop_remainder=True)
    return batches.map(
        lambda serialized: tf.io.parse_example(serialized, dict(feature_spec)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def _with_rows_in_step(batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    rows = tf.shape(next(iter(batch.values())), out_type=tf.int64)[0]
    return {**batch, ROW_IN_STEP: tf.range(rows, dtype=tf.int64)}


def _sharded_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def step_batches(
    file_patterns: list[str],
    feature_spec: FeatureSpec,
    config: TrainerConfig,
    data: PretrainingDataConfig,
    vocab_path: str,
    vocab_size: int,
) -> tf.data.Dataset:
    """The training stream: repeating step batches with `ROW_IN_STEP` (and dynamic masks, if configured)."""
    dataset = read_batches(file_patterns, feature_spec, step_batch_size(config), config.seed)
    if data.dynamic_masking:
        settings = masking.MaskingSettings.from_config(data)
        dataset = masking.with_dynamic_masks(dataset, vocab_path, vocab_size, settings, config.seed)
    return _sharded_by_data(dataset.map(_with_rows_in_step)).prefetch(tf.data.AUTOTUNE)


def validation_batches(
    file_patterns: list[str],
    feature_spec: FeatureSpec,
    config: TrainerConfig,
    data: PretrainingDataConfig,
    vocab_path: str,
    vocab_size: int,
) -> tf.data.Dataset:
    """`trainer.eval_steps` batches of `trainer.batch_size` of the eval split, read once and kept in memory."""
    dataset = read_batches(file_patterns, feature_spec, config.batch_size, config.seed)
    if data.dynamic_masking:  # the same masks at every evaluation, so the figures compare
        settings = masking.MaskingSettings.from_config(data)
        dataset = masking.with_dynamic_masks(dataset, vocab_path, vocab_size, settings, config.seed)
    return batches_in_memory(dataset, config.eval_steps)


def batches_in_memory(dataset: tf.data.Dataset, steps: int) -> tf.data.Dataset:
    """The first `steps` batches of `dataset`, read once and then repeated from memory, without autotuning.

    Keras starts a new iterator over the validation data at every evaluation and drops the previous one, which
    with autotuning on stalls up to a minute (`models.training.dataset_options`). Every evaluation reads the same
    batches, so the figures compare across periods.
    """
    batches = list(dataset.take(steps))
    if not batches:
        raise ValueError("the eval split gave no batch: it has fewer examples than one batch (trainer.batch_size)")
    stacked = tf.nest.map_structure(lambda *tensors: tf.stack(tensors), *batches)
    return without_autotuning(tf.data.Dataset.from_tensor_slices(stacked).repeat())
