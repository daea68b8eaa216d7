"""Where the Trainer keeps its resumable checkpoints (one folder per config and input data), and the validation
batches it evaluates every logging period."""

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx

from models.pretraining.trainer_module import batches_in_memory, training_checkpoint_dir


def fn_args(execution: int, learning_rate: float = 1e-3, transform: str = "/root/Transform/transform_graph/5"):
    return tfx.components.FnArgs(
        custom_config={"trainer": {"learning_rate": learning_rate}},
        train_files=[f"{transform.replace('transform_graph', 'transformed_examples')}/Split-train/*"],
        transform_output=transform,
        model_run_dir=f"/root/Trainer/model_run/{execution}",
    )


def test_a_rerun_with_the_same_config_and_data_finds_the_same_folder():
    first, rerun = training_checkpoint_dir(fn_args(7)), training_checkpoint_dir(fn_args(9))
    assert first == rerun
    assert first.startswith("/root/Trainer/checkpoints/"), "beside the executions' outputs, not inside one"


def test_a_changed_config_or_changed_data_never_resumes_a_foreign_checkpoint():
    same = training_checkpoint_dir(fn_args(7))
    assert training_checkpoint_dir(fn_args(8, learning_rate=2e-3)) != same
    assert training_checkpoint_dir(fn_args(8, transform="/root/Transform/transform_graph/6")) != same


def test_every_evaluation_gets_the_same_batches_without_reading_the_input_again():
    """Keras starts a new iterator over the validation data at every evaluation: the input pipeline must not be
    read again each time."""
    elements_read = tf.Variable(0, dtype=tf.int64)

    def counted(x):
        elements_read.assign_add(1)
        return {"ids": x, "twice": 2 * x}

    upstream = tf.data.Dataset.range(100).map(counted).batch(4)
    validation = batches_in_memory(upstream, steps=3)
    read_when_built = int(elements_read.numpy())
    assert 12 <= read_when_built <= 16, "the three batches, at most one more read ahead by tf.data"

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
