"""The smoke pipeline recording into a real MariaDB server, killed mid-training and run again.

The smoke preset pre-trains in two phases. The second phase's Trainer, killed (SIGKILL to the process group) after
its second checkpoint, resumes there when the pipeline is run again, without running the first phase again (its
execution is cached and its model holds the state the second started from), finishes at exactly
`trainer.train_steps` in one new execution, and exports the encoder of the same
settings run without interruption (`tests/smoke_runs.py`'s fourth run: dropout 0.1, clipping at 1.0, 2
micro-batches per step), weight for weight. Both runs are recorded in one
MySQL ML Metadata store (a server started and stopped here, `tests/mariadb_server.py`, reached over
TCP with a user and password as a Kubeflow Pipelines store is), and the metadata commands read them
back: the killed run and the finished one told apart, lineage from the pushed model to the corpus, and
the report the ReportGen node wrote from that store. One GLUE task keeps it to a few minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from configs.pipeline_contract import ENCODER_CHECKPOINT_DIR, EXPORT_FORMAT_DIRS
from inspection import store
from models.encoder.backbone import WEIGHTS_FILE
from tests.mariadb_server import mariadb_server
from tests.smoke_runs import CHANGED_TRAINER, trainer_model_of_run

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
# The Trainer settings of the smoke runs' fourth run, checkpoints every 10 steps, no evaluation, one GLUE task.
OVERRIDES = [
    'glue.tasks=["mrpc"]',
    "glue.train_steps=30",
    *CHANGED_TRAINER,
    "trainer.eval_steps=0",
    "trainer.checkpoint_every_steps=10",
    "trainer.keep_checkpoints=10",
    "trainer.log_every_steps=10",
]
TRAIN_STEPS = 300  # the smoke preset's
PHASE_2_START = 240  # the smoke preset's second phase trains steps 240-300


def checkpoint_steps(root: Path) -> list[int]:
    """The steps of the checkpoints the second phase's checkpoint manager has recorded (its `checkpoint` state file
    is written after each checkpoint's own files, so a checkpoint is complete once it is listed)."""
    steps = []
    for state in root.glob("Trainer/checkpoints/*/checkpoint"):
        for line in state.read_text().splitlines():
            if line.startswith("all_model_checkpoint_paths:"):
                steps.append(int(line.split("ckpt-")[1].rstrip('"')))
    return sorted(steps)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    base = tmp_path_factory.mktemp("mysql")
    output_dir = base / "outputs"
    root = output_dir / "bert-smoke" / "pipeline_root"
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
        run = [str(BIN / "bert-tfx"), "run", "--preset", "smoke", "--output-dir", str(output_dir), *options]
        for override in OVERRIDES:
            run += ["--set", override]

        first = subprocess.Popen(
            run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 900
        while len(checkpoint_steps(root)) < 2:
            assert first.poll() is None, "the first run ended before its second checkpoint"
            assert time.monotonic() < deadline, "no second checkpoint within 15 minutes"
            time.sleep(0.1)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        saved = checkpoint_steps(root)
        # The killed run's encoder, from its last checkpoint, before anything runs again.
        [killed_checkpoints] = list((root / "Trainer" / "checkpoints").iterdir())
        killed_export = base / "killed_export"
        export = [str(BIN / "bert-tfx"), "export", str(killed_checkpoints), "--output", str(killed_export)]
        exported = subprocess.run(export, capture_output=True, text=True, timeout=600)
        assert exported.returncode == 0, exported.stdout[-3000:] + exported.stderr[-3000:]

        second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=1800)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-6000:]

        def bert_tfx(*args: str) -> str:
            result = subprocess.run(
                [str(BIN / "bert-tfx"), *args, *options], capture_output=True, text=True, env=env, timeout=300
            )
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            return result.stdout

        yield {
            "bert_tfx": bert_tfx,
            "db": db,
            "output_dir": output_dir,
            "root": root,
            "saved": saved,
            "stdout": second.stdout,
            "killed_export": killed_export,
        }


def test_killed_trainer_resumes_from_its_last_checkpoint(killed_and_resumed):
    root, saved = killed_and_resumed["root"], killed_and_resumed["saved"]
    assert saved[:2] == [PHASE_2_START + 10, PHASE_2_START + 20] and saved[-1] < TRAIN_STEPS
    assert f"Resuming pre-training at step {saved[-1]}" in killed_and_resumed["stdout"]
    [model_run] = [p for p in (root / "Trainer" / "model_run").iterdir() if (p / "training.json").exists()]
    training = json.loads((model_run / "training.json").read_text())
    assert training["resumed_from_step"] == saved[-1] >= PHASE_2_START + 20
    assert training["final_step"] == training["train_steps"] == TRAIN_STEPS and training["phase"] == 2
    history = json.loads((model_run / "history.json").read_text())
    assert len(history["loss"]) == (TRAIN_STEPS - saved[-1]) // 10, "only the steps left were trained"
    # The first phase ran once, in the killed run: one execution made its model, and its checkpoints end at 240.
    [first_model] = list((root / "Trainer_phase1" / "model").iterdir())
    assert (first_model / "training_state" / "phase.json").exists()
    [first_checkpoints] = list((root / "Trainer_phase1" / "checkpoints").iterdir())
    assert (first_checkpoints / f"ckpt-{PHASE_2_START}.index").exists()


def encoder_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """The arrays of an exported encoder checkpoint (`<Trainer model>/checkpoint/encoder.weights.h5`)."""
    weights = {}
    with h5py.File(model_dir / ENCODER_CHECKPOINT_DIR / WEIGHTS_FILE) as f:
        f.visititems(lambda name, item: weights.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return weights


def test_the_resumed_run_exports_the_encoder_of_the_uninterrupted_one(killed_and_resumed, smoke_runs):
    # The killed execution's half-written output folders were removed when the pipeline ran again.
    assert "output folders that runs which died had left half-written" in killed_and_resumed["stdout"]
    [resumed_model] = list((killed_and_resumed["root"] / "Trainer" / "model").iterdir())
    [resumed_run] = list((killed_and_resumed["root"] / "Trainer" / "model_run").iterdir())
    assert resumed_model.name == resumed_run.name, "both outputs of one execution"
    assert (resumed_model / ENCODER_CHECKPOINT_DIR / WEIGHTS_FILE).exists()
    uninterrupted = encoder_weights(trainer_model_of_run(smoke_runs["store_path"], run_index=3))
    resumed = encoder_weights(resumed_model)
    assert resumed.keys() == uninterrupted.keys() and len(resumed) > 20
    first = encoder_weights(trainer_model_of_run(smoke_runs["store_path"], run_index=0))
    assert max(float(np.abs(first[k] - resumed[k]).max()) for k in first) > 1e-3, "other settings, other weights"
    differences = {k: float(np.abs(resumed[k] - uninterrupted[k]).max()) for k in resumed}
    assert max(differences.values()) == 0.0, differences


def test_the_killed_runs_last_checkpoint_exports_in_every_format(killed_and_resumed):
    from safetensors.numpy import load_file

    export = killed_and_resumed["killed_export"]
    hf = export / EXPORT_FORMAT_DIRS["hf"]
    config = json.loads((hf / "config.json").read_text())
    tensors = load_file(hf / "model.safetensors")
    assert tensors["bert.embeddings.word_embeddings.weight"].shape == (config["vocab_size"], config["hidden_size"])
    assert tensors["cls.seq_relationship.weight"].shape == (2, config["hidden_size"])
    assert (export / EXPORT_FORMAT_DIRS["keras-hub"] / "task.weights.h5").exists()
    assert (export / EXPORT_FORMAT_DIRS["saved-model"] / "saved_model.pb").exists()
    # The encoder at the killed run's last checkpoint, which the resumed run trained further.
    [resumed_model] = list((killed_and_resumed["root"] / "Trainer" / "model").iterdir())
    final = encoder_weights(resumed_model)
    exported_embedding = tensors["bert.embeddings.word_embeddings.weight"]
    [embedding] = [value for value in final.values() if value.shape == exported_embedding.shape]
    assert 0 < float(np.abs(exported_embedding - embedding).max()) < 1.0


def test_runs_are_recorded_in_mariadb_not_sqlite(killed_and_resumed):
    db = killed_and_resumed["db"]
    assert f"ML Metadata:    mysql://{db.user}@{db.host}:{db.port}/{db.database}" in killed_and_resumed["stdout"]
    assert not (killed_and_resumed["output_dir"] / "bert-smoke" / "metadata.sqlite").exists()


def test_the_killed_run_and_the_finished_one_are_told_apart(killed_and_resumed):
    bert_tfx = killed_and_resumed["bert_tfx"]
    runs = json.loads(bert_tfx("runs", "--json"))
    # The killed run never recorded its end; no process runs it: it died.
    assert [r["state"] for r in runs] == ["DIED", "COMPLETE"]
    killed = json.loads(bert_tfx("show", runs[0]["name"], "--json"))
    finished = json.loads(bert_tfx("show", runs[1]["name"], "--json"))
    killed_states = {e["node_id"]: e["state"] for e in killed["executions"]}
    finished_states = {e["node_id"]: e["state"] for e in finished["executions"]}
    assert killed_states["Trainer"] == "RUNNING" and "ReportGen" not in killed_states
    assert finished_states["Trainer"] == "COMPLETE" and finished_states["Transform"] == "CACHED"
    assert killed_states["Trainer_phase1"] == "COMPLETE" and finished_states["Trainer_phase1"] == "CACHED"
    assert finished_states["ReportGen"] == "COMPLETE"
    assert killed["config"] == finished["config"] and finished["config"]["glue"]["tasks"] == ["mrpc"]
    # One model of each phase's Trainer: the first phase's made by the killed run, the second's by the finished one.
    models = json.loads(bert_tfx("artifacts", "--type", "Model", "--json"))
    assert sorted(m["producer"] for m in models) == ["GlueFineTune_mrpc", "Trainer", "Trainer_phase1"]
    killed_models = json.loads(bert_tfx("artifacts", "--type", "Model", "--run", runs[0]["name"], "--json"))
    assert [m["producer"] for m in killed_models] == ["Trainer_phase1"]


def test_lineage_from_the_pushed_model_back_to_the_corpus(killed_and_resumed):
    bert_tfx = killed_and_resumed["bert_tfx"]
    pushed_models = json.loads(bert_tfx("artifacts", "--type", "PushedModel", "--json"))
    assert {p["producer"] for p in pushed_models} == {"Pusher_mrpc", "EncoderPusher"}
    [pushed] = [p for p in pushed_models if p["producer"] == "Pusher_mrpc"]
    graph = json.loads(bert_tfx("lineage", str(pushed["id"]), "--upstream-only", "--json"))
    producers = {a["producer"] for a in graph["artifacts"]}
    assert {"TextExampleGen", "Transform", "Trainer", "GlueFineTune_mrpc", "GlueExampleGen_mrpc"} <= producers
    assert {"Transform_phase2", "Trainer_phase1"} <= producers, "the second phase's lineage links the first"
    [corpus_reader] = [e for e in graph["executions"] if e["node_id"] == "TextExampleGen"]
    assert corpus_reader["properties"]["input_base"].endswith("/data/corpus")


def test_the_report_node_read_the_mysql_store(killed_and_resumed):
    report_root = killed_and_resumed["root"] / "ReportGen" / "report"
    [report_dir] = list(report_root.iterdir())
    markdown = (report_dir / "report.md").read_text()
    assert "| Trainer | complete |" in markdown and "| Transform | cached |" in markdown
    assert "(preset smoke): complete," in markdown and "| ReportGen |" not in markdown
    assert "![lineage](lineage.svg)" in markdown and "<svg" in (report_dir / "lineage.svg").read_text()
    killed = json.loads(killed_and_resumed["bert_tfx"]("runs", "--json"))[0]["name"]
    out = killed_and_resumed["output_dir"] / "killed_run_report"
    killed_and_resumed["bert_tfx"]("report", killed, "--out", str(out))
    assert "| Trainer | running |" in (out / "report.md").read_text()
