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
        # A lead over the constant predictor whose 95% interval is 2 points either side.
        "evidence": {
            m: {
                "margin": dev[m] - constant[m],
                "lower": dev[m] - constant[m] - 0.02,
                "upper": dev[m] - constant[m] + 0.02,
            }
            | {"confidence": 0.95, "samples": 1000}
            for m in dev
        },
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
    assert report["constant_glue_score"] == pytest.approx(((0.812 + 0.684) / 2 + 0.354 + 0.527) / 3)
    assert by_task["mrpc"]["gates"]["f1"] == {"lead_at_least": 0.01, "confidence": 0.95, "explicit": None}
    assert by_task["rte"]["gates"]["accuracy"]["explicit"] == 0.6
    # RTE: 2.3 points over the majority class, but the interval's lower end (+0.3) is under the margin (+1.0), and
    # the explicit bound is missed too.
    assert glue_report.gate_text(by_task["rte"]) == (
        "rejected (accuracy lead over constant +2.3, 95% lower bound +0.3 < +1.0; accuracy 55.0 < 60.0)"
    )
    assert glue_report.headline(report) == (
        "GLUE: +12.4 points over the constant predictors (66.7 against 54.3): above the constant predictors; "
        "blessed: mnli, mrpc."
    )

    with zipfile.ZipFile(tmp_path / "report" / contract.GLUE_SUBMISSION_FILE) as archive:
        assert sorted(archive.namelist()) == ["MNLI-m.tsv", "MRPC.tsv"], "RTE was not pushed"
    left_out = report["submission"]["left_out"]
    assert any(item.startswith("rte (not pushed") for item in left_out)
    assert any(item.startswith("MNLI-mm.tsv (no MNLI/test_mismatched.tsv") for item in left_out)

    markdown = (tmp_path / "report" / contract.GLUE_REPORT_MARKDOWN_FILE).read_text()
    assert (
        "| mrpc | f1 | 85.0 | 50.0 [40.0-85.0] | 81.2 | +3.8 [+1.8, +5.8] | lower >= +1.0 | blessed | /srv/mrpc/1 |"
        in markdown
    )
    assert (
        "| rte | accuracy | 55.0 | 50.0 [40.0-55.0] | 52.7 | +2.3 [+0.3, +4.3] | lower >= +1.0; >= 60.0 |" in markdown
    )
    assert "mnli-mm: accuracy 70.0" in markdown and "GLUE score: **66.7**" in markdown
    # The report is written in a scratch folder and copied to the artifact: it names the zip relative to itself, and
    # the run summary names it under the artifact's folder.
    assert "Test-set predictions of the pushed models: glue_submission.zip (MRPC.tsv, MNLI-m.tsv)." in markdown
    assert "predictions of the pushed models: /store/ReportGen/report/9/glue_submission.zip (" in (
        glue_report.render_markdown(report, "/store/ReportGen/report/9")
    )
    assert (tmp_path / "report" / contract.GLUE_REPORT_CHART_FILE).stat().st_size > 1000
    glue_json = json.loads((tmp_path / "report" / contract.GLUE_REPORT_JSON_FILE).read_text())
    assert glue_json["glue_score"] == report["glue_score"]


def test_a_run_at_the_constant_level_is_headlined_as_no_result(tmp_path):
    """`make run` printed "GLUE score: 62.9" for models that answered the same for every example."""
    inputs = ReportInputs(config={"glue": {"tasks": ["mrpc"], "constant_margin": 0.01, "confidence": 0.95}})
    constant = {"f1": 0.812, "accuracy": 0.684}
    inputs.tasks["mrpc"] = fine_tuned(tmp_path, "mrpc", constant, [constant], constant, blessed=False)
    report = glue_report.build(inputs)
    assert glue_report.headline(report) == (
        "GLUE: +0.0 points over the constant predictors (74.8 against 74.8): at the level of models that answer the "
        "same for every example, i.e. nothing learned; no model blessed: none shows evidence of beating a constant."
    )
