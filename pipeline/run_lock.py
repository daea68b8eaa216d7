"""One `bert-tfx run` of a pipeline at a time per output folder, and which recorded runs are still running.

A run holds an exclusive `flock` on `<output dir>/<pipeline>/run.lock` while it runs, and writes who it is into
the file (host, process id, start time). The operating system releases the lock when the process ends, however
it ends (a SIGKILL, a power cut of the host), so:
- a second `bert-tfx run` of the same pipeline and output folder stops at once naming the first (or waits for
  it with `--wait`), instead of both running everything;
- the metadata commands tell a run that is still running (its lock is held) from one that died (ML Metadata
  still says RUNNING because no one recorded its end): `bert-tfx runs` shows DIED.
`flock` is local to a host (and to file systems that support it); runs of one pipeline on several hosts sharing
a folder are not told apart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "run.lock"


@dataclasses.dataclass(frozen=True)
class Holder:
    """The process running a pipeline."""

    host: str
    pid: int
    started: str  # UTC, ISO 8601

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}, started {self.started} UTC"


class RunInProgress(RuntimeError):
    """Another run of the same pipeline holds its output folder."""


def _lock_path(pipeline_dir: Path) -> Path:
    return Path(pipeline_dir) / LOCK_FILE


@contextlib.contextmanager
def held(pipeline_dir: Path, wait: bool = False) -> Iterator[Holder]:
    """Holds the pipeline's lock for the block; raises RunInProgress naming the holder unless `wait`."""
    path = _lock_path(pipeline_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            other = _read(path)
            running = other.describe() if other else "another process"
            raise RunInProgress(
                f"{Path(pipeline_dir).name} is already running in {pipeline_dir} ({running}); wait for it to end "
                "(bert-tfx run --wait waits), or use another --output-dir"
            ) from None
        me = Holder(
            socket.gethostname(), os.getpid(), datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        )
        lock.seek(0)
        lock.truncate()
        lock.write(json.dumps(dataclasses.asdict(me)))
        lock.flush()
        try:
            yield me
        finally:
            lock.seek(0)
            lock.truncate()
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(path: Path) -> Holder | None:
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def holder(pipeline_dir: Path) -> Holder | None:
    """The process running the pipeline now, or None when no run holds its lock."""
    path = _lock_path(pipeline_dir)
    if not path.exists():
        return None
    with open(path) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(path) or Holder("?", 0, "?")
        fcntl.flock(lock, fcntl.LOCK_UN)
    return None


def live_states(states: list[str], running_now: bool) -> list[str]:
    """The states of a pipeline's runs, oldest first, with RUNNING replaced by DIED where no process runs them: all
    of them when no run holds the lock, all but the newest when one does."""
    newest_running = max((i for i, s in enumerate(states) if s == "RUNNING"), default=None)
    return [
        "DIED" if state == "RUNNING" and not (running_now and index == newest_running) else state
        for index, state in enumerate(states)
    ]
