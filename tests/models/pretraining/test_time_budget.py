"""Pre-training for a time budget: the learning rate follows the training clock, training stops when the budget is
spent, and a killed run resumes at the time its checkpoint had used. The steps are timed by a clock of the test's
own (1.5 s a step), so the verdicts do not depend on the machine's speed."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs.run_config import TrainerConfig
from models.pretraining.time_budget import TrainingClock
from models.pretraining.trainer_module import build_pretrainer, train
from models.pretraining.training_callbacks import PretrainingCheckpoints, TrainingProgress
from tests.models.tiny import MODEL, VOCAB, KillAt, pretraining_batch

STEP_SECONDS = 1.5
# 15 s of training: 10 steps of 1.5 s, warm-up over the first 3 s; the step count (1000) is only an upper bound.
CONFIG = TrainerConfig(
    train_steps=1000,
    eval_steps=0,
    batch_size=8,
    checkpoint_every_steps=3,
    learning_rate=1e-2,
    time_budget_minutes=0.25,
    warmup_fraction=0.2,
    schedule="cosine",
    clip_norm=1.0,
    jit_compile=False,
    log_every_steps=5,
    keep_checkpoints=5,
)


def fake_time():
    """Each call 1.5 s later: a step (from its begin to its end) takes 1.5 s of this clock's time."""
    ticks = itertools.count()
    return lambda: next(ticks) * STEP_SECONDS


def batches():
    data = [pretraining_batch(seed=i) for i in range(40)]
    return tf.data.Dataset.from_tensor_slices({k: np.stack([d[k] for d in data]) for k in data[0]}).repeat()


def pretrainer_and_checkpoints(directory, seed=0):
    keras.utils.set_random_seed(seed)
    clock = TrainingClock()
    pretrainer = build_pretrainer(MODEL, len(VOCAB), CONFIG, clock)
    pretrainer(pretraining_batch())
    pretrainer.optimizer.build(pretrainer.trainable_variables)
    return pretrainer, PretrainingCheckpoints(str(directory), pretrainer, CONFIG.keep_checkpoints, clock=clock)


def cosine_rate(seconds):
    if seconds < 3.0:
        return 1e-2 * seconds / 3.0
    return 1e-2 * (1 + np.cos(np.pi * min((seconds - 3.0) / 12.0, 1.0))) / 2


def test_training_stops_at_the_budget_and_the_rate_follows_the_clock(tmp_path):
    pretrainer, checkpoints = pretrainer_and_checkpoints(tmp_path)
    lines = []
    progress = TrainingProgress(
        1000, 8, 16, 1e6, 1e9, print_fn=lines.append, clock=checkpoints.clock, budget_seconds=15.0
    )
    history = train(pretrainer, batches(), CONFIG, checkpoints, [progress], time_source=fake_time(), verbose=0)
    assert checkpoints.step == 10, "15 s of 1.5 s steps, far below train_steps"
    assert checkpoints.clock.elapsed == 15.0
    assert checkpoints.saved_steps == [3, 6, 9, 10], "the final state is saved too"
    np.testing.assert_allclose(history.history["training_minutes"], [7.5 / 60, 15 / 60])
    assert lines[0].startswith("step 5 (50% of the time budget)") and lines[1].startswith("step 10 (100% of the")
    assert lines[1].endswith("ETA 0:00:00"), "no budget left, whatever the steps left"
    # Logged after steps 5 and 10, at 7.5 s and 15 s of training: by the step count, 5 of 1000 steps would still
    # be in the default warm-up.
    np.testing.assert_allclose(history.history["learning_rate"], [cosine_rate(7.5), cosine_rate(15.0)], atol=1e-9)
    assert history.history["learning_rate"][0] == pytest.approx(1e-2 * (1 + np.cos(np.pi * 4.5 / 12)) / 2)


def test_a_killed_run_resumes_at_its_checkpoints_time_and_ends_as_the_unbroken_run(tmp_path):
    unbroken, unbroken_checkpoints = pretrainer_and_checkpoints(tmp_path / "unbroken")
    train(unbroken, batches(), CONFIG, unbroken_checkpoints, time_source=fake_time(), verbose=0)

    first, checkpoints = pretrainer_and_checkpoints(tmp_path / "killed")
    with pytest.raises(KeyboardInterrupt):
        train(first, batches(), CONFIG, checkpoints, [KillAt(8)], time_source=fake_time(), verbose=0)
    assert checkpoints.saved_steps == [3, 6]

    resumed, resumed_checkpoints = pretrainer_and_checkpoints(tmp_path / "killed", seed=1)
    train(resumed, batches(), CONFIG, resumed_checkpoints, time_source=fake_time(), verbose=0)
    assert resumed_checkpoints.restored_step == 6
    assert resumed_checkpoints.step == 10, "9 s from the checkpoint, then 4 steps of 1.5 s"
    assert resumed_checkpoints.clock.elapsed == 15.0
    for a, b in zip(resumed.trainable_variables, unbroken.trainable_variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    again, again_checkpoints = pretrainer_and_checkpoints(tmp_path / "killed", seed=2)
    history = train(again, batches(), CONFIG, again_checkpoints, time_source=fake_time(), verbose=0)
    assert history.history == {} and again_checkpoints.step == 10, "a spent budget trains no further"
