"""Shared test settings: quiet TensorFlow, the repository paths tests read from, and the Kubeflow image built in
the background while the first tests run."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """The smoke pipeline's four runs in one output folder (`tests/smoke_runs.py`), shared by the end-to-end tests."""
    from tests.smoke_runs import four_runs

    return four_runs(tmp_path_factory.mktemp("outputs"))


def kubeflow_module(name: str):
    """A script of `kubeflow/` (a folder of scripts, not a package) imported as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "kubeflow" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


IMAGE_BUILD_LOG = REPO_ROOT / "build" / "image" / "background_build.log"
_IMAGE_BUILD = pytest.StashKey[subprocess.Popen]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Starts `kubeflow/build_image.sh` in the background when a selected test needs the image: most of a first
    build is downloading (debootstrap, pip), which then overlaps the tests that run before the container tests.
    Those wait for it (`wait_for_image_build`) and build again, which podman's layer cache makes quick and which
    reports the error if the background build failed."""
    if session.config.option.collectonly or shutil.which("podman") is None:
        return
    if not any(item.get_closest_marker("container") for item in session.items):
        return
    IMAGE_BUILD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(IMAGE_BUILD_LOG, "w") as log:
        session.config.stash[_IMAGE_BUILD] = subprocess.Popen(
            ["bash", str(REPO_ROOT / "kubeflow" / "build_image.sh")],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, so podman stops with it
        )


def wait_for_image_build(config: pytest.Config) -> None:
    """Waits for the background image build, if one was started."""
    build = config.stash.get(_IMAGE_BUILD, None)
    if build is not None:
        build.wait()


def pytest_unconfigure(config: pytest.Config) -> None:
    build = config.stash.get(_IMAGE_BUILD, None)
    if build is not None and build.poll() is None:  # the session ended early (-x, Ctrl-C)
        os.killpg(build.pid, signal.SIGTERM)
        build.wait()
