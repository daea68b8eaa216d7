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
