"""The Beam options every data component gets: in-process by default, the config's options winning."""

from __future__ import annotations

import pytest
from tfx.utils import dependency_utils

from configs.run_config import BeamConfig
from pipeline.beam_options import IN_PROCESS_BEAM_ARGS, IN_PROCESS_SDK_IMAGE, beam_args


@pytest.fixture
def packaging(monkeypatch):
    """Records TFX's packaging of itself for remote workers instead of running it (a copy of tfx, an sdist)."""
    built = []

    def build():
        built.append(True)
        return "/tmp/tfx_ephemeral.tar.gz"

    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", build)
    return built


def test_in_process_beam_makes_tfx_build_no_package_for_workers(packaging):
    args = beam_args(BeamConfig())
    assert args == [*IN_PROCESS_BEAM_ARGS, IN_PROCESS_SDK_IMAGE]
    assert dependency_utils.make_beam_dependency_flags(args) == args
    assert not packaging


def test_options_of_the_config_still_come_last_in_process(packaging):
    args = beam_args(BeamConfig(args=["--direct_num_workers=3"]))
    assert args[-1] == "--direct_num_workers=3"
    assert dependency_utils.make_beam_dependency_flags(args) == args
    assert not packaging


@pytest.mark.parametrize(
    "config_args",
    [
        ["--runner=DataflowRunner", "--project=p"],
        ["--runner", "apache_beam.runners.portability.flink_runner.FlinkRunner"],
        ["--runner=PortableRunner", "--environment_type=DOCKER"],
    ],
)
def test_a_cluster_runner_gets_tfx_packaging_back(packaging, config_args):
    args = beam_args(BeamConfig(args=config_args))
    assert IN_PROCESS_SDK_IMAGE not in args
    assert args[-len(config_args) :] == config_args
    assert dependency_utils.make_beam_dependency_flags(args)[-1] == "--extra_package=/tmp/tfx_ephemeral.tar.gz"
    assert packaging == [True]


@pytest.mark.parametrize("dependency", ["--setup_file=./setup.py", "--sdk_container_image=my/image:1"])
def test_dependencies_named_in_the_config_are_left_as_they_are(packaging, dependency):
    args = beam_args(BeamConfig(args=[dependency]))
    assert IN_PROCESS_SDK_IMAGE not in args and args[-1] == dependency
    assert dependency_utils.make_beam_dependency_flags(args) == args
    assert not packaging
