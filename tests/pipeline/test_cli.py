import json

from configs import presets
from pipeline import cli
from tests.inspection.fake_runs import State, StoreBuilder


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


def test_a_new_run_removes_the_output_folders_of_executions_that_died_and_nothing_else(tmp_path, capsys):
    # As TFX's local launcher leaves them: folders made before the executor ran, no artifacts in the store.
    builder = StoreBuilder(tmp_path / "metadata.sqlite")
    model = builder.artifact("Model", str(tmp_path / "root" / "Trainer" / "model" / "1"))
    finished = builder.execution("bert-test", "run-a", "Trainer", outputs={"model": [model]})
    died = builder.execution("bert-test", "run-b", "Trainer", State.RUNNING)
    other_pipeline = builder.execution("other", "run-c", "Trainer", State.RUNNING)
    trainer = tmp_path / "root" / "Trainer"
    folders = {
        name: trainer / name
        for name in (
            f"model/{finished}",
            f"model/{died}",
            f"model_run/{died}",
            f"model/{other_pipeline}",
            f"checkpoints/{died}",
            f".system/executor_execution/{died}",
        )
    }
    for folder in folders.values():
        folder.mkdir(parents=True)

    cli.remove_died_outputs(builder.path, "bert-test", tmp_path / "root")
    gone = {name for name, folder in folders.items() if not folder.exists()}
    assert gone == {f"model/{died}", f"model_run/{died}"}
    assert "Removed 2 output folders that runs which died had left half-written" in capsys.readouterr().out

    # A new store (nothing ran) removes nothing.
    cli.remove_died_outputs(tmp_path / "none.sqlite", "bert-test", tmp_path / "root")
    assert all(folders[name].exists() for name in folders.keys() - gone)


def test_export_gives_a_model_the_length_its_phase_trained_at():
    """`bert-tfx export` sizes the SavedModel by the sequence length the model was last trained at."""
    from pipeline.export_cli import trained_length

    run_config = presets.load("smoke").to_dict()  # 64 tokens, then 128
    assert trained_length(run_config) == 128, "a run's model is its last phase's"
    trainer_config = {**run_config, "phase": 1}  # the custom_config of Trainer_phase1
    assert trained_length(trainer_config) == 64
    assert trained_length({**run_config, "phase": 2}) == 128
    one_phase = presets.load("tiny").to_dict()
    assert trained_length(one_phase) == one_phase["data"]["max_seq_length"]
    assert trained_length({"data": {"max_seq_length": 96}}) == 96, "a config recorded before phases existed"
    assert trained_length(None) is None and trained_length({"model": {}}) is None
