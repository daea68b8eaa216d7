"""Where the Trainer keeps its resumable checkpoints (one folder per result: settings and input content), and the
validation batches it evaluates every logging period."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx

from configs.run_config import TrainerConfig
from models.pretraining.trainer_module import training_checkpoint_dir
from models.pretraining.training_input import batches_in_memory

TRAINER = TrainerConfig(train_steps=100, batch_size=32, gradient_accumulation_steps=2)


def inputs(root, examples: bytes = b"instances", vocabulary: bytes = b"[PAD]\nthe\n"):
    """Transformed examples and a vocabulary written under `root` (an artifact folder of its own)."""
    (root / "Split-train").mkdir(parents=True)
    (root / "Split-train" / "part-00000.gz").write_bytes(examples)
    (root / "vocab.txt").write_bytes(vocabulary)
    return [str(root / "Split-train" / "*")], str(root / "vocab.txt")


def checkpoint_dir(root, execution: int, trainer: TrainerConfig = TRAINER, **contents) -> str:
    train_files, vocab = inputs(root / f"transform_{execution}", **contents)
    custom_config = {"data": {"vocab_size": 2000}, "model": {"num_layers": 2}, "trainer": dataclasses.asdict(trainer)}
    args = tfx.components.FnArgs(
        custom_config=custom_config,
        train_files=train_files,
        model_run_dir=f"{root}/pipeline_root/Trainer/model_run/{execution}",
    )
    return training_checkpoint_dir(args, trainer, vocab)


def test_a_rerun_with_the_same_settings_and_data_finds_the_same_folder(tmp_path):
    first, rerun = checkpoint_dir(tmp_path, 7), checkpoint_dir(tmp_path, 9)  # another Transform, same content
    assert first == rerun
    assert first.startswith(f"{tmp_path}/pipeline_root/Trainer/checkpoints/"), "beside the executions' outputs"


@pytest.mark.parametrize(
    "change",
    [
        {"log_every_steps": 10},
        {"eval_steps": 0},
        {"keep_checkpoints": 9},
        {"checkpoint_every_steps": 50},
        {"strategy": "mirrored"},
        {"batch_size": 16, "gradient_accumulation_steps": 4},  # the same step batch of 64
        {"jit_compile": False},
    ],
)
def test_a_setting_that_does_not_change_the_result_resumes(tmp_path, change):
    assert checkpoint_dir(tmp_path, 2, dataclasses.replace(TRAINER, **change)) == checkpoint_dir(tmp_path, 1)


@pytest.mark.parametrize(
    "change",
    [
        {"learning_rate": 2e-3},
        {"train_steps": 200},  # the schedule's decay
        {"batch_size": 16},  # a step batch of 32
        {"seed": 1},
        {"mixed_precision": "mixed_bfloat16"},
        {"clip_norm": 0.5},
    ],
)
def test_a_setting_that_changes_the_result_starts_afresh(tmp_path, change):
    assert checkpoint_dir(tmp_path, 2, dataclasses.replace(TRAINER, **change)) != checkpoint_dir(tmp_path, 1)


def test_other_instances_or_another_vocabulary_start_afresh(tmp_path):
    same = checkpoint_dir(tmp_path, 1)
    assert checkpoint_dir(tmp_path, 2, examples=b"other instances") != same
    assert checkpoint_dir(tmp_path, 3, vocabulary=b"[PAD]\na\n") != same


def test_every_evaluation_gets_the_same_batches_without_reading_the_input_again():
    """Keras starts a new iterator over the validation data at every evaluation: the input pipeline must not be
    read again each time."""
    elements_read = tf.Variable(0, dtype=tf.int64)

    def counted(x):
        elements_read.assign_add(1)
        return {"ids": x, "twice": 2 * x}

    # No read-ahead upstream (by default tf.data injects a prefetch, fuses map and batch into a parallel op, and
    # autotunes): what is read is what is asked, however loaded the machine is.
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    options.experimental_optimization.inject_prefetch = False
    upstream = tf.data.Dataset.range(100).map(counted).batch(4).with_options(options)
    validation = batches_in_memory(upstream, steps=3)
    read_when_built = int(elements_read.numpy())
    assert read_when_built == 12, "the three batches"

    evaluations = [list(validation.take(3).as_numpy_iterator()) for _ in range(3)]
    assert int(elements_read.numpy()) == read_when_built, "not read again by later evaluations"
    expected = [np.arange(4 * i, 4 * i + 4) for i in range(3)]
    for batches in evaluations:
        assert [b["ids"].tolist() for b in batches] == [e.tolist() for e in expected]
        assert [b["twice"].tolist() for b in batches] == [(2 * e).tolist() for e in expected]


def test_validation_iterators_are_dropped_without_waiting_for_an_autotuning_thread():
    """Dropping an iterator whose autotuning is on waits for its model thread to wake (up to a minute): Keras drops
    one at every evaluation. The in-memory batches need no tuning, so it is off."""
    validation = batches_in_memory(tf.data.Dataset.range(8).batch(4), steps=2)
    assert validation.options().autotune.enabled is False
    assert [b.tolist() for b in validation.take(3).as_numpy_iterator()] == [[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 2, 3]]


def test_an_eval_split_smaller_than_a_batch_is_a_clear_error():
    with pytest.raises(ValueError, match="eval split gave no batch"):
        batches_in_memory(tf.data.Dataset.range(3).batch(4, drop_remainder=True), steps=2)
