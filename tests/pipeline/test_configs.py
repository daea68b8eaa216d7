import json

import pytest

from pipeline import configs


@pytest.mark.parametrize("name", sorted(configs.PRESETS))
def test_every_preset_is_valid_and_round_trips(name):
    config = configs.preset(name).validate()
    assert config.preset == name
    assert configs.RunConfig.from_dict(json.loads(config.to_json())) == config


def test_presets_grow_from_smoke_to_large():
    widths = [configs.preset(n).model.hidden_dim for n in ("smoke", "tiny", "mini", "base", "large")]
    assert widths == sorted(widths) and len(set(widths)) == len(widths)


def test_overrides_set_typed_values():
    config = configs.load(
        "smoke", ["trainer.train_steps=7", "trainer.learning_rate=1", 'glue.tasks=["sst2"]', "trainer.optimizer=lamb"]
    )
    assert config.trainer.train_steps == 7
    assert config.trainer.learning_rate == 1.0 and isinstance(config.trainer.learning_rate, float)
    assert config.glue.tasks == ["sst2"]
    assert config.trainer.optimizer == "lamb"


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.train_stepz=5", "unknown config key 'trainer.train_stepz'"),
        ("nonsense=1", "unknown config key 'nonsense'"),
        ("trainer=1", "is a section"),
        ("trainer.train_steps=many", "expects int"),
        ("no_equals_sign", "not of the form"),
        ("trainer.optimizer=sgd", "trainer.optimizer='sgd'"),
        ("model.num_heads=3", "not divisible"),
        ('glue.tasks=["sts-x"]', "unknown tasks"),
        ("data.max_predictions_per_seq=64", "data.max_predictions_per_seq=64"),
    ],
)
def test_bad_overrides_name_the_key_and_value(override, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        configs.load("smoke", [override])


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError, match="smoke, tiny, mini, base, large"):
        configs.preset("huge")


def test_from_dict_rejects_unknown_keys():
    values = configs.preset("smoke").to_dict()
    values["trainer"]["warmup"] = 3
    with pytest.raises(ValueError, match="trainer.warmup"):
        configs.RunConfig.from_dict(values)


def test_eval_config_gates_accuracy_everywhere_and_f1_where_asked():
    from models.glue_tasks import TASKS
    from pipeline.evaluation import glue_eval_config

    config = glue_eval_config(TASKS["mrpc"], min_accuracy=0.7, max_accuracy_drop=0.01, min_f1=0.8)
    thresholds = {m.class_name: m.threshold for m in config.metrics_specs[0].metrics if m.HasField("threshold")}
    assert thresholds["BinaryAccuracy"].value_threshold.lower_bound.value == 0.7
    assert thresholds["F1Score"].value_threshold.lower_bound.value == 0.8
    assert thresholds["F1Score"].change_threshold.absolute.value == -0.01
    sst2 = glue_eval_config(TASKS["sst2"], min_accuracy=0.8, max_accuracy_drop=0.01)
    assert [m.class_name for m in sst2.metrics_specs[0].metrics if m.HasField("threshold")] == ["BinaryAccuracy"]
    assert sst2.model_specs[0].prediction_key == "positive_probability"
