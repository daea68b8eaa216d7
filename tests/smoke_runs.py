"""The smoke pipeline's four runs that several end-to-end tests read (one session fixture, `smoke_runs`).

Four runs share one output folder: a first full run; an unchanged re-run; a second unchanged re-run; and a run
with Trainer settings changed (`CHANGED_TRAINER`: another learning rate with a cosine decay, and each step's 32
examples taken as 2 micro-batches of 16, the accumulation real runs use). The run killed and resumed in
`test_resume_on_mysql_store_e2e.py` trains with those settings too, so the fourth run is its uninterrupted twin.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from inspection import records, store

BIN = Path(sys.executable).parent
CHANGED_TRAINER = (
    "trainer.learning_rate=0.002",
    "trainer.batch_size=16",
    "trainer.gradient_accumulation_steps=2",
    "trainer.schedule=cosine",
)


def reader_of(store_path: Path) -> records.MetadataReader:
    return records.MetadataReader(store.open_store(store_path))


def latest_executions(store_path: Path) -> list[records.ExecutionRecord]:
    """The executions of the store's most recent pipeline run."""
    return list(reader_of(store_path).run("latest").executions)


def run_cli(output_dir: Path, *overrides: str) -> tuple[float, str, str]:
    command = [str(BIN / "bert-tfx"), "run", "--preset", "smoke", "--output-dir", str(output_dir)]
    for override in overrides:
        command += ["--set", override]
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return elapsed, result.stdout, result.stderr


def four_runs(output_dir: Path) -> dict:
    first = run_cli(output_dir)
    store_path = output_dir / "bert-smoke" / "metadata.sqlite"
    first_executions = latest_executions(store_path)
    cached = run_cli(output_dir)
    cached_executions = latest_executions(store_path)
    run_cli(output_dir)
    steady_executions = latest_executions(store_path)
    changed = run_cli(output_dir, *CHANGED_TRAINER)
    changed_executions = latest_executions(store_path)
    return {
        "output_dir": output_dir,
        "store_path": store_path,
        "root": output_dir / "bert-smoke" / "pipeline_root",
        "first": (first, first_executions),
        "cached": (cached, cached_executions),
        "steady": steady_executions,
        "changed": (changed, changed_executions),
    }


def trainer_model_of_run(store_path: Path, run_index: int) -> Path:
    """The Trainer's `model` folder made by the store's run number `run_index` (0: the first)."""
    reader = reader_of(store_path)
    run = reader.runs()[run_index]
    return Path(reader.run_artifacts(run)["Trainer.model"][-1].uri)
