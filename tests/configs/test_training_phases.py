"""The phases' arithmetic (`configs.training_phases`): steps, lengths, schedule segments, what each Trainer gets."""

import dataclasses

from configs import presets
from configs.run_config import PhaseConfig, RunConfig
from configs.training_phases import describe, training_phases


def phases_of(config: RunConfig):
    return training_phases(config.data, config.trainer)


def test_one_phase_trains_the_whole_run_with_the_configs_own_settings():
    config = presets.load("tiny")
    [phase] = phases_of(config)
    assert (phase.start_step, phase.steps, phase.stop_step) == (0, 10000, 10000)
    assert not phase.continues and phase.is_last
    assert phase.data == config.data
    assert phase.trainer == config.trainer  # no later phases to drop: the Trainer trains exactly the config


def test_berts_two_phases_share_one_warm_up_and_decay():
    config = presets.load("base")
    first, second = phases_of(config)
    assert (first.steps, second.steps) == (900_000, 100_000)
    assert (first.data.max_seq_length, first.data.max_predictions_per_seq) == (128, 20)
    assert (second.data.max_seq_length, second.data.max_predictions_per_seq) == (512, 80)
    assert second.data == dataclasses.replace(config.data, max_seq_length=512, max_predictions_per_seq=80)
    # One schedule over both: phase 1 stops at step 900,000 of it, phase 2 goes on from there to the end.
    assert first.trainer.train_steps == second.trainer.train_steps == 1_000_000
    assert first.trainer.warmup_steps == second.trainer.warmup_steps == 10_000
    assert (first.stop_step, second.start_step, second.stop_step) == (900_000, 900_000, 1_000_000)
    assert second.continues and not first.continues
    assert first.trainer.later_phases == [] and second.trainer.later_phases == []
    assert describe([first, second]) == (
        "900000 steps at 128 tokens (20 predictions); then 100000 steps at 512 tokens (80 predictions), "
        "continuing the optimizer and schedule"
    )


def test_a_phase_with_its_own_warm_up_starts_a_schedule_and_ends_the_one_before():
    config = presets.load("smoke")
    config.trainer.init_from = "/models/earlier"
    config.trainer.later_phases = [
        PhaseConfig(step_fraction=0.2, max_seq_length=96, max_predictions_per_seq=15),
        PhaseConfig(step_fraction=0.1, max_seq_length=128, max_predictions_per_seq=20, batch_size=8, warmup_steps=3),
    ]
    config.validate()
    first, second, third = phases_of(config)
    assert [p.steps for p in (first, second, third)] == [210, 60, 30]
    # Phases 1 and 2 are one segment of 270 steps; phase 3 warms up over 3 steps and decays over its own 30.
    assert (first.trainer.train_steps, second.trainer.train_steps, third.trainer.train_steps) == (270, 270, 30)
    assert (second.start_step, second.stop_step, third.start_step, third.stop_step) == (210, 270, 0, 30)
    assert third.trainer.warmup_steps == 3 and not third.continues and second.continues
    assert (first.trainer.batch_size, second.trainer.batch_size, third.trainer.batch_size) == (32, 32, 8)
    # Only the first phase starts from `init_from`; the later ones start from the phase before.
    assert (first.trainer.init_from, second.trainer.init_from, third.trainer.init_from) == ("/models/earlier", "", "")
    assert "fresh optimizer with 3 warm-up steps" in describe([first, second, third])
