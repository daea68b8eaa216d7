"""Two pre-training phases as the Trainer runs them (`configs.training_phases`, `models.pretraining.phase_state`),
in the configuration real runs use: AdamW with weight decay, clipping at 1.0, dropout 0.1, 2 micro-batches per
step. Phase 1 at 16 tokens, phase 2 at 32 (the tiny model's every position); the tolerance is exact equality
unless stated."""

import dataclasses
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs.run_config import PhaseConfig, PretrainingDataConfig, TrainerConfig
from configs.training_phases import training_phases
from models import features
from models.pretraining import phase_state
from models.pretraining.time_budget import TrainingClock
from models.pretraining.trainer_module import build_pretrainer, train
from models.pretraining.training_callbacks import PretrainingCheckpoints
from tests.models.tiny import MODEL, VOCAB, KillAt

MODEL_WITH_DROPOUT = dataclasses.replace(MODEL, dropout=0.1)
DATA = PretrainingDataConfig(max_seq_length=16, max_predictions_per_seq=4)
CONFIG = TrainerConfig(
    train_steps=12,
    eval_steps=0,
    batch_size=4,
    gradient_accumulation_steps=2,
    checkpoint_every_steps=2,
    learning_rate=5e-3,
    warmup_steps=3,
    weight_decay=0.01,
    clip_norm=1.0,
    jit_compile=False,
    log_every_steps=4,
    keep_checkpoints=10,
    later_phases=[PhaseConfig(step_fraction=0.25, max_seq_length=32, max_predictions_per_seq=8)],
)


def instances(count: int, length: int, predictions: int, seed: int) -> dict[str, np.ndarray]:
    """`count` instances in the feature contract that fill all `length` positions: [CLS] A [SEP] B [SEP]."""
    rng = np.random.default_rng(seed)
    first_real = len(features.SPECIAL_TOKENS)
    ids = rng.integers(first_real, len(VOCAB), (count, length))
    half = length // 2
    ids[:, 0], ids[:, half], ids[:, -1] = features.CLS_ID, features.SEP_ID, features.SEP_ID
    types = np.zeros_like(ids)
    types[:, half + 1 :] = 1
    real = [p for p in range(length) if p not in (0, half, length - 1)]
    positions = np.sort(np.stack([rng.choice(real, predictions, replace=False) for _ in range(count)]), axis=1)
    targets = np.take_along_axis(ids, positions, axis=1)
    np.put_along_axis(ids, positions, features.MASK_ID, axis=1)
    return {
        features.INPUT_WORD_IDS: ids,
        features.INPUT_TYPE_IDS: types,
        features.INPUT_MASK: np.ones_like(ids),
        features.MASKED_LM_POSITIONS: positions,
        features.MASKED_LM_IDS: targets,
        features.MASKED_LM_WEIGHTS: np.ones(positions.shape, np.float32),
        features.NEXT_SENTENCE_LABELS: rng.integers(0, 2, count),
    }


def step_batches(phase, seed: int) -> tf.data.Dataset:
    """The phase's step batches (8 instances: 2 micro-batches of 4), of its length."""
    data = instances(64, phase.data.max_seq_length, phase.data.max_predictions_per_seq, seed)
    return tf.data.Dataset.from_tensor_slices(data).batch(8, drop_remainder=True).repeat()


def pretrainer_of(phase, seed: int = 0, clock=None):
    keras.utils.set_random_seed(seed)
    pretrainer = build_pretrainer(MODEL_WITH_DROPOUT, len(VOCAB), phase.trainer, clock)
    pretrainer({k: v[:1] for k, v in instances(1, phase.data.max_seq_length, 4, 0).items()})
    pretrainer.optimizer.build(pretrainer.trainable_variables)
    return pretrainer


def position_table(pretrainer) -> np.ndarray:
    [table] = [w for w in pretrainer.backbone.weights if "position_embedding" in w.path]
    return table.numpy()


def fake_time():
    """Each call 1.5 s later: every step takes 1.5 s of this clock's time, whatever the machine's load."""
    ticks = itertools.count()
    return lambda: next(ticks) * 1.5


def run_phase(phase, directory, start_dir=None, callbacks=(), dataset=None, seed: int = 0):
    """Trains `phase` as the Trainer does: from the state the phase before left in `start_dir`, if any, resuming
    from `directory`'s checkpoints; returns the pre-trainer, its checkpoints and where it started."""
    clock = TrainingClock()
    pretrainer = pretrainer_of(phase, seed, clock)
    start = None
    if start_dir is not None:
        start = phase_state.restore_phase_end(start_dir, pretrainer, with_optimizer=phase.continues, clock=clock)
    checkpoints = PretrainingCheckpoints(str(directory), pretrainer, phase.trainer.keep_checkpoints, clock=clock)
    train(
        pretrainer,
        dataset if dataset is not None else step_batches(phase, seed=phase.number),
        phase.trainer,
        checkpoints,
        list(callbacks),
        time_source=fake_time(),
        stop_step=phase.stop_step,
        input_start=start.batches_seen if start else 0,
        stop_seconds=phase.stop_seconds or None,
        verbose=0,
    )
    return pretrainer, checkpoints, start


def hand_over(pretrainer, checkpoints, model_dir, fingerprint: str = "fp"):
    """What the Trainer of a phase with a phase after it leaves in its model (`phase_state.save_phase_end`)."""
    strategy = tf.distribute.get_strategy()
    return phase_state.save_phase_end(str(model_dir), pretrainer, fingerprint, strategy, clock=checkpoints.clock)


def assert_same_weights(a, b):
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=x.path)


@pytest.fixture(scope="module")
def two_phases(tmp_path_factory):
    """Phase 1 (9 steps at 16 tokens) handing its state over, then phase 2 (3 steps at 32 tokens)."""
    base = tmp_path_factory.mktemp("phases")
    first, second = training_phases(DATA, CONFIG)
    initial = position_table(pretrainer_of(first))
    phase1, checkpoints1, _ = run_phase(first, base / "phase1")
    end = hand_over(phase1, checkpoints1, base / "model1", "fingerprint-1")
    after_phase1 = position_table(phase1)
    phase2, checkpoints2, start = run_phase(second, base / "phase2", start_dir=str(base / "model1"))
    return {
        "base": base,
        "phases": (first, second),
        "initial": initial,
        "after_phase1": after_phase1,
        "end": end,
        "phase1": phase1,
        "phase2": phase2,
        "checkpoints2": checkpoints2,
        "start": start,
    }


def test_position_rows_beyond_phase_1s_length_train_only_in_phase_2(two_phases):
    initial, after1 = two_phases["initial"], two_phases["after_phase1"]
    after2 = position_table(two_phases["phase2"])
    # Phase 1 reads positions 0-15: rows 16-31 get no gradient, only AdamW's decoupled weight decay, which
    # shrinks a row by the same factor in each of its entries (BERT's optimizer decays them too).
    shrink = after1[16:] / initial[16:]
    np.testing.assert_allclose(shrink, shrink.flat[0], rtol=1e-6)
    assert 0.99 < shrink.flat[0] < 1.0
    assert not np.allclose(after1[:16] / initial[:16], shrink.flat[0], rtol=1e-3), "rows 0-15 trained"
    # Phase 2 reads all 32 positions: rows 16-31 move by more than the decay, each in its own direction.
    moved = after2[16:] / after1[16:]
    assert np.abs(moved - moved.mean()).max() > 1e-3
    assert np.abs(after2[16:] - after1[16:]).max() > 10 * np.abs(after1[16:] - initial[16:]).max()


def test_phase_2_starts_from_phase_1s_weights_optimizer_and_step(two_phases):
    first, second = two_phases["phases"]
    end, start = two_phases["end"], two_phases["start"]
    assert (first.steps, second.steps, second.start_step, second.stop_step) == (9, 3, 9, 12)
    assert end == start and end.step == 9 and end.batches_seen == 9
    assert two_phases["checkpoints2"].step == 12 and two_phases["checkpoints2"].saved_steps == [10, 12]
    # A pre-trainer restored from phase 1's state holds phase 1's final weights and optimizer moments.
    restored = pretrainer_of(second, seed=5)
    phase_state.restore_phase_end(str(two_phases["base"] / "model1"), restored, with_optimizer=True)
    assert_same_weights(restored, two_phases["phase1"])
    for a, b in zip(restored.optimizer.variables, two_phases["phase1"].optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_continuing_phases_on_the_same_instances_are_one_uninterrupted_run(tmp_path):
    """Phase 2 continues the optimizer state, the schedule and the dropout keys: on phase 1's instances (its input
    read on from where phase 1 stopped) the two phases end bit for bit as one run of all 12 steps."""
    same_length = dataclasses.replace(CONFIG.later_phases[0], max_seq_length=16, max_predictions_per_seq=4)
    config = dataclasses.replace(CONFIG, later_phases=[same_length])
    data = dataclasses.replace(DATA, max_seq_length=15)  # phases must grow; the instances are 16 long below
    first, second = training_phases(data, config)
    stream = step_batches(first, seed=1)

    whole = dataclasses.replace(first, steps=12)  # one phase of all 12 steps, same schedule
    unbroken, _, _ = run_phase(whole, tmp_path / "unbroken", dataset=stream)

    phase1, checkpoints1, _ = run_phase(first, tmp_path / "phase1", dataset=stream)
    hand_over(phase1, checkpoints1, tmp_path / "model1")
    # Phase 2's own input starts at its beginning; here it is phase 1's stream from step batch 9 on.
    phase2, _, _ = run_phase(second, tmp_path / "phase2", str(tmp_path / "model1"), dataset=stream.skip(9))
    assert_same_weights(phase2, unbroken)
    for a, b in zip(phase2.optimizer.variables, unbroken.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_phases_divide_a_time_budget_and_the_clock_runs_on_from_phase_to_phase(tmp_path):
    """15 s of training at 1.5 s a step batch: phase 1 to 12 s (8 batches), phase 2 from there to 15 s (2 more), one
    warm-up and decay over the budget; on the same instances, bit for bit one run of the whole budget, weights and
    optimizer state. In float16, so the loss scale (and any step it skipped) carries over too."""
    same_length = dataclasses.replace(
        CONFIG.later_phases[0], max_seq_length=16, max_predictions_per_seq=4, step_fraction=0.2
    )
    budget = {"train_steps": 1000, "time_budget_minutes": 0.25, "warmup_fraction": 0.2, "schedule": "cosine"}
    budget["mixed_precision"] = "mixed_float16"
    config = dataclasses.replace(CONFIG, later_phases=[same_length], **budget)
    first, second = training_phases(dataclasses.replace(DATA, max_seq_length=15), config)
    assert (first.stop_seconds, second.stop_seconds, second.continues) == (12.0, 15.0, True)
    stream = step_batches(first, seed=1)

    whole = dataclasses.replace(first, stop_seconds=15.0)
    unbroken, unbroken_checkpoints, _ = run_phase(whole, tmp_path / "unbroken", dataset=stream)
    assert unbroken_checkpoints.input_position == 10 and unbroken_checkpoints.clock.elapsed == 15.0

    phase1, checkpoints1, _ = run_phase(first, tmp_path / "phase1", dataset=stream)
    assert checkpoints1.input_position == 8 and checkpoints1.clock.elapsed == 12.0
    hand_over(phase1, checkpoints1, tmp_path / "model1")
    phase2, checkpoints2, _ = run_phase(second, tmp_path / "phase2", str(tmp_path / "model1"), dataset=stream.skip(8))
    assert checkpoints2.input_position == 10 and checkpoints2.clock.elapsed == 15.0
    assert checkpoints2.step == unbroken_checkpoints.step
    assert_same_weights(phase2, unbroken)
    for a, b in zip(phase2.optimizer.variables, unbroken.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_a_kill_in_phase_2_resumes_phase_2_from_its_checkpoint(two_phases, tmp_path):
    _, second = two_phases["phases"]
    model1 = str(two_phases["base"] / "model1")
    with pytest.raises(KeyboardInterrupt):
        run_phase(second, tmp_path / "phase2", model1, callbacks=[KillAt(11)])
    # Run again (phase 1 is not run: its state is in its model): resumes at step 10, ends as the unbroken phase 2.
    resumed, checkpoints, _ = run_phase(second, tmp_path / "phase2", model1, seed=3)
    assert checkpoints.restored_step == 10 and checkpoints.step == 12
    assert_same_weights(resumed, two_phases["phase2"])


def test_a_phase_with_its_own_warm_up_starts_from_the_weights_with_fresh_optimizer_state(two_phases, tmp_path):
    own = dataclasses.replace(CONFIG.later_phases[0], warmup_steps=1)
    first, second = training_phases(DATA, dataclasses.replace(CONFIG, later_phases=[own]))
    assert first.trainer.train_steps == 9, "the first phase decays to zero by its own end"
    assert (second.start_step, second.stop_step, second.trainer.warmup_steps) == (0, 3, 1)
    pretrainer = pretrainer_of(second, seed=4)
    phase_state.restore_phase_end(str(two_phases["base"] / "model1"), pretrainer, with_optimizer=False)
    assert_same_weights(pretrainer, two_phases["phase1"])
    assert int(pretrainer.optimizer.iterations.numpy()) == 0
    assert all(not np.any(v.numpy()) for v in pretrainer.optimizer.variables if "momentum" in v.path)


def test_a_model_without_training_state_is_refused_naming_the_folder(tmp_path):
    _, second = training_phases(DATA, CONFIG)
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*holds no training state"):
        phase_state.restore_phase_end(str(tmp_path), pretrainer_of(second), with_optimizer=True)
