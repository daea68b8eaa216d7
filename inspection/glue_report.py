"""The GLUE report of a run: per task its official metrics over the fine-tuning trials, the gate, and the GLUE score.

Written by ReportGen into the run's report artifact as `glue_report.json`, `glue_report.md` and a bar
chart `glue_report.png`, with `glue_submission.zip`: the test-set predictions of the models the run
pushed, one TSV per task named as the GLUE leaderboard expects. `bert-tfx run` prints the Markdown.
No TensorFlow: it reads the files GlueFineTune wrote (`configs.pipeline_contract`).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

from configs import glue_tasks
from configs import pipeline_contract as contract
from inspection.charts import draw_glue_chart
from inspection.run_contents import ReportInputs, TaskArtifacts, fine_tuning_metrics
from models.glue import metrics as glue_metrics


def _gates(task: glue_tasks.GlueTask, glue_config: dict[str, Any]) -> dict[str, Any]:
    """Per official metric, what the Evaluator required: a lead over the constant predictor whose lower confidence
    bound reaches the margin, and the explicit bound where the config sets one."""
    explicit = glue_config.get("bounds", {}).get(task.name, {})
    gates = {}
    for metric in task.metrics:
        gates[metric] = {
            "lead_at_least": glue_config.get("constant_margin", 0.0),
            "confidence": glue_config.get("confidence", 0.95),
            "explicit": explicit.get(metric),
        }
    return gates


def _task_entry(task_name: str, inputs: ReportInputs, glue_config: dict[str, Any]) -> dict[str, Any]:
    task = glue_tasks.get_task(task_name)
    artifacts = inputs.tasks.get(task_name, TaskArtifacts())
    metrics = fine_tuning_metrics(artifacts)
    entry: dict[str, Any] = {
        "task": task_name,
        "metrics": task.metrics,
        "blessed": artifacts.blessed,
        "pushed_to": artifacts.pushed_to,
    }
    if not metrics or "trials" not in metrics:
        entry["missing"] = "no fine-tuning metrics"
        return entry
    constant = metrics.get("constant_baseline", {}).get(glue_tasks.EVAL_SPLIT, {})
    entry.update(
        dev=metrics["dev"],
        trials=len(metrics["trials"]),
        best_trial=metrics.get("best_trial"),
        spread=metrics.get("spread", {}).get(glue_tasks.EVAL_SPLIT, {}),
        constant_baseline=constant,
        evidence=metrics.get("evidence", {}),
        gates=_gates(task, glue_config),
        train_steps=metrics.get("train_steps"),
        test_predictions=metrics.get("test_predictions", {}),
        fine_tuning_model_run=artifacts.fine_tuning_model_run.uri,
    )
    extra = {}
    for glue_file in task.dev_files[1:]:
        if glue_file.split in metrics.get("dev_splits", {}):
            extra[glue_file.display_name or glue_file.split] = metrics["dev_splits"][glue_file.split]
    entry["other_dev_sets"] = extra
    # The task's GLUE score: its official metrics averaged; MNLI averages matched and mismatched accuracy.
    scores = [glue_metrics.task_score(entry["dev"])] + [glue_metrics.task_score(m) for m in extra.values()]
    entry["score"] = sum(scores) / len(scores)
    return entry


def build(inputs: ReportInputs) -> dict[str, Any]:
    """The report's content as plain JSON values."""
    glue_config = (inputs.config or {}).get("glue", {})
    entries = [_task_entry(task, inputs, glue_config) for task in inputs.glue_tasks()]
    scored = {e["task"]: e["score"] for e in entries if "score" in e}
    constant = {e["task"]: glue_metrics.task_score(e["constant_baseline"]) for e in entries if "score" in e}
    missing = [t for t in glue_tasks.TASKS if t not in scored]
    return {
        "tasks": entries,
        "glue_score": glue_metrics.glue_score(scored) if scored else None,
        "constant_glue_score": glue_metrics.glue_score(constant) if constant else None,
        "blessed_tasks": sorted(e["task"] for e in entries if e.get("blessed")),
        "glue_score_tasks": sorted(scored),
        "glue_score_note": (
            "the mean of the task scores of the models kept (best on dev)"
            + (
                f"; over {len(scored)} of the benchmark's {len(glue_tasks.TASKS)} tasks (no {', '.join(missing)})"
                if missing
                else ""
            )
        ),
        "seeds": glue_config.get("seeds"),
        "learning_rates": glue_config.get("learning_rates"),
    }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f}"


def misses(entry: dict[str, Any]) -> list[str]:
    """The gates a task's kept model failed, in words (`f1 81.2 < 85.0`, `f1: lead over constant ...`)."""
    found = []
    for metric, gate in entry.get("gates", {}).items():
        evidence = entry.get("evidence", {}).get(metric)
        if evidence and evidence["lower"] < gate["lead_at_least"]:
            found.append(
                f"{metric} lead over constant {_points(evidence['margin'])}, {gate['confidence']:.0%} lower bound "
                f"{_points(evidence['lower'])} < {_points(gate['lead_at_least'])}"
            )
        value = entry.get("dev", {}).get(metric)
        if gate["explicit"] is not None and value is not None and value < gate["explicit"]:
            found.append(f"{metric} {_percent(value)} < {_percent(gate['explicit'])}")
    return found


def gate_text(entry: dict[str, Any]) -> str:
    """`blessed`, or `rejected (...)` naming the gates the model missed."""
    if entry.get("blessed") is None:
        return "not evaluated"
    if entry["blessed"]:
        return "blessed"
    missed = misses(entry)
    return "rejected" + (f" ({'; '.join(missed)})" if missed else " (worse than the last blessed model)")


def headline(report: dict[str, Any]) -> str:
    """What the run's GLUE figures say: the score against the constant predictors' and what was blessed. A score
    at the constant level is no result, and the headline says so."""
    score, constant = report.get("glue_score"), report.get("constant_glue_score")
    if score is None:
        return "GLUE: no task was scored."
    lead = score - constant
    blessed = report.get("blessed_tasks", [])
    verdict = (
        f"blessed: {', '.join(blessed)}" if blessed else "no model blessed: none shows evidence of beating a constant"
    )
    meaning = (
        "at the level of models that answer the same for every example, i.e. nothing learned"
        if abs(lead) < 0.005
        else ("above" if lead > 0 else "below") + " the constant predictors"
    )
    return (
        f"GLUE: {_points(lead)} points over the constant predictors ({_percent(score)} against "
        f"{_percent(constant)}): {meaning}; {verdict}."
    )


def _metric_row(entry: dict[str, Any], index: int, metric: str) -> str:
    spread = entry["spread"].get(metric, {})
    evidence = entry.get("evidence", {}).get(metric)
    gate = entry["gates"][metric]
    lead = (
        f"{_points(evidence['margin'])} [{_points(evidence['lower'])}, {_points(evidence['upper'])}]"
        if evidence
        else "n/a"
    )
    required = f"lower >= {_points(gate['lead_at_least'])}" + (
        f"; >= {_percent(gate['explicit'])}" if gate["explicit"] is not None else ""
    )
    first = index == 0
    return (
        f"| {entry['task'] if first else ''} | {metric} | {_percent(entry['dev'][metric])} | "
        f"{_percent(spread.get('median'))} [{_percent(spread.get('min'))}-{_percent(spread.get('max'))}] | "
        f"{_percent(entry['constant_baseline'].get(metric))} | {lead} | {required} | "
        f"{gate_text(entry) if first else ''} | {(entry['pushed_to'] or '-') if first else ''} |"
    )


def render_markdown(report: dict[str, Any], report_dir: str | None = None) -> str:
    """The report as Markdown; files beside it (the submission) are named relative to it, or under `report_dir`."""
    confidence = next(iter(next(iter(report["tasks"]), {}).get("gates", {}).values()), {}).get("confidence", 0.95)
    lines = [
        "## GLUE",
        "",
        headline(report),
        "",
        f"Fine-tuning trials per task: seeds {report['seeds']} x learning rates {report['learning_rates']}; "
        "the model kept and gated is the trial best on dev (the mean of its official metrics), as the BERT paper "
        "chose for the small tasks, so its dev score is chosen on the data it is gated on and flatters it. Scores in "
        f"percent; the lead over the constant predictor in points, with its {2 * confidence - 1:.0%} bootstrap "
        "interval over the dev examples; the gate requires the interval's lower end to reach the margin.",
        "",
        "| task | metric | kept model | median [min-max] over trials | constant baseline | lead over constant "
        "[interval] | required | gate | pushed to |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in report["tasks"]:
        if "missing" in entry:
            lines.append(f"| {entry['task']} | - | {entry['missing']} | | | | | {gate_text(entry)} | - |")
            continue
        lines += [_metric_row(entry, i, metric) for i, metric in enumerate(entry["metrics"])]
        for name, values in entry.get("other_dev_sets", {}).items():
            shown = ", ".join(f"{m} {_percent(v)}" for m, v in values.items())
            lines.append(f"| | {name}: {shown} | | | | | | | |")
    lines += [
        "",
        f"GLUE score: **{_percent(report['glue_score'])}**, constant predictors "
        f"{_percent(report.get('constant_glue_score'))} ({report['glue_score_note']}).",
    ]
    submission = report.get("submission")
    if submission:
        if submission["files"]:
            lines.append(
                f"Test-set predictions of the pushed models: {os.path.join(report_dir or '', submission['file'])} "
                f"({', '.join(submission['files'])})."
            )
        if submission["left_out"]:
            lines.append(f"Not in the submission: {'; '.join(submission['left_out'])}.")
    return "\n".join(lines) + "\n"


def write_submission(report: dict[str, Any], path: Path) -> dict[str, Any]:
    """Zips the test predictions of every pushed task's model; returns what went in and what was left out."""
    files, left_out = [], []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in report["tasks"]:
            task = glue_tasks.get_task(entry["task"])
            if not entry.get("pushed_to"):
                left_out.append(f"{entry['task']} (not pushed: {gate_text(entry)})")
                continue
            for glue_file in task.test_files:
                if glue_file.submission_name in entry.get("test_predictions", {}):
                    source = os.path.join(
                        entry["fine_tuning_model_run"], contract.GLUE_PREDICTIONS_DIR, glue_file.submission_name
                    )
                    archive.write(source, glue_file.submission_name)
                    files.append(glue_file.submission_name)
                else:
                    left_out.append(f"{glue_file.submission_name} (no {glue_file.path} in the GLUE data)")
    return {"file": path.name, "files": files, "left_out": left_out}


def write_glue_report(inputs: ReportInputs, out_dir: str | Path) -> dict[str, Any]:
    """Writes the JSON, Markdown, chart and submission into `out_dir`; returns the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = build(inputs)
    report["submission"] = write_submission(report, out / contract.GLUE_SUBMISSION_FILE)
    title = f"GLUE dev: {_percent(report['glue_score'])}, constant predictors {_percent(report['constant_glue_score'])}"
    chart = draw_glue_chart(report, out / contract.GLUE_REPORT_CHART_FILE, title)
    report["chart"] = chart.name if chart else None
    (out / contract.GLUE_REPORT_JSON_FILE).write_text(json.dumps(report, indent=2))
    markdown = render_markdown(report)
    if chart:
        markdown += f"\n![GLUE scores]({chart.name})\n"
    (out / contract.GLUE_REPORT_MARKDOWN_FILE).write_text(markdown)
    return report
