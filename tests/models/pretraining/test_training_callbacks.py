"""Resumable checkpoints and progress figures of the pre-training loop, on tiny shapes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs.run_config import ModelConfig
from models import features
from models.pretraining import flops
from models.pretraining.bert_pretrainer import BertPretrainer
from models.pretraining.training_callbacks import (
    CheckpointEveryNSteps,
    NonFiniteTrainingError,
    PretrainingCheckpoints,
    TrainingHealth,
    TrainingProgress,
)
from models.training.optimization import create_optimizer
from models.training.step_budget import fit_for_steps
from tests.models.tiny import pretraining_batch, tiny_backbone


def compiled(seed=0):
    keras.utils.set_random_seed(seed)
    pretrainer = BertPretrainer(tiny_backbone())
    pretrainer.compile(optimizer=create_optimizer("adamw", 1e-2, 2, 20, summed_gradients=True), jit_compile=False)
    batch = pretraining_batch()
    pretrainer(batch)
    pretrainer.optimizer.build(pretrainer.trainable_variables)
    return pretrainer


def batches(n_skip=0, nan_at=None):
    """40 batches, repeated; with `nan_at`, that batch's masked-LM weights are NaN (a loss that is not finite)."""
    data = [pretraining_batch(seed=i) for i in range(40)]
    if nan_at is not None:
        data[nan_at][features.MASKED_LM_WEIGHTS][0, 0] = np.nan
    dataset = tf.data.Dataset.from_tensor_slices({k: np.stack([d[k] for d in data]) for k in data[0]})
    return dataset.repeat().skip(n_skip)


def test_killed_run_resumes_where_its_last_checkpoint_left_off_and_matches_an_unbroken_run(tmp_path):
    unbroken = compiled()
    fit_for_steps(unbroken, batches(), total_steps=10, log_every_steps=5, verbose=0)

    first = compiled()
    saves = PretrainingCheckpoints(str(tmp_path), first, keep=2)
    fit_for_steps(
        first, batches(), total_steps=7, log_every_steps=5, callbacks=[CheckpointEveryNSteps(saves, 3)], verbose=0
    )
    assert saves.saved_steps == [3, 6], "every 3 steps, the last 2 kept; step 7 was lost with the 'kill'"

    resumed = compiled(seed=1)  # another initialisation: everything must come from the checkpoint
    checkpoints = PretrainingCheckpoints(str(tmp_path), resumed, keep=2)
    assert checkpoints.restore() == 6
    assert checkpoints.input_position == 6
    fit_for_steps(resumed, batches(n_skip=6), total_steps=10, log_every_steps=5, initial_step=6, verbose=0)
    assert int(resumed.optimizer.iterations.numpy()) == 10
    for a, b in zip(resumed.trainable_variables, unbroken.trainable_variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_a_non_finite_loss_stops_training_and_no_checkpoint_after_it_is_written(tmp_path):
    model = compiled()
    checkpoints = PretrainingCheckpoints(str(tmp_path), model, keep=5)
    callbacks = [TrainingHealth(checkpoints, loss_scaled=False), CheckpointEveryNSteps(checkpoints, 2)]
    with pytest.raises(NonFiniteTrainingError) as stopped:
        fit_for_steps(model, batches(nan_at=4), total_steps=10, log_every_steps=5, callbacks=callbacks, verbose=0)
    message = str(stopped.value)
    assert "pre-training stopped at step 5: the loss is nan" in message
    assert f"the last checkpoint, step 4 in {tmp_path}" in message and "trainer.learning_rate" in message
    assert checkpoints.saved_steps == [2, 4]
    with pytest.raises(NonFiniteTrainingError, match="not saving a checkpoint at step 5"):
        checkpoints.save()  # the weights are not finite now: nothing may be saved

    rerun = compiled(seed=1)
    resumed = PretrainingCheckpoints(str(tmp_path), rerun, keep=5)
    assert resumed.restore() == 4
    assert all(np.isfinite(v.numpy()).all() for v in rerun.trainable_variables)


def test_restore_without_checkpoints_starts_at_step_zero(tmp_path):
    assert PretrainingCheckpoints(str(tmp_path / "none"), compiled(), keep=1).restore() == 0


def test_a_finished_budget_trains_no_further():
    model = compiled()
    history = fit_for_steps(model, batches(), total_steps=5, log_every_steps=5, initial_step=5, verbose=0)
    assert history.history == {} and int(model.optimizer.iterations.numpy()) == 0


def test_progress_adds_throughput_learning_rate_and_mfu_to_the_logs():
    lines = []
    model = compiled()
    progress = TrainingProgress(
        total_steps=6,
        sequences_per_step=8,
        tokens_per_sequence=16,
        flops_per_step=1e6,
        peak_flops=1e9,
        print_fn=lines.append,
    )
    history = fit_for_steps(
        model, batches().batch(1).unbatch(), total_steps=6, log_every_steps=3, callbacks=[progress], verbose=0
    )
    for name in ("step_time_ms", "sequences_per_second", "tokens_per_second", "learning_rate", "mfu", "gradient_norm"):
        assert len(history.history[name]) == 2, name
    seq_per_s = np.array(history.history["sequences_per_second"])
    np.testing.assert_allclose(np.array(history.history["tokens_per_second"]), 16 * seq_per_s)
    np.testing.assert_allclose(seq_per_s, 8000 / np.array(history.history["step_time_ms"]))
    # warm-up of 2 steps to a peak of 1e-2, linear decay to 0 at step 20: steps 3 and 6 (as logged after them).
    np.testing.assert_allclose(history.history["learning_rate"], [1e-2 * 17 / 18, 1e-2 * 14 / 18], rtol=1e-5)
    assert all(g > 0 for g in history.history["gradient_norm"])
    assert lines[0].startswith("step 3/6 (50%) loss ") and "seq/s" in lines[0] and "ETA" in lines[0]
    assert lines[0].count(" loss ") == 1 and " masked-LM accuracy " in lines[0]
    assert lines[1].startswith("step 6/6 (100%)") and lines[1].endswith("ETA 0:00:00")


def test_flops_of_bert_base_are_six_times_parameters_per_token_plus_attention():
    base = ModelConfig()  # 12 layers, 768 wide, 3072 feed-forward
    per_sequence = flops.pretraining_flops_per_sequence(base, vocab_size=30522, seq_length=128, predictions=20)
    encoder_parameters = 12 * (4 * 768 * 768 + 2 * 768 * 3072)  # weights of the matmuls, about 85M
    dense_estimate = 6 * encoder_parameters * 128
    assert dense_estimate < per_sequence < 1.25 * dense_estimate


def test_matmul_ceiling_is_measured():
    assert flops.measure_matmul_flops(size=128, repeats=2) > 1e6


def test_a_damaged_latest_checkpoint_is_skipped_for_the_one_before_it(tmp_path, caplog):
    """A truncated `.data` file of the latest checkpoint made every re-run fail with `IndexError: Read less bytes
    than requested`, naming no folder."""
    model = compiled()
    checkpoints = PretrainingCheckpoints(str(tmp_path), model, keep=3)
    fit_for_steps(
        model, batches(), total_steps=6, log_every_steps=3, callbacks=[CheckpointEveryNSteps(checkpoints, 3)], verbose=0
    )
    assert checkpoints.saved_steps == [3, 6]
    [data] = tmp_path.glob("ckpt-6.data-*")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])

    resumed = PretrainingCheckpoints(str(tmp_path), compiled(seed=1), keep=3)
    with caplog.at_level("WARNING"):
        assert resumed.restore() == 3
    assert f"Skipping the damaged checkpoint {tmp_path}/ckpt-6" in caplog.text

    [data] = tmp_path.glob("ckpt-3.data-*")
    data.write_bytes(b"")
    with caplog.at_level("WARNING"):
        assert PretrainingCheckpoints(str(tmp_path), compiled(seed=1), keep=3).restore() == 0
    assert f"No checkpoint in {tmp_path} could be read: pre-training starts from step 0" in caplog.text
