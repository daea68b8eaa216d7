"""The line that names a run's pre-training recipe in the report and `bert-tfx show`."""

from configs import presets
from inspection.run_contents import pretraining_recipe


def test_the_recipe_names_the_schedule_and_what_it_runs_over():
    by_time = presets.load(
        "tiny",
        [
            "trainer.time_budget_minutes=60",
            "trainer.warmup_fraction=0.05",
            "trainer.schedule=polynomial",
            "trainer.decay_power=2",
            "trainer.optimizer=lamb",
        ],
    )
    roberta = presets.load("tiny", ["data.objective=mlm"])
    assert pretraining_recipe(by_time.to_dict()) == (
        f"masked LM + next-sentence prediction (BERT) at {by_time.data.max_seq_length} tokens; lamb, peak learning "
        f"rate {by_time.trainer.learning_rate:g}, polynomial decay (power 2); warm-up over 5% of a 60-minute time "
        f"budget (at most {by_time.trainer.train_steps:,} steps)"
    )
    assert pretraining_recipe(roberta.to_dict()).startswith(
        "masked LM over full sentences packed across documents (RoBERTa) at"
    )


def test_a_config_recorded_before_the_schedule_settings_reads_as_linear_over_steps():
    recorded = presets.preset("smoke").to_dict()
    for key in ("schedule", "decay_power", "decay_fraction", "time_budget_minutes", "warmup_fraction"):
        del recorded["trainer"][key]
    assert pretraining_recipe(recorded).endswith("linear decay; 30 warm-up steps of 300")
    assert pretraining_recipe(None) is None and pretraining_recipe({"pipeline_name": "x"}) is None


def test_the_recipe_names_each_phase_and_how_the_later_one_starts():
    smoke = presets.load("smoke")
    assert pretraining_recipe(smoke.to_dict()) == (
        "masked LM + next-sentence prediction (BERT) in 2 phases: 240 steps at 64 tokens (10 predictions); then 60 "
        "steps at 128 tokens (20 predictions), continuing the optimizer and schedule; adamw, peak learning rate "
        "0.001, linear decay; 30 warm-up steps of 300"
    )
    own = presets.load("smoke", ['trainer.later_phases=[{"max_seq_length": 128, "warmup_steps": 5}]'])
    assert "then 30 steps at 128 tokens (80 predictions), fresh optimizer with 5 warm-up steps;" in pretraining_recipe(
        own.to_dict()
    )


def test_the_curves_run_over_every_phase_in_order(tmp_path):
    import json

    from configs import pipeline_contract as contract
    from inspection.run_contents import ArtifactRef, inputs_from_artifacts, pretraining_history

    for name, loss in (("phase1", [8.0, 7.0]), ("phase2", [6.5])):
        (tmp_path / name).mkdir()
        (tmp_path / name / contract.HISTORY_FILE).write_text(json.dumps({"loss": loss, "step": [0] * len(loss)}))
    refs = {
        "pretraining_model_run": ArtifactRef(str(tmp_path / "phase2")),
        contract.report_phase_key("pretraining_model_run", 1): ArtifactRef(str(tmp_path / "phase1")),
    }
    inputs = inputs_from_artifacts(presets.load("smoke").to_dict(), refs)
    assert pretraining_history(inputs)["loss"] == [8.0, 7.0, 6.5]
    one_phase = inputs_from_artifacts(None, {"pretraining_model_run": ArtifactRef(str(tmp_path / "phase2"))})
    assert pretraining_history(one_phase)["loss"] == [6.5]
