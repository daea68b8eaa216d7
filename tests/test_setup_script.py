"""`make setup` (scripts/setup_env.sh): refuses unsupported systems up front, and is idempotent."""

import os
import subprocess
import time

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "setup_env.sh"


def fake_command(directory, name, output):
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(0o755)


def run_setup(env):
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)


def test_old_glibc_without_root_stops_at_once_naming_the_requirement(tmp_path):
    fake_command(tmp_path, "getconf", "glibc 2.31")
    fake_command(tmp_path, "id", "1000")
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}", VENV=str(tmp_path / "venv"))
    start = time.monotonic()
    result = run_setup(env)
    assert result.returncode != 0
    assert "glibc 2.31" in result.stderr
    assert "glibc >= 2.39" in result.stderr and "Debian 13" in result.stderr
    assert time.monotonic() - start < 10
    assert not (tmp_path / "venv").exists(), "nothing is installed on an unsupported system"


def test_wrong_python_is_named(tmp_path):
    env = dict(os.environ, PYTHON="python3.99-missing", VENV=str(tmp_path / "venv"))
    result = run_setup(env)
    assert result.returncode != 0
    assert "needs Python 3.11" in result.stderr


def test_second_setup_is_a_quick_no_op():
    # The test session itself runs after `make setup`, so the install is already in place.
    start = time.monotonic()
    result = run_setup(dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "nothing to do" in result.stdout
    assert time.monotonic() - start < 30
