"""The run report: one static HTML page (and the same in Markdown) with its pictures beside it.

What it shows: the run (state, components and their times), the resolved config, corpus and data
statistics, the vocabulary, pre-training curves, the GLUE table with the gates' decisions, and the
lineage picture, with the GLUE report (`inspection.glue_report`) beside it. The ReportGen component writes
it at the end of the DAG from its input artifacts, and `bert-tfx report RUN` from the store; both read the
run with `inspection.run_contents` and write it with `write_report`. This module only renders.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import json
from pathlib import Path
from typing import Any

from configs import pipeline_contract as contract
from inspection import glue_report, lineage, run_contents
from inspection.charts import draw_curves
from inspection.records import RunRecord
from inspection.run_contents import ReportInputs, TaskResult
from models.features import SPECIAL_TOKENS


def utc_time(seconds: float) -> str:
    """Seconds since the epoch as `YYYY-MM-DD HH:MM:SS` in UTC."""
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _when(seconds: float) -> str:
    return f"{utc_time(seconds)} UTC"


def _verdict(result: TaskResult) -> str:
    if result.blessed is None:
        return "not evaluated"
    return "blessed" if result.blessed else "rejected"


def _metrics_text(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(metrics.items())) or "n/a"


@dataclasses.dataclass
class ReportContent:
    """Everything the page shows, gathered once and rendered twice (HTML and Markdown)."""

    title: str
    run: RunRecord | None
    config: dict[str, Any] | None
    data: list[str]
    vocab: list[str]
    pretraining: dict[str, float]
    recipe: str | None
    exports: dict[str, str]
    encoder_push: str | None
    tasks: list[TaskResult]
    curves: str | None
    lineage: str | None
    notes: list[str]


EXPORT_LABELS = {"hf": "Hugging Face", "keras-hub": "keras-hub preset", "saved-model": "raw-text SavedModel"}


def _href(folder: str) -> str:
    """A link to a folder: a file:// URL for a local path, the URI itself otherwise (gs://)."""
    return folder if "://" in folder else Path(folder).as_uri()


def _vocab_sample(vocab: list[str], size: int = 40) -> list[str]:
    learned = [t for t in vocab if t not in SPECIAL_TOKENS and not t.startswith("[unused")]
    step = max(1, len(learned) // size)
    return learned[::step][:size]


def _rows_components(run) -> list[tuple[str, str, str]]:
    return [(e.node_id, e.state.lower(), f"{e.duration_s:.1f} s") for e in run.executions] if run else []


def render_markdown(content: ReportContent) -> str:
    lines = [f"# {content.title}", ""]
    if content.run:
        run = content.run
        lines += [
            f"Run `{run.name}` of pipeline `{run.pipeline}` (preset {run.preset or '?'}): {run.state.lower()}, "
            f"started {_when(run.started)}, {run.duration_s:.0f} s.",
            "",
            "| component | state | time |",
            "|---|---|---|",
            *[f"| {a} | {b} | {c} |" for a, b, c in _rows_components(run)],
            "",
        ]
    lines += ["## Data", ""]
    lines += [f"- {line}" for line in content.data]
    if content.vocab:
        lines += [f"- vocabulary: {len(content.vocab):,} WordPieces; sample: {' '.join(_vocab_sample(content.vocab))}"]
    lines += ["", "## Pre-training", ""]
    lines += [f"- recipe: {content.recipe}"] if content.recipe else []
    lines += [f"- final {k}: {v:.4g}" for k, v in content.pretraining.items()] or ["- no training history found"]
    if content.curves:
        lines += ["", f"![pre-training curves]({content.curves})"]
    lines += [f"- exported encoder, {EXPORT_LABELS[name]}: `{folder}`" for name, folder in content.exports.items()]
    if content.encoder_push:
        lines += [f"- encoder {content.encoder_push}"]
    header = "| task | dev metrics | constant baseline | train steps | gate | pushed to |"
    lines += ["", "## GLUE", "", header, "|---|---|---|---|---|---|"]
    lines += [
        f"| {t.task} | {_metrics_text(t.metrics)} | {_metrics_text(t.constant)} | {t.train_steps or 'n/a'} | "
        f"{_verdict(t)} | {t.pushed_to or '-'} |"
        for t in content.tasks
    ]
    if content.lineage:
        lines += ["", "## Lineage", "", f"![lineage]({content.lineage})"]
    if content.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in content.notes]]
    if content.config:
        lines += ["", "## Configuration", "", "```json", json.dumps(content.config, indent=2, sort_keys=True), "```"]
    return "\n".join(lines) + "\n"


_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f0f0f0; } .blessed { color: #38761d; font-weight: bold; } .rejected { color: #cc0000; }
img { max-width: 100%; border: 1px solid #ddd; } code, pre { background: #f6f6f6; }
"""


def _table(header: list[str], rows: list[list[str]], styled: tuple[str, list[str]] | None = None) -> str:
    """An HTML table; `styled` = (column name, one CSS class per row) marks that column's cells."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    column, classes = (header.index(styled[0]), styled[1]) if styled else (-1, [])
    body = []
    for i, row in enumerate(rows):
        cells = [
            f'<td class="{classes[i]}">{html.escape(c)}</td>' if j == column else f"<td>{html.escape(c)}</td>"
            for j, c in enumerate(row)
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(content: ReportContent) -> str:
    e = html.escape
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(content.title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{e(content.title)}</h1>",
    ]
    if content.run:
        run = content.run
        parts.append(
            f"<p>Run <code>{e(run.name)}</code> of pipeline <code>{e(run.pipeline)}</code> (preset "
            f"{e(run.preset or '?')}): <b>{e(run.state.lower())}</b>, started {e(_when(run.started))}, "
            f"{run.duration_s:.0f} s.</p>"
        )
        parts.append(_table(["component", "state", "time"], [list(r) for r in _rows_components(run)]))
    parts.append("<h2>Data</h2><ul>")
    parts += [f"<li>{e(line)}</li>" for line in content.data]
    if content.vocab:
        sample = " ".join(_vocab_sample(content.vocab))
        parts.append(f"<li>vocabulary: {len(content.vocab):,} WordPieces; sample: <code>{e(sample)}</code></li>")
    parts.append("</ul><h2>Pre-training</h2>")
    if content.recipe:
        parts.append(f"<p>Recipe: {html.escape(content.recipe)}</p>")
    if content.pretraining:
        parts.append(_table(["metric", "final value"], [[k, f"{v:.4g}"] for k, v in content.pretraining.items()]))
    else:
        parts.append("<p>No training history found.</p>")
    if content.curves:
        parts.append(f"<p><img src='{e(content.curves)}' alt='pre-training curves'></p>")
    if content.exports:
        links = [
            f"<li>{e(EXPORT_LABELS[name])}: <a href='{e(_href(folder))}'><code>{e(folder)}</code></a></li>"
            for name, folder in content.exports.items()
        ]
        push = [f"<li>{e(content.encoder_push)}</li>"] if content.encoder_push else []
        parts.append("<p>The encoder, exported:</p><ul>" + "".join(links + push) + "</ul>")
    parts.append("<h2>GLUE</h2>")
    rows = [
        [
            t.task,
            _metrics_text(t.metrics),
            _metrics_text(t.constant),
            str(t.train_steps or "n/a"),
            _verdict(t),
            t.pushed_to or "-",
        ]
        for t in content.tasks
    ]
    parts.append(
        _table(
            ["task", "dev metrics", "constant baseline", "train steps", "gate", "pushed to"],
            rows,
            styled=("gate", [_verdict(t).replace(" ", "-") for t in content.tasks]),
        )
    )
    if content.lineage:
        parts.append(f"<h2>Lineage</h2><p><img src='{e(content.lineage)}' alt='lineage of this run'></p>")
    if content.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in content.notes) + "</ul>")
    if content.config:
        config = json.dumps(content.config, indent=2, sort_keys=True)
        parts.append(
            f"<h2>Configuration</h2><details><summary>resolved config</summary><pre>{e(config)}</pre></details>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    inputs: ReportInputs, out_dir: str | Path, run: RunRecord | None = None, lineage_dot: str | None = None
) -> Path:
    """Writes `index.html`, `report.md`, their pictures and the GLUE report into the local folder `out_dir`;
    returns the HTML file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    notes = []
    history = run_contents.pretraining_history(inputs)
    summary = run_contents.data_summary(inputs)
    curves = draw_curves(history, out / contract.REPORT_CURVES_FILE) if history else None
    drawn_lineage = None
    if lineage_dot:
        try:
            drawn_lineage = lineage.render(lineage_dot, out / contract.REPORT_LINEAGE_FILE)
        except RuntimeError as err:
            notes.append(f"no lineage picture: {err}")
    else:
        notes.append("no lineage picture: this report was written without access to the ML Metadata store")
    content = ReportContent(
        title=f"{(inputs.config or {}).get('pipeline_name', 'bert-tfx')} run report",
        run=run,
        config=inputs.config,
        data=[*run_contents.data_warnings(summary), *run_contents.data_lines(summary)],
        vocab=run_contents.vocabulary(inputs),
        pretraining=run_contents.pretraining_summary(history),
        recipe=run_contents.pretraining_recipe(inputs.config),
        exports=run_contents.exported_encoder_dirs(inputs),
        encoder_push=run_contents.encoder_push(inputs),
        tasks=run_contents.task_results(inputs),
        curves=curves.name if curves else None,
        lineage=drawn_lineage.name if drawn_lineage else None,
        notes=notes,
    )
    if content.tasks:
        glue_report.write_glue_report(inputs, out)
        content.notes.insert(
            0,
            "GLUE report (every trial's metrics, constant baselines, bounds, GLUE score): "
            f"{contract.GLUE_REPORT_MARKDOWN_FILE}, {contract.GLUE_REPORT_JSON_FILE}, "
            f"{contract.GLUE_REPORT_CHART_FILE}; test-set submission: {contract.GLUE_SUBMISSION_FILE}",
        )
    (out / contract.REPORT_MARKDOWN_FILE).write_text(render_markdown(content))
    page = out / contract.REPORT_HTML_FILE
    page.write_text(render_html(content))
    return page
