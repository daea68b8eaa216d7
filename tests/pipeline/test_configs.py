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
