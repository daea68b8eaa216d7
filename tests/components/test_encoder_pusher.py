"""EncoderPusher pushes the exported encoder when a GLUE task's Evaluator blessed its model, and only then: with
real TFX artifacts and folders, as the local orchestrator and a Kubeflow step hand them to the executor."""

import pytest
from tfx.types import standard_artifacts

from components.encoder_pusher import component
from components.run_artifacts import ExportedEncoder
from configs import pipeline_contract as contract


def blessing(blessed: int) -> standard_artifacts.ModelBlessing:
    artifact = standard_artifacts.ModelBlessing()
    artifact.uri = "/nowhere/blessing"
    artifact.set_int_custom_property("blessed", blessed)
    return artifact


@pytest.fixture
def exported(tmp_path):
    encoder = ExportedEncoder()
    encoder.uri = str(tmp_path / "exported")
    for folder in contract.EXPORT_FORMAT_DIRS.values():
        (tmp_path / "exported" / folder / "nested").mkdir(parents=True)
        (tmp_path / "exported" / folder / "nested" / "weights.bin").write_bytes(folder.encode())
    return encoder


def push(exported, blessings: dict[str, int], destination) -> standard_artifacts.PushedModel:
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(destination / "artifact")
    inputs = {contract.EXPORTED_ENCODER: [exported]}
    inputs.update({component.blessing_key(task): [blessing(b)] for task, b in blessings.items()})
    component.Executor().Do(inputs, {contract.PUSHED_MODEL: [pushed]}, {component.PUSH_DESTINATION: str(destination)})
    return pushed


def test_one_blessed_task_pushes_every_format_to_a_new_version(exported, tmp_path):
    serving = tmp_path / "serving" / "encoder"
    pushed = push(exported, {"sst2": 1, "mrpc": 0}, serving)
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("blessed_by") == "sst2"
    version = serving / pushed.get_string_custom_property("pushed_version")
    assert pushed.get_string_custom_property("pushed_destination") == str(version)
    for folder in contract.EXPORT_FORMAT_DIRS.values():
        assert (version / folder / "nested" / "weights.bin").read_bytes() == folder.encode()


def test_no_blessed_task_pushes_nothing(exported, tmp_path):
    serving = tmp_path / "serving" / "encoder"
    pushed = push(exported, {"sst2": 0, "mrpc": 0}, serving)
    assert pushed.get_int_custom_property("pushed") == 0
    assert not serving.exists()


def test_the_spec_takes_a_blessing_per_task():
    spec = component.encoder_pusher_spec(["mrpc", "sst2"])
    assert set(spec.INPUTS) == {contract.EXPORTED_ENCODER, "blessing_mrpc", "blessing_sst2"}
