"""The smoke pipeline with its ML Metadata in a real MariaDB server, read back by the metadata commands.

Two runs go into one store: a full one, then an unchanged one (cached). The server is started and
stopped here (`tests/mariadb_server.py`); the pipeline and the ReportGen node reach it over TCP with a
user and password, as a Kubeflow Pipelines store is reached. One GLUE task and fewer steps keep it short.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inspection import store
from tests.mariadb_server import mariadb_server

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
# The smoke preset with one GLUE task and fewer steps: this test is about the store, not the model.
SHORTER = ["--set", 'glue.tasks=["mrpc"]', "--set", "trainer.train_steps=60", "--set", "glue.train_steps=30"]


@pytest.fixture(scope="module")
def mysql_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("mysql")
    output_dir = base / "outputs"
    with mariadb_server(base) as db:
        env = dict(os.environ, **{store.MYSQL_PASSWORD_ENV: db.password})
        options = [
            "--mysql-host",
            db.host,
            "--mysql-port",
            str(db.port),
            "--mysql-user",
            db.user,
            "--mysql-database",
            db.database,
        ]

        def bert_tfx(*args: str) -> str:
            result = subprocess.run(
                [str(BIN / "bert-tfx"), *args, *options], capture_output=True, text=True, env=env, timeout=1800
            )
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            return result.stdout

        run = ["run", "--preset", "smoke", "--output-dir", str(output_dir), *SHORTER]
        first_stdout = bert_tfx(*run)
        second_stdout = bert_tfx(*run)
        yield {"bert_tfx": bert_tfx, "db": db, "output_dir": output_dir, "stdout": (first_stdout, second_stdout)}


def test_runs_are_recorded_in_mariadb_not_sqlite(mysql_runs):
    db = mysql_runs["db"]
    first, _ = mysql_runs["stdout"]
    assert f"ML Metadata:    mysql://{db.user}@{db.host}:{db.port}/{db.database}" in first
    assert not (mysql_runs["output_dir"] / "bert-smoke" / "metadata.sqlite").exists()


def test_two_runs_in_one_store_are_told_apart(mysql_runs):
    bert_tfx = mysql_runs["bert_tfx"]
    runs = json.loads(bert_tfx("runs", "--json"))
    assert len(runs) == 2 and runs[0]["name"] != runs[1]["name"]
    first = json.loads(bert_tfx("show", runs[0]["name"], "--json"))
    second = json.loads(bert_tfx("show", runs[1]["name"], "--json"))
    first_states = {e["node_id"]: e["state"] for e in first["executions"]}
    second_states = {e["node_id"]: e["state"] for e in second["executions"]}
    assert first_states["Trainer"] == "COMPLETE" and second_states["Trainer"] == "CACHED"
    assert set(first_states) == set(second_states)
    assert first["config"]["glue"]["tasks"] == ["mrpc"]
    assert {e["id"] for e in first["executions"]}.isdisjoint({e["id"] for e in second["executions"]})
    # The cached run re-used the first run's encoder: same artifact, listed under both runs.
    first_models = json.loads(bert_tfx("artifacts", "--type", "Model", "--run", runs[0]["name"], "--json"))
    second_models = json.loads(bert_tfx("artifacts", "--type", "Model", "--run", runs[1]["name"], "--json"))
    encoder = [m["id"] for m in first_models if m["producer"] == "Trainer"]
    assert encoder and encoder == [m["id"] for m in second_models if m["producer"] == "Trainer"]


def test_lineage_from_the_pushed_model_back_to_the_corpus(mysql_runs):
    bert_tfx = mysql_runs["bert_tfx"]
    pushed = json.loads(bert_tfx("artifacts", "--type", "PushedModel", "--json"))
    graph = json.loads(bert_tfx("lineage", str(pushed[0]["id"]), "--upstream-only", "--json"))
    producers = {a["producer"] for a in graph["artifacts"]}
    assert {"TextExampleGen", "Transform", "Trainer", "GlueFineTune_mrpc", "GlueExampleGen_mrpc"} <= producers
    corpus = [a for a in graph["artifacts"] if a["producer"] == "TextExampleGen"]
    assert corpus[0]["uri"].endswith(tuple("0123456789")) and "/TextExampleGen/examples/" in corpus[0]["uri"]


def test_the_report_node_read_the_mysql_store(mysql_runs):
    report_root = mysql_runs["output_dir"] / "bert-smoke" / "pipeline_root" / "ReportGen" / "report"
    # The second run's Evaluator re-ran (it found the first run's blessed model as its baseline), so did
    # the report: one per run, each listing its own run's components.
    first_dir, second_dir = sorted(report_root.iterdir(), key=lambda p: int(p.name))
    assert "| Trainer | complete |" in (first_dir / "report.md").read_text()
    second = (second_dir / "report.md").read_text()
    assert "| Trainer | cached |" in second and "![lineage](lineage.svg)" in second
    assert "<svg" in (second_dir / "lineage.svg").read_text()
    runs = json.loads(mysql_runs["bert_tfx"]("runs", "--json"))
    out = mysql_runs["output_dir"] / "first_report"
    mysql_runs["bert_tfx"]("report", runs[0]["name"], "--out", str(out))
    assert "| Trainer | complete |" in (out / "report.md").read_text()
