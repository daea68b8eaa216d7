import json

from pipeline import cli


def test_config_command_prints_the_resolved_config(capsys):
    assert (
        cli.main(["config", "--preset", "tiny", "--set", "trainer.train_steps=12", "--set", "trainer.warmup_steps=2"])
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["preset"] == "tiny"
    assert printed["trainer"]["train_steps"] == 12


def test_bad_override_exits_2_with_the_key_named(capsys):
    assert cli.main(["run", "--preset", "smoke", "--set", "trainer.steps=3"]) == 2
    assert "unknown config key 'trainer.steps'" in capsys.readouterr().err
