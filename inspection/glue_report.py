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


def _bounds(task: glue_tasks.GlueTask, glue_config: dict[str, Any], constant: dict[str, float]) -> dict[str, Any]:
    """Per official metric: the lower bound the Evaluator applied and where it came from."""
    explicit = glue_config.get("bounds", {}).get(task.name, {})
    margin = glue_config.get("constant_margin", 0.0)
    bounds = {}
    for metric in task.metrics:
        if metric in explicit:
            bounds[metric] = {"value": explicit[metric], "source": "explicit"}
        elif metric in constant:
            bounds[metric] = {
                "value": constant[metric] + margin,
                "source": f"constant {constant[metric]:.3f} + {margin:g}",
            }
    return bounds


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
        bounds=_bounds(task, glue_config, constant),
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
    missing = [t for t in glue_tasks.TASKS if t not in scored]
    return {
        "tasks": entries,
        "glue_score": glue_metrics.glue_score(scored) if scored else None,
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


def gate_text(entry: dict[str, Any]) -> str:
    """`blessed`, or `rejected (f1 80.1 < 82.2)` naming the metrics that missed their bound."""
    if entry.get("blessed") is None:
        return "not evaluated"
    if entry["blessed"]:
        return "blessed"
    misses = [
        f"{m} {_percent(entry['dev'][m])} < {_percent(b['value'])}"
        for m, b in entry.get("bounds", {}).items()
        if m in entry.get("dev", {}) and entry["dev"][m] < b["value"]
    ]
    return "rejected" + (f" ({'; '.join(misses)})" if misses else " (worse than the last blessed model)")


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "## GLUE",
        "",
        f"Fine-tuning trials per task: seeds {report['seeds']} x learning rates {report['learning_rates']}; "
        "the model kept and gated is the trial best on dev (the mean of its official metrics), as the BERT paper "
        "chose for the small tasks. Scores in percent.",
        "",
        "| task | metric | kept model | median [min-max] over trials | constant baseline | bound | gate | pushed to |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in report["tasks"]:
        if "missing" in entry:
            lines.append(f"| {entry['task']} | - | {entry['missing']} | | | | {gate_text(entry)} | - |")
            continue
        for i, metric in enumerate(entry["metrics"]):
            spread = entry["spread"].get(metric, {})
            bound = entry["bounds"].get(metric, {})
            first = i == 0
            lines.append(
                f"| {entry['task'] if first else ''} | {metric} | {_percent(entry['dev'][metric])} | "
                f"{_percent(spread.get('median'))} [{_percent(spread.get('min'))}-{_percent(spread.get('max'))}] | "
                f"{_percent(entry['constant_baseline'].get(metric))} | "
                f"{_percent(bound.get('value'))} ({bound.get('source', '-')}) | "
                f"{gate_text(entry) if first else ''} | {(entry['pushed_to'] or '-') if first else ''} |"
            )
        for name, values in entry.get("other_dev_sets", {}).items():
            shown = ", ".join(f"{m} {_percent(v)}" for m, v in values.items())
            lines.append(f"| | {name}: {shown} | | | | | | |")
    lines += ["", f"GLUE score: **{_percent(report['glue_score'])}** ({report['glue_score_note']})."]
    submission = report.get("submission")
    if submission:
        if submission["files"]:
            lines.append(
                f"Test-set predictions of the pushed models: {submission['path']} ({', '.join(submission['files'])})."
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
    return {"path": str(path), "files": files, "left_out": left_out}


def write_glue_report(inputs: ReportInputs, out_dir: str | Path) -> dict[str, Any]:
    """Writes the JSON, Markdown, chart and submission into `out_dir`; returns the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = build(inputs)
    report["submission"] = write_submission(report, out / contract.GLUE_SUBMISSION_FILE)
    title = f"GLUE dev: score {_percent(report['glue_score'])}"
    chart = draw_glue_chart(report, out / contract.GLUE_REPORT_CHART_FILE, title)
    report["chart"] = chart.name if chart else None
    (out / contract.GLUE_REPORT_JSON_FILE).write_text(json.dumps(report, indent=2))
    markdown = render_markdown(report)
    if chart:
        markdown += f"\n![GLUE scores]({chart.name})\n"
    (out / contract.GLUE_REPORT_MARKDOWN_FILE).write_text(markdown)
    return report
