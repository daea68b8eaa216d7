"""One run of a pipeline per output folder at a time, and died runs told from running ones."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import cli, run_lock
from tests.conftest import DATA_DIR, REPO_ROOT

HOLD = """
import sys, time
from pathlib import Path
from pipeline import run_lock
with run_lock.held(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def holding_process(pipeline_dir) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(pipeline_dir)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_the_lock_names_its_holder_and_is_free_again_when_the_holder_is_killed(tmp_path):
    process = holding_process(tmp_path)
    holder = run_lock.holder(tmp_path)
    assert holder is not None and holder.pid == process.pid
    with pytest.raises(run_lock.RunInProgress, match=rf"already running in {tmp_path} \(process {process.pid} on"):
        with run_lock.held(tmp_path):
            pass
    os.kill(process.pid, signal.SIGKILL)  # as a kill -9, an OOM kill or a lost node: nothing runs `finally`
    process.wait()
    assert run_lock.holder(tmp_path) is None
    with run_lock.held(tmp_path) as me:
        assert me.pid == os.getpid()


def test_a_second_run_of_the_same_pipeline_and_folder_stops_at_once_naming_the_first(tmp_path, capsys):
    """Two `bert-tfx run`s of one pipeline in one output folder both ran everything."""
    output = tmp_path / "out"
    process = holding_process(output / "bert-smoke")
    try:
        start = time.monotonic()
        assert cli.main(["run", "--data-dir", str(DATA_DIR), "--output-dir", str(output)]) == 2
        err = capsys.readouterr().err
        assert f"bert-smoke is already running in {output / 'bert-smoke'} (process {process.pid} on" in err
        assert "--wait" in err and time.monotonic() - start < 60
    finally:
        process.kill()
        process.wait()


def test_states_of_runs_without_a_process_are_died():
    assert run_lock.live_states(["COMPLETE", "RUNNING", "RUNNING"], running_now=True) == ["COMPLETE", "DIED", "RUNNING"]
    assert run_lock.live_states(["RUNNING", "FAILED", "RUNNING"], running_now=False) == ["DIED", "FAILED", "DIED"]
