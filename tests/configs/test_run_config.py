import dataclasses
import importlib
import json
import re

import pytest

from configs import presets
from configs.run_config import (
    GlueConfig,
    PretrainingDataConfig,
    RunConfig,
    TrainerConfig,
    apply_overrides,
    section_from,
    to_custom_config,
)


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_is_valid_and_round_trips(name):
    config = presets.preset(name).validate()
    assert config.preset == name
    assert RunConfig.from_dict(json.loads(config.to_json())) == config


def test_presets_grow_from_smoke_to_large():
    widths = [presets.preset(n).model.hidden_dim for n in ("smoke", "tiny", "mini", "base", "large")]
    assert widths == sorted(widths) and len(set(widths)) == len(widths)


def test_the_cpu_hour_preset_trains_the_recipe_the_quality_benchmark_measures():
    """`tiny-cpu-hour` is the recipe of `bench/pretraining_quality.py` (the `tiny` preset with the benchmark's
    overrides and its calibrated steps, e.g. the 24,336 of one 60-minute run): every setting agrees but how the
    hour is counted (the preset's training clock, the benchmark's step count), what follows from the count
    (logging, checkpoints) and the names."""
    benchmark = importlib.import_module("bench.pretraining_quality")
    steps = 24_336
    sized = [f"trainer.train_steps={steps}", f"trainer.warmup_steps={steps // 20}"]
    measured = presets.load("tiny", benchmark.PRETRAINING_OVERRIDES + sized)
    preset = presets.load("tiny-cpu-hour")
    assert (preset.data, preset.model) == (measured.data, measured.model)
    sizing = {"train_steps", "warmup_steps", "time_budget_minutes", "warmup_fraction", "log_every_steps"}
    sizing |= {"checkpoint_every_steps", "keep_checkpoints"}
    differ = {
        field.name
        for field in dataclasses.fields(TrainerConfig)
        if getattr(preset.trainer, field.name) != getattr(measured.trainer, field.name)
    }
    assert differ <= sizing, f"the recipes differ in {sorted(differ - sizing)}"
    assert preset.trainer.time_budget_minutes == 60
    assert preset.trainer.warmup_fraction == pytest.approx(measured.trainer.warmup_steps / steps, abs=1e-3)


def test_overrides_set_typed_values():
    config = presets.load(
        "smoke", ["trainer.train_steps=70", "trainer.learning_rate=1", 'glue.tasks=["sst2"]', "trainer.optimizer=lamb"]
    )
    assert config.trainer.train_steps == 70
    assert config.trainer.learning_rate == 1.0 and isinstance(config.trainer.learning_rate, float)
    assert config.glue.tasks == ["sst2"]
    assert config.trainer.optimizer == "lamb"


def test_glue_step_budget_is_a_count_or_null_for_epochs():
    assert presets.load("smoke", ["glue.train_steps=null"]).glue.train_steps is None
    assert presets.load("tiny", ["glue.train_steps=40"]).glue.train_steps == 40
    with pytest.raises(ValueError, match="glue.train_steps=0 must be positive, or null"):
        presets.load("smoke", ["glue.train_steps=0"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.train_stepz=5", "unknown config key 'trainer.train_stepz'"),
        ("trainer.steps_per_epoch=5", "unknown config key 'trainer.steps_per_epoch'"),
        ("nonsense=1", "unknown config key 'nonsense'"),
        ("trainer=1", "is a section"),
        ("trainer.train_steps=many", "config key 'trainer.train_steps' expects int, got 'many'"),
        ("trainer.train_steps=null", "expects int"),
        ("trainer.jit_compile=1", "expects bool"),
        ('glue.bounds={"sst2": {"accuracy": "high"}}', "key 'glue.bounds.sst2.accuracy' expects float, got 'high'"),
        ('trainer.later_phases=[{"step_fractio": 0.1}]', "unknown config key 'trainer.later_phases[0].step_fractio'"),
        ('trainer.later_phases=[{"max_seq_length": "long"}]', "'trainer.later_phases[0].max_seq_length' expects int"),
        (
            'trainer.later_phases=[{"max_seq_length": 64, "max_predictions_per_seq": 10}]',
            "trainer.later_phases[0].max_seq_length=64 must be above the phase before's (data.max_seq_length=64)",
        ),
        ('trainer.later_phases=[{"max_seq_length": 256}]', "at most model.max_position_embeddings=128"),
        (
            'trainer.later_phases=[{"step_fraction": 0.6, "max_seq_length": 96}, {"step_fraction": 0.4}]',
            "trainer.later_phases take 1 of trainer.train_steps together",
        ),
        (
            'trainer.later_phases=[{"max_seq_length": 128, "max_predictions_per_seq": 20, "warmup_steps": 31}]',
            "trainer.later_phases[0].warmup_steps=31 must be within the phase's 30 steps",
        ),
        (
            'trainer.later_phases=[{"step_fraction": 0.001, "max_seq_length": 128}]',
            "trainer.train_steps=300 is no step",
        ),
        ('glue.bounds={"sst2": {"f1": 0.9}}', "glue.bounds.sst2 names ['f1']; the official metrics of sst2 are"),
        ('glue.bounds={"sts": {"pearson": 0.9}}', "glue.bounds names unknown task 'sts'"),
        ("glue.constant_margin=0", "glue.constant_margin=0.0 must be in (0, 1"),
        ("glue.seeds=[]", "glue.seeds must name at least one seed"),
        ("glue.seeds=[1, 1]", "glue.seeds=[1, 1] repeats a seed"),
        ("glue.learning_rates=[0.001, -1]", "glue.learning_rates=[0.001, -1.0] must be positive"),
        ("no_equals_sign", "not of the form"),
        ("trainer.optimizer=sgd", "trainer.optimizer='sgd'"),
        ("model.num_heads=3", "not divisible"),
        ('glue.tasks=["sts-x"]', "unknown tasks"),
        ("data.max_predictions_per_seq=64", "data.max_predictions_per_seq=64"),
        ("trainer.log_every_steps=0", "trainer.log_every_steps=0 must be positive"),
        ("trainer.eval_steps=-1", "trainer.eval_steps=-1"),
        ("data.short_seq_prob=1.5", r"data.short_seq_prob=1.5 must be in [0, 1]"),
        ("data.next_sentence_random_prob=-0.1", "data.next_sentence_random_prob=-0.1 must be in"),
        ("trainer.warmup_steps=301", "trainer.warmup_steps=301 must be within [0, trainer.train_steps=300]"),
        ("trainer.batch_size=0", "trainer.batch_size=0 must be positive"),
        ("glue.learning_rates=[]", "glue.learning_rates must name at least one learning rate"),
        ("glue.learning_rate=0.001", "config key 'glue.learning_rate' was renamed to 'glue.learning_rates'"),
        ("trainer.grad_accum_steps=2", "renamed to 'trainer.gradient_accumulation_steps'"),
        ("trainer.clip_norm=-1", "trainer.clip_norm=-1.0 must be 0 or more"),
        ("trainer.schedule=step", "trainer.schedule='step' must be one of linear, cosine, polynomial"),
        ("trainer.warmup_fraction=0.1", "trainer.warmup_fraction=0.1 needs trainer.time_budget_minutes"),
    ],
)
def test_bad_overrides_name_the_key_and_value(override, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        presets.load("smoke", [override])


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError, match="smoke, tiny, tiny-cpu-hour, mini, base, large"):
        presets.preset("huge")


def test_from_dict_rejects_unknown_and_missing_keys():
    values = presets.preset("smoke").to_dict()
    values["trainer"]["warmup"] = 3
    with pytest.raises(ValueError, match="unknown config key 'trainer.warmup'"):
        RunConfig.from_dict(values)
    values = presets.preset("smoke").to_dict()
    del values["data"]["vocab_size"]
    with pytest.raises(ValueError, match="missing config key 'data.vocab_size'"):
        RunConfig.from_dict(values)


def test_a_section_crosses_the_tfx_boundary_as_json_and_comes_back_equal():
    config = presets.load("smoke", ["glue.train_steps=null", "trainer.optimizer=lamb"])
    custom_config = to_custom_config(config, "data", "trainer", "glue")
    assert set(custom_config) == {"data", "trainer", "glue"}
    as_json = json.dumps(custom_config)  # what an executor's exec_properties hold
    assert section_from(as_json, "trainer", TrainerConfig) == config.trainer
    assert section_from(json.loads(as_json), "glue", GlueConfig) == config.glue
    assert section_from(custom_config, "data", PretrainingDataConfig) == config.data


def test_section_from_fails_as_the_command_line_does():
    custom_config = to_custom_config(presets.preset("smoke"), "trainer")
    with pytest.raises(ValueError, match=r"missing config section 'data' in custom_config \(it has \['trainer'\]\)"):
        section_from(custom_config, "data", PretrainingDataConfig)
    custom_config["trainer"]["steps_per_epoch"] = 50  # a key from an older release
    with pytest.raises(ValueError) as from_component:
        section_from(custom_config, "trainer", TrainerConfig)
    with pytest.raises(ValueError) as from_cli:
        apply_overrides(presets.preset("smoke"), ["trainer.steps_per_epoch=50"])
    assert str(from_component.value) == str(from_cli.value) == "unknown config key 'trainer.steps_per_epoch'"
    del custom_config["trainer"]["steps_per_epoch"]
    custom_config["trainer"]["batch_size"] = "32"
    with pytest.raises(ValueError, match="config key 'trainer.batch_size' expects int, got '32'"):
        section_from(custom_config, "trainer", TrainerConfig)


# Every numeric setting of the tree, with a value just outside its range (smoke preset otherwise). A new numeric
# setting must be added here: `test_every_numeric_setting_has_a_bound_in_the_table` fails until it is.
OUT_OF_RANGE = {
    "corpus.train_buckets": 0,
    "corpus.eval_buckets": 0,
    "corpus.min_document_chars": -1,
    "corpus.documents_per_group": 1,
    "data.vocab_size": 100,
    "data.max_alphabet": 0,
    "data.max_seq_length": 7,
    "data.max_predictions_per_seq": 0,
    "data.masked_lm_prob": 0.0,
    "data.mask_token_rate": 1.1,
    "data.random_token_rate": -0.1,
    "data.short_seq_prob": 1.5,
    "data.next_sentence_random_prob": -0.1,
    "data.dupe_factor": 0,
    "data.seed": None,  # any integer: a key of hashes, not a NumPy seed
    "data.groups_per_batch": 0,
    "model.num_layers": 0,
    "model.hidden_dim": 0,
    "model.num_heads": 0,
    "model.intermediate_dim": -1,
    "model.dropout": 1.5,
    "model.max_position_embeddings": 0,
    "trainer.train_steps": 0,
    "trainer.eval_steps": -1,
    "trainer.batch_size": 0,
    "trainer.gradient_accumulation_steps": 0,
    "trainer.checkpoint_every_steps": -1,
    "trainer.learning_rate": 0.0,
    "trainer.warmup_steps": -1,
    "trainer.weight_decay": -0.1,
    "trainer.clip_norm": -1.0,
    "trainer.log_every_steps": 0,
    "trainer.keep_checkpoints": 0,
    "trainer.seed": -1,
    "trainer.decay_power": 0.0,
    "trainer.decay_fraction": 0.0,
    "trainer.time_budget_minutes": -1.0,
    "trainer.warmup_fraction": 1.0,
    "glue.max_seq_length": 7,
    "glue.batch_size": 0,
    "glue.train_steps": 0,
    "glue.epochs": 0,
    "glue.warmup_proportion": 1.5,
    "glue.weight_decay": -0.1,
    "glue.clip_norm": -1.0,
    "glue.log_every_steps": 0,
    "glue.dropout": -0.1,
    "glue.constant_margin": 0.0,
    "glue.max_drop": -0.1,
    "glue.confidence": 1.0,
    "glue.bootstrap_samples": 99,
    "glue.bootstrap_seed": None,  # any integer
    "kubeflow.default.cpu": 0.0,
    "kubeflow.default.memory_gib": 0.0,
    "kubeflow.default.gpus": -1,
    "kubeflow.data.cpu": -1.0,
    "kubeflow.data.memory_gib": 0.0,
    "kubeflow.data.gpus": -1,
    "kubeflow.trainer.cpu": 0.0,
    "kubeflow.trainer.memory_gib": -1.0,
    "kubeflow.trainer.gpus": -1,
    "kubeflow.fine_tune.cpu": 0.0,
    "kubeflow.fine_tune.memory_gib": 0.0,
    "kubeflow.fine_tune.gpus": -1,
}


def numeric_settings(node, prefix="") -> list[str]:
    keys = []
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if dataclasses.is_dataclass(value):
            keys += numeric_settings(value, f"{prefix}{field.name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            keys.append(prefix + field.name)
    return keys


def test_every_numeric_setting_has_a_bound_in_the_table():
    assert sorted(numeric_settings(presets.preset("smoke"))) == sorted(OUT_OF_RANGE)


@pytest.mark.parametrize("key", sorted(k for k, v in OUT_OF_RANGE.items() if v is not None))
def test_every_numeric_setting_out_of_its_range_is_refused_naming_it(key):
    """model.num_heads=0 ended in ZeroDivisionError, num_layers=0 trained a 0-layer encoder, and negative widths,
    alphabets and bounds above 1 were accepted."""
    value = OUT_OF_RANGE[key]
    with pytest.raises(ValueError) as refused:
        presets.load("smoke", [f"{key}={json.dumps(value)}"])
    assert key in str(refused.value) or key.rsplit(".", 1)[0] in str(refused.value), str(refused.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ("pipeline_name=", "pipeline_name='' must be a folder name"),
        ("pipeline_name=../..", "pipeline_name='../..' must be a folder name"),
        ("pipeline_name=a/b", "must be a folder name"),
        ('glue.bounds={"mrpc": {"f1": 1.2}}', r"glue.bounds.mrpc.f1=1.2 must be in \(0.0, 1\]"),
        (
            'glue.bounds={"cola": {"matthews_corr": -1.5}}',
            r"glue.bounds.cola.matthews_corr=-1.5 must be in \(-1.0, 1\]",
        ),
        ("model.hidden_dim=65", "model.hidden_dim=65 is not divisible by model.num_heads=2"),
        ("glue.seeds=[-3]", r"glue.seeds=\[-3\] must be in \[0, 2\*\*32\)"),
    ],
)
def test_names_and_bounds_that_no_run_can_use_are_refused(override, message):
    with pytest.raises(ValueError, match=message):
        presets.load("smoke", [override])


def test_phases_with_a_time_budget_share_one_warm_up():
    budget = ["trainer.time_budget_minutes=5", "trainer.warmup_fraction=0.1"]
    presets.load("smoke", budget)  # the smoke preset's second phase continues: it divides the budget
    own_warm_up = 'trainer.later_phases=[{"max_seq_length": 128, "warmup_steps": 3}]'
    with pytest.raises(
        ValueError, match=re.escape("trainer.later_phases[0].warmup_steps must be null with trainer.time")
    ):
        presets.load("smoke", [*budget, own_warm_up])
