"""The GLUE report from fine-tuning metrics files: scores, gates, the GLUE score and the submission."""

import json
import zipfile

import pytest

from inspection import glue_report
from inspection.report import ReportInputs
from models.run_files import GLUE_METRICS_FILE, GLUE_PREDICTIONS_DIR


def write_run(tmp_path, task, dev, runs, constant, predictions=None, dev_splits=None):
    run_dir = tmp_path / f"GlueFineTune_{task}" / "model_run" / "7"
    (run_dir / GLUE_PREDICTIONS_DIR).mkdir(parents=True)
    for name in predictions or {}:
        (run_dir / GLUE_PREDICTIONS_DIR / name).write_text("index\tprediction\n0\t1\n")
    metrics = {
        "task": task,
        "train_steps": 10,
        "dev": dev,
        "dev_splits": dev_splits or {"eval": dev},
        "runs": [{"dev": {"eval": r}} for r in runs],
        "best_run": {"seed": 1, "learning_rate": 1e-4},
        "spread": {"eval": {m: {"median": 0.5, "min": 0.4, "max": dev[m]} for m in dev}},
        "constant_baseline": {"eval": constant},
        "test_predictions": predictions or {},
    }
    (run_dir / GLUE_METRICS_FILE).write_text(json.dumps(metrics))
    return str(run_dir)


def test_report_scores_gates_and_submits_only_pushed_models(tmp_path):
    config = {
        "glue": {
            "tasks": ["mrpc", "mnli", "rte"],
            "constant_margin": 0.01,
            "bounds": {"rte": {"accuracy": 0.6}},
            "seeds": [1, 2],
            "learning_rates": [],
            "learning_rate": 1e-4,
        }
    }
    inputs = ReportInputs(config=config)
    mrpc = {"f1": 0.85, "accuracy": 0.75}
    inputs.task_uris["mrpc"] = {
        "model_run": write_run(
            tmp_path,
            "mrpc",
            mrpc,
            [mrpc, {"f1": 0.8, "accuracy": 0.7}],
            {"f1": 0.812, "accuracy": 0.684},
            {"MRPC.tsv": 1},
        )
    }
    mnli = {"accuracy": 0.6}
    inputs.task_uris["mnli"] = {
        "model_run": write_run(
            tmp_path,
            "mnli",
            mnli,
            [mnli],
            {"accuracy": 0.354},
            {"MNLI-m.tsv": 1},
            dev_splits={"eval": mnli, "eval_mismatched": {"accuracy": 0.7}},
        )
    }
    rte = {"accuracy": 0.55}
    inputs.task_uris["rte"] = {"model_run": write_run(tmp_path, "rte", rte, [rte], {"accuracy": 0.527}, {"RTE.tsv": 1})}
    inputs.blessing_flags = {"mrpc": True, "mnli": True, "rte": False}
    inputs.pushed = {"mrpc": "/srv/mrpc/1", "mnli": "/srv/mnli/1", "rte": None}

    report = glue_report.write_glue_report(inputs, tmp_path / "report")
    by_task = {e["task"]: e for e in report["tasks"]}
    assert by_task["mrpc"]["score"] == pytest.approx(0.8)  # mean of F1 and accuracy
    assert by_task["mnli"]["score"] == pytest.approx(0.65)  # matched and mismatched averaged
    assert report["glue_score"] == pytest.approx((0.8 + 0.65 + 0.55) / 3)
    assert by_task["mrpc"]["bounds"]["f1"] == {"value": pytest.approx(0.822), "source": "constant 0.812 + 0.01"}
    assert by_task["rte"]["bounds"]["accuracy"] == {"value": 0.6, "source": "explicit"}
    assert glue_report.gate_text(by_task["rte"]) == "rejected (accuracy 55.0 < 60.0)"

    with zipfile.ZipFile(tmp_path / "report" / glue_report.SUBMISSION_FILE) as archive:
        assert sorted(archive.namelist()) == ["MNLI-m.tsv", "MRPC.tsv"], "RTE was not pushed"
    left_out = report["submission"]["left_out"]
    assert any(item.startswith("rte (not pushed") for item in left_out)
    assert any(item.startswith("MNLI-mm.tsv (no MNLI/test_mismatched.tsv") for item in left_out)

    markdown = (tmp_path / "report" / glue_report.MARKDOWN_FILE).read_text()
    assert (
        "| mrpc | f1 | 85.0 | 50.0 [40.0-85.0] | 81.2 | 82.2 (constant 0.812 + 0.01) | blessed | /srv/mrpc/1 |"
        in markdown
    )
    assert "mnli-mm: accuracy 70.0" in markdown and "GLUE score: **66.7**" in markdown
    assert (tmp_path / "report" / glue_report.CHART_FILE).stat().st_size > 1000
    assert json.loads((tmp_path / "report" / glue_report.JSON_FILE).read_text())["glue_score"] == report["glue_score"]
