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


def test_beam_arg_goes_into_the_run_config(capsys):
    assert cli.main(["config", "--preset", "smoke", "--set", 'beam.args=["--direct_num_workers=4"]']) == 0
    assert json.loads(capsys.readouterr().out)["beam"]["args"] == ["--direct_num_workers=4"]
    assert cli.main(["config", "--set", 'beam.args=["direct_num_workers=4"]']) == 2
    assert "beam.args must be options of the form --name=value" in capsys.readouterr().err


def test_missing_data_fails_before_the_pipeline_starts(tmp_path, capsys):
    # No TFX import, no store, no output folder: the run stops at the check, naming what is missing.
    output = tmp_path / "out"
    assert cli.main(["run", "--data-dir", str(tmp_path / "nowhere"), "--output-dir", str(output)]) == 2
    assert f"data directory {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    (tmp_path / "data").mkdir()
    assert cli.main(["run", "--data-dir", str(tmp_path / "data"), "--output-dir", str(output)]) == 2
    assert f"corpus folder {tmp_path / 'data' / 'corpus'} does not exist" in capsys.readouterr().err
    (tmp_path / "data" / "corpus").mkdir()
    assert cli.main(["run", "--data-dir", str(tmp_path / "data"), "--output-dir", str(output)]) == 2
    assert "no file in the corpus folder" in capsys.readouterr().err
    (tmp_path / "data" / "corpus" / "wiki_00").write_text("text\n")
    assert cli.main(["run", "--data-dir", str(tmp_path / "data"), "--output-dir", str(output)]) == 2
    err = capsys.readouterr().err
    assert "GLUE folder" in err and "for task sst2 does not exist" in err
    assert not output.exists()
