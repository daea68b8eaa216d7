"""The GLUE report from fine-tuning metrics files: scores, gates, the GLUE score and the submission."""

import json
import zipfile

import pytest

from configs import pipeline_contract as contract
from configs.pipeline_contract import GLUE_METRICS_FILE, GLUE_PREDICTIONS_DIR
from inspection import glue_report
from inspection.run_contents import ArtifactRef, ReportInputs, TaskArtifacts


def fine_tuned(tmp_path, task, dev, trials, constant, predictions=None, dev_splits=None, blessed=None, pushed_to=None):
    """A task's artifacts: its fine-tuning ModelRun (the metrics file, prediction files), blessing, pushed model."""
    model_run_dir = tmp_path / f"model_run_{task}"
    (model_run_dir / GLUE_PREDICTIONS_DIR).mkdir(parents=True)
    for name in predictions or {}:
        (model_run_dir / GLUE_PREDICTIONS_DIR / name).write_text("index\tprediction\n0\t1\n")
    metrics = {
        "task": task,
        "train_steps": 10,
        "dev": dev,
        "dev_splits": dev_splits or {"eval": dev},
        "trials": [{"dev": {"eval": r}} for r in trials],
        "best_trial": {"seed": 1, "learning_rate": 1e-4},
        "spread": {"eval": {m: {"median": 0.5, "min": 0.4, "max": dev[m]} for m in dev}},
        "constant_baseline": {"eval": constant},
        "test_predictions": predictions or {},
    }
    (model_run_dir / GLUE_METRICS_FILE).write_text(json.dumps(metrics))
    return TaskArtifacts(
        fine_tuning_model_run=ArtifactRef(str(model_run_dir)),
        blessing=None if blessed is None else ArtifactRef("/b", {"blessed": int(blessed)}),
        pushed_model=ArtifactRef("/p", {"pushed": int(bool(pushed_to)), "pushed_destination": pushed_to or ""}),
    )


def test_report_scores_gates_and_submits_only_pushed_models(tmp_path):
    config = {
        "glue": {
            "tasks": ["mrpc", "mnli", "rte"],
            "constant_margin": 0.01,
            "bounds": {"rte": {"accuracy": 0.6}},
            "seeds": [1, 2],
            "learning_rates": [1e-4],
        }
    }
    inputs = ReportInputs(config=config)
    mrpc = {"f1": 0.85, "accuracy": 0.75}
    inputs.tasks["mrpc"] = fine_tuned(
        tmp_path,
        "mrpc",
        mrpc,
        [mrpc, {"f1": 0.8, "accuracy": 0.7}],
        {"f1": 0.812, "accuracy": 0.684},
        {"MRPC.tsv": 1},
        blessed=True,
        pushed_to="/srv/mrpc/1",
    )
    mnli = {"accuracy": 0.6}
    inputs.tasks["mnli"] = fine_tuned(
        tmp_path,
        "mnli",
        mnli,
        [mnli],
        {"accuracy": 0.354},
        {"MNLI-m.tsv": 1},
        dev_splits={"eval": mnli, "eval_mismatched": {"accuracy": 0.7}},
        blessed=True,
        pushed_to="/srv/mnli/1",
    )
    rte = {"accuracy": 0.55}
    inputs.tasks["rte"] = fine_tuned(tmp_path, "rte", rte, [rte], {"accuracy": 0.527}, {"RTE.tsv": 1}, blessed=False)

    report = glue_report.write_glue_report(inputs, tmp_path / "report")
    by_task = {e["task"]: e for e in report["tasks"]}
    assert by_task["mrpc"]["score"] == pytest.approx(0.8)  # mean of F1 and accuracy
    assert by_task["mnli"]["score"] == pytest.approx(0.65)  # matched and mismatched averaged
    assert report["glue_score"] == pytest.approx((0.8 + 0.65 + 0.55) / 3)
    assert by_task["mrpc"]["bounds"]["f1"] == {"value": pytest.approx(0.822), "source": "constant 0.812 + 0.01"}
    assert by_task["rte"]["bounds"]["accuracy"] == {"value": 0.6, "source": "explicit"}
    assert glue_report.gate_text(by_task["rte"]) == "rejected (accuracy 55.0 < 60.0)"

    with zipfile.ZipFile(tmp_path / "report" / contract.GLUE_SUBMISSION_FILE) as archive:
        assert sorted(archive.namelist()) == ["MNLI-m.tsv", "MRPC.tsv"], "RTE was not pushed"
    left_out = report["submission"]["left_out"]
    assert any(item.startswith("rte (not pushed") for item in left_out)
    assert any(item.startswith("MNLI-mm.tsv (no MNLI/test_mismatched.tsv") for item in left_out)

    markdown = (tmp_path / "report" / contract.GLUE_REPORT_MARKDOWN_FILE).read_text()
    assert (
        "| mrpc | f1 | 85.0 | 50.0 [40.0-85.0] | 81.2 | 82.2 (constant 0.812 + 0.01) | blessed | /srv/mrpc/1 |"
        in markdown
    )
    assert "mnli-mm: accuracy 70.0" in markdown and "GLUE score: **66.7**" in markdown
    assert (tmp_path / "report" / contract.GLUE_REPORT_CHART_FILE).stat().st_size > 1000
    glue_json = json.loads((tmp_path / "report" / contract.GLUE_REPORT_JSON_FILE).read_text())
    assert glue_json["glue_score"] == report["glue_score"]
