"""What `bert-tfx run` prints: one line as each component starts and ends, library chatter hidden.

TFX's local orchestrator logs `Component X is running.`, `A cached execution N is used.` and
`Component X is finished.` through absl; `ProgressPrinter` turns those into progress lines and keeps
each component's time for the run summary. Without `--verbose`, warnings and info logs of the
libraries (TensorFlow, Beam, TFX, ML Metadata) are dropped; errors still show. What our own code inside the
components logs at INFO (the Trainer's progress lines, "Resuming pre-training at step N") is printed as is.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
import time
import warnings
from typing import TextIO

from absl import logging as absl_logging

_RUNNING = re.compile(r"^Component (\S+) is running\.$")
_FINISHED = re.compile(r"^Component (\S+) is finished\.$")
_CACHED = re.compile(r"^A cached execution (\d+) is used\.$")
OUR_LOGGER = "models"  # the package whose code runs inside the components (its modules log as `models.*`)


@dataclasses.dataclass
class ComponentTiming:
    node_id: str
    seconds: float = 0.0
    cached: bool = False
    finished: bool = False


class ProgressPrinter(logging.Handler):
    """A logging handler that prints `[ 4/18] Transform ...` lines from the orchestrator's messages."""

    def __init__(self, total_nodes: int, stream: TextIO | None = None):
        super().__init__(level=logging.INFO)
        self.total_nodes = total_nodes
        self.stream = stream or sys.stdout
        self.timings: list[ComponentTiming] = []
        self._started = 0.0

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _prefix(self) -> str:
        width = len(str(self.total_nodes))
        return f"[{len(self.timings):>{width}}/{self.total_nodes}]"

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if match := _RUNNING.match(message):
            self.timings.append(ComponentTiming(match.group(1)))
            self._started = time.monotonic()
            self._print(f"{self._prefix()} {match.group(1)} ...")
        elif _CACHED.match(message) and self.timings:
            self.timings[-1].cached = True
        elif (match := _FINISHED.match(message)) and self.timings and self.timings[-1].node_id == match.group(1):
            timing = self.timings[-1]
            timing.seconds, timing.finished = time.monotonic() - self._started, True
            how = "cached" if timing.cached else "done"
            self._print(f"{self._prefix()} {timing.node_id} {how} in {timing.seconds:.1f} s")


def quiet_libraries() -> None:
    """Drops the libraries' warnings and info logs (call before TensorFlow is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    warnings.filterwarnings("ignore")
    logging.root.setLevel(logging.ERROR)
    for name in ("tensorflow", "apache_beam", "absl", "keras", "h5py", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow with file descriptor 2 closed off: its C++ runtime prints lines such as "All log
    messages before absl::InitializeLog() ..." before any log level applies. Errors still raise."""
    import importlib

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        importlib.import_module("tensorflow")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def attach(total_nodes: int, verbose: bool) -> ProgressPrinter:
    """Starts printing progress; without `verbose` only errors of the libraries show besides it."""
    printer = ProgressPrinter(total_nodes)
    # Through absl's own verbosity flag: absl resets its logger's level from it when a library
    # installs the absl handler (Transform's Beam pipeline does), which would silence the printer.
    absl_logging.set_verbosity(absl_logging.INFO)
    absl_logger = logging.getLogger("absl")
    if not verbose:
        # The orchestrator's INFO records reach the printer only; errors still reach stderr.
        absl_logger.propagate = False
        errors = logging.StreamHandler(sys.stderr)
        errors.setLevel(logging.ERROR)
        absl_logger.addHandler(errors)
    absl_logger.addHandler(printer)
    ours = logging.getLogger(OUR_LOGGER)
    ours.setLevel(logging.INFO)
    ours.propagate = False  # printed once, by this handler, quiet or verbose
    ours.addHandler(logging.StreamHandler(sys.stdout))
    return printer


def timings_table(timings: list[ComponentTiming]) -> list[str]:
    """Per-component times for the run summary, in pipeline order."""
    width = max((len(t.node_id) for t in timings), default=0)
    lines = []
    for timing in timings:
        state = "cached" if timing.cached else ("done" if timing.finished else "did not finish")
        lines.append(f"    {timing.node_id:<{width}}  {timing.seconds:7.1f} s  {state}")
    return lines
