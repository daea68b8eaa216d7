"""A Trainer killed (SIGKILL) after its second checkpoint resumes there when the pipeline is run
again, and finishes at exactly `trainer.train_steps` in one new execution (smoke preset, minutes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inspection import records, store

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
OVERRIDES = [
    "glue.tasks=[]",  # the Trainer and what it needs, nothing after it
    "trainer.eval_steps=0",
    "trainer.train_steps=400",
    "trainer.checkpoint_every_steps=50",
    "trainer.keep_checkpoints=5",
    "trainer.log_every_steps=50",
]


def command(output_dir: Path) -> list[str]:
    args = [str(BIN / "bert-tfx"), "run", "--preset", "smoke", "--output-dir", str(output_dir)]
    for override in OVERRIDES:
        args += ["--set", override]
    return args


def checkpoint_steps(root: Path) -> list[int]:
    """The steps of the checkpoints the checkpoint manager has recorded (its `checkpoint` state file
    is written after each checkpoint's own files, so a checkpoint is complete once it is listed)."""
    steps = []
    for state in root.glob("Trainer/checkpoints/*/checkpoint"):
        for line in state.read_text().splitlines():
            if line.startswith("all_model_checkpoint_paths:"):
                steps.append(int(line.split("ckpt-")[1].rstrip('"')))
    return sorted(steps)


def test_killed_trainer_resumes_from_its_last_checkpoint(tmp_path):
    root = tmp_path / "bert-smoke" / "pipeline_root"
    first = subprocess.Popen(
        command(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 900
    while len(checkpoint_steps(root)) < 2:
        assert first.poll() is None, "the first run ended before its second checkpoint"
        assert time.monotonic() < deadline, "no second checkpoint within 15 minutes"
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    saved = checkpoint_steps(root)
    assert saved[:2] == [50, 100] and saved[-1] < 400

    second = subprocess.run(command(tmp_path), capture_output=True, text=True, timeout=1800)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-6000:]

    reader = records.MetadataReader(store.open_store(tmp_path / "bert-smoke" / "metadata.sqlite"))
    trainer_runs = [e for e in reader.run("latest").executions if e.node_id == "Trainer"]
    assert [e.state for e in trainer_runs] == ["COMPLETE"]
    [model_run] = [p for p in (root / "Trainer" / "model_run").iterdir() if (p / "training.json").exists()]
    training = json.loads((model_run / "training.json").read_text())
    assert training["resumed_from_step"] == saved[-1] >= 100
    assert training["final_step"] == training["train_steps"] == 400
    history = json.loads((model_run / "history.json").read_text())
    assert len(history["loss"]) == (400 - saved[-1]) // 50, "only the steps left were trained"
    assert f"Resuming pre-training at step {saved[-1]}" in second.stdout + second.stderr
