"""What a user sees when a run fails inside a component: one message, the component, what to do, and where the
traceback went."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


def test_a_failing_component_prints_its_message_not_a_traceback(tmp_path):
    """Every failure inside a component printed 32-172 lines of traceback, even when its last line was a good
    message. Here: a corpus of one long line, which cannot give both a train and an eval split."""
    data = tmp_path / "data"
    (data / "corpus").mkdir(parents=True)
    shutil.copytree(DATA_DIR / "glue", data / "glue")
    (data / "corpus" / "one_line.txt").write_text(" ".join(f"Sentence {n} of one long line." for n in range(60)) + "\n")
    output = tmp_path / "out"
    command = [str(BIN / "bert-tfx"), "run", "--preset", "smoke", "--data-dir", str(data), "--output-dir", str(output)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)

    assert result.returncode == 1
    ours = [line for line in result.stderr.splitlines() if line.startswith("bert-tfx run:")]
    assert ours == [
        "bert-tfx run: TextExampleGen failed: ValueError: TextExampleGen: none of the 1 documents kept from the corpus "
        f"in {data / 'corpus'} falls in the eval split, which gets corpus.eval_buckets=1 of the 20 hash buckets of "
        "document ids; every split needs documents. Give the corpus more documents (a blank line separates two in "
        "plain text) or the split more buckets (--set corpus.eval_buckets=...)"
    ]
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 4, result.stderr
    [log] = (output / "bert-smoke" / "logs").glob("failed-*.log")
    assert f"the traceback: {log} (--verbose prints it here)" in result.stderr
    assert (
        "Traceback (most recent call last)" in log.read_text() and "_check_every_split_has_documents" in log.read_text()
    )
