"""The run report: one static HTML page (and the same in Markdown) with its pictures beside it.

What it shows: the run (state, components and their times), the resolved config, corpus and data
statistics, the vocabulary, pre-training curves, the GLUE table with the gates' decisions, and the
lineage picture. It is written by the ReportGen component at the end of the DAG (from its input
artifacts) and by `bert-tfx report RUN` (from the store); both go through `write_report`.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import html
import json
import os
import re
from pathlib import Path
from typing import Any

from models import features
from models.features import SPECIAL_TOKENS, VOCAB_FILE
from models.run_files import CORPUS_COUNT_PREFIX, CORPUS_COUNTS_FILE, GLUE_METRICS_FILE, HISTORY_FILE

HTML_FILE = "index.html"
MARKDOWN_FILE = "report.md"
CURVES_FILE = "pretraining_curves.png"
LINEAGE_FILE = "lineage.svg"
_TASK_NODE = re.compile(r"^(?:GlueFineTune|Evaluator|Pusher)_(\w+)$")
# Pre-training curves: (title, train metric, validation metric).
CURVES = (
    ("loss", "loss", "val_loss"),
    ("masked-LM accuracy", "masked_lm_accuracy", "val_masked_lm_accuracy"),
    ("perplexity", "perplexity", "val_perplexity"),
    ("learning rate", "learning_rate", None),
    ("sequences per second", "sequences_per_second", None),
)


@dataclasses.dataclass
class TaskResult:
    """One GLUE task: dev metrics, the Evaluator's decision, and where the Pusher put the model."""

    task: str
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    train_steps: int | None = None
    blessed: bool | None = None
    pushed_to: str | None = None


@dataclasses.dataclass
class ReportInputs:
    """Artifact URIs a report is built from (any may be missing: the report says what it lacks).

    Attributes:
        config: the resolved run config (`RunConfig.to_dict()`).
        statistics_uri: StatisticsGen's ExampleStatistics (documents per split).
        post_transform_statistics_uri: statistics of the pre-training instances (InstanceStatisticsGen's; runs
            before it existed: Transform's own).
        transform_graph_uri: Transform's graph (the learned vocabulary).
        pretraining_run_uri: the Trainer's ModelRun (`history.json`).
        task_uris: per GLUE task: {"model_run": uri, "blessing": uri, "pushed_model": uri}.
        corpus_counts: TextExampleGen's counts (`documents_read`, `dropped_short`, `dropped_duplicates`,
            `bad_lines`, `documents_kept`).
    """

    config: dict[str, Any] | None = None
    statistics_uri: str | None = None
    post_transform_statistics_uri: str | None = None
    transform_graph_uri: str | None = None
    pretraining_run_uri: str | None = None
    task_uris: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    blessing_flags: dict[str, bool] = dataclasses.field(default_factory=dict)
    pushed: dict[str, str | None] = dataclasses.field(default_factory=dict)
    corpus_counts: dict[str, int] = dataclasses.field(default_factory=dict)


def corpus_counts(examples: ArtifactRef) -> dict[str, int]:
    """TextExampleGen's counts from its Examples artifact: the properties, else the JSON file beside the splits."""
    counts = {
        name.removeprefix(CORPUS_COUNT_PREFIX): int(value)
        for name, value in examples.properties.items()
        if name.startswith(CORPUS_COUNT_PREFIX)
    }
    return counts or read_json(f"{examples.uri}/{CORPUS_COUNTS_FILE}") or {}


def data_summary(inputs: ReportInputs) -> dict[str, Any]:
    """What the data steps read, dropped and made: the corpus counts, documents, instances and real tokens."""
    return {
        **inputs.corpus_counts,
        "documents": split_counts(inputs.statistics_uri, values_of=features.DOC_ID),
        "instances": split_counts(inputs.post_transform_statistics_uri),
        "real_tokens": real_tokens(inputs.post_transform_statistics_uri),
    }


def data_lines(summary: dict[str, Any]) -> list[str]:
    """The data summary as short lines of text (the run summary, the report)."""
    lines = []
    if "documents_read" in summary:
        lines.append(
            f"corpus: {summary['documents_read']:,} documents read, {summary['dropped_short']:,} too short, "
            f"{summary['dropped_duplicates']:,} duplicates, {summary['bad_lines']:,} lines with bad bytes; "
            f"{summary['documents_kept']:,} kept"
        )
    for split in sorted(summary.get("instances", {})):
        documents = summary.get("documents", {}).get(split)
        tokens = summary.get("real_tokens", {}).get(split)
        lines.append(
            f"{split}: "
            + (f"{documents:,} documents -> " if documents is not None else "")
            + f"{summary['instances'][split]:,} instances"
            + (f", {tokens:,} real tokens" if tokens is not None else "")
        )
    return lines


def task_of_uri(uri: str) -> str | None:
    """The GLUE task of an artifact made by a per-task node (`.../Evaluator_sst2/blessing/12` -> `sst2`)."""
    for part in Path(uri).parts:
        match = _TASK_NODE.match(part)
        if match:
            return match.group(1)
    return None


# Reading artifacts.


def _is_remote(path: str) -> bool:
    return "://" in path


def _gfile():
    import tensorflow as tf  # only for remote file systems (gs://, s3://, hdfs://)

    return tf.io.gfile


def _read_bytes(path: str) -> bytes | None:
    if _is_remote(path):
        gfile = _gfile()
        return gfile.GFile(path, "rb").read() if gfile.exists(path) else None
    return Path(path).read_bytes() if os.path.exists(path) else None


def _glob(pattern: str) -> list[str]:
    return sorted(_gfile().glob(pattern) if _is_remote(pattern) else glob.glob(pattern))


def read_json(path: str) -> Any:
    data = _read_bytes(path)
    return json.loads(data) if data is not None else None


def _statistics(statistics_uri: str | None):
    """(split, DatasetFeatureStatistics) of a TFDV ExampleStatistics artifact (per split folder, or one file)."""
    if not statistics_uri:
        return
    from tensorflow_metadata.proto.v0 import statistics_pb2

    for stats_file in _glob(f"{statistics_uri}/FeatureStats.pb") + _glob(f"{statistics_uri}/Split-*/FeatureStats.pb"):
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(_read_bytes(stats_file))
        folder = os.path.basename(os.path.dirname(stats_file))
        split = folder.removeprefix("Split-") if folder.startswith("Split-") else "train"
        for dataset in stats.datasets:
            yield split, dataset


def _feature(dataset, name: str):
    for feature in dataset.features:
        if (feature.path.step and feature.path.step[0] == name) or feature.name == name:
            return feature
    return None


def split_counts(statistics_uri: str | None, values_of: str | None = None) -> dict[str, int]:
    """Examples per split in a TFDV ExampleStatistics artifact, or with `values_of` the values of that
    feature per split (TextExampleGen writes groups of documents: `doc_id` counts the documents)."""
    counts: dict[str, int] = {}
    for split, dataset in _statistics(statistics_uri):
        feature = _feature(dataset, values_of) if values_of else None
        if feature is not None:
            stats = feature.string_stats if feature.HasField("string_stats") else feature.num_stats
            count = int(stats.common_stats.tot_num_values)
        else:
            count = dataset.num_examples
        counts[split] = counts.get(split, 0) + count
    return counts


def real_tokens(statistics_uri: str | None) -> dict[str, int]:
    """Real (non-padding) tokens per split of the pre-training instances: the sum of `input_mask`."""
    totals: dict[str, int] = {}
    for split, dataset in _statistics(statistics_uri):
        feature = _feature(dataset, features.INPUT_MASK)
        if feature is not None:
            stats = feature.num_stats
            totals[split] = totals.get(split, 0) + round(stats.mean * stats.common_stats.tot_num_values)
    return totals


def vocabulary(transform_graph_uri: str | None) -> list[str]:
    """The learned vocabulary (the transform graph's `vocab.txt` asset)."""
    if not transform_graph_uri:
        return []
    for candidate in _glob(f"{transform_graph_uri}/transform_fn/assets/{VOCAB_FILE}*"):
        return _read_bytes(candidate).decode("utf-8").splitlines()
    return []


def task_results(inputs: ReportInputs) -> list[TaskResult]:
    tasks = (inputs.config or {}).get("glue", {}).get("tasks") or sorted(inputs.task_uris)
    results = []
    for task in tasks:
        uris = inputs.task_uris.get(task, {})
        result = TaskResult(task)
        metrics = read_json(os.path.join(uris["model_run"], GLUE_METRICS_FILE)) if "model_run" in uris else None
        if metrics:
            result.metrics = {k: float(v) for k, v in metrics.get("dev", {}).items() if k != "loss"}
            result.train_steps = metrics.get("train_steps")
        result.blessed = inputs.blessing_flags.get(task)
        result.pushed_to = inputs.pushed.get(task)
        results.append(result)
    return results


def pretraining_history(inputs: ReportInputs) -> dict[str, list[float]] | None:
    """The Trainer's `history.json` (every metric of every logging period), if the run has one."""
    if not inputs.pretraining_run_uri:
        return None
    return read_json(os.path.join(inputs.pretraining_run_uri, HISTORY_FILE))


def pretraining_summary(history: dict[str, list[float]] | None) -> dict[str, float]:
    """The last logged value of the pre-training metrics worth a headline."""
    if not history:
        return {}
    keys = (
        "loss",
        "masked_lm_accuracy",
        "next_sentence_accuracy",
        "perplexity",
        "val_masked_lm_accuracy",
        "val_perplexity",
        "sequences_per_second",
    )
    return {k: history[k][-1] for k in keys if history.get(k)}


# Pictures.


def draw_curves(history: dict[str, list[float]], path: Path) -> Path | None:
    """The pre-training curves (one panel per metric the history has) as a PNG."""
    panels = [c for c in CURVES if history.get(c[1])]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.0), squeeze=False)
    for axis, (title, train_key, val_key) in zip(axes[0], panels, strict=True):
        values = history[train_key]
        axis.plot(range(1, len(values) + 1), values, marker=".", label="train")
        if val_key and history.get(val_key):
            val = history[val_key]
            axis.plot(range(1, len(val) + 1), val, marker=".", label="eval")
            axis.legend(fontsize=8)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("logging period", fontsize=8)
        axis.tick_params(labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


# Rendering.


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
    run: Any | None
    config: dict[str, Any] | None
    data: list[str]
    vocab: list[str]
    pretraining: dict[str, float]
    tasks: list[TaskResult]
    curves: str | None
    lineage: str | None
    notes: list[str]


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
    lines += [f"- final {k}: {v:.4g}" for k, v in content.pretraining.items()] or ["- no training history found"]
    if content.curves:
        lines += ["", f"![pre-training curves]({content.curves})"]
    lines += ["", "## GLUE", "", "| task | dev metrics | train steps | gate | pushed to |", "|---|---|---|---|---|"]
    lines += [
        f"| {t.task} | {_metrics_text(t.metrics)} | {t.train_steps or 'n/a'} | {_verdict(t)} | {t.pushed_to or '-'} |"
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
    if content.pretraining:
        parts.append(_table(["metric", "final value"], [[k, f"{v:.4g}"] for k, v in content.pretraining.items()]))
    else:
        parts.append("<p>No training history found.</p>")
    if content.curves:
        parts.append(f"<p><img src='{e(content.curves)}' alt='pre-training curves'></p>")
    parts.append("<h2>GLUE</h2>")
    rows = [
        [t.task, _metrics_text(t.metrics), str(t.train_steps or "n/a"), _verdict(t), t.pushed_to or "-"]
        for t in content.tasks
    ]
    parts.append(
        _table(
            ["task", "dev metrics", "train steps", "gate", "pushed to"],
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


def write_report(inputs: ReportInputs, out_dir: str | Path, run=None, lineage_dot: str | None = None) -> Path:
    """Writes `index.html`, `report.md` and their pictures into `out_dir`; returns the HTML file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    notes = []
    history = pretraining_history(inputs)
    curves = draw_curves(history, out / CURVES_FILE) if history else None
    lineage = None
    if lineage_dot:
        from inspection.lineage import render

        try:
            lineage = render(lineage_dot, out / LINEAGE_FILE)
        except RuntimeError as err:
            notes.append(f"no lineage picture: {err}")
    else:
        notes.append("no lineage picture: this report was written without access to the ML Metadata store")
    title = f"{(inputs.config or {}).get('pipeline_name', 'bert-tfx')} run report"
    content = ReportContent(
        title=title,
        run=run,
        config=inputs.config,
        data=data_lines(data_summary(inputs)),
        vocab=vocabulary(inputs.transform_graph_uri),
        pretraining=pretraining_summary(history),
        tasks=task_results(inputs),
        curves=curves.name if curves else None,
        lineage=lineage.name if lineage else None,
        notes=notes,
    )
    from inspection import glue_report

    if content.tasks:
        glue_report.write_glue_report(inputs, out)
        content.notes.insert(
            0,
            f"GLUE report (every run's metrics, constant baselines, bounds, GLUE score): {glue_report.MARKDOWN_FILE}, "
            f"{glue_report.JSON_FILE}, {glue_report.CHART_FILE}; test-set submission: {glue_report.SUBMISSION_FILE}",
        )
    (out / MARKDOWN_FILE).write_text(render_markdown(content))
    page = out / HTML_FILE
    page.write_text(render_html(content))
    return page


@dataclasses.dataclass(frozen=True)
class ArtifactRef:
    """What a report needs of an artifact: where it is and its custom properties."""

    uri: str
    properties: dict[str, Any] = dataclasses.field(default_factory=dict)


def collect_inputs(
    config: dict[str, Any] | None,
    statistics: ArtifactRef | None = None,
    corpus_examples: ArtifactRef | None = None,
    post_transform_statistics: ArtifactRef | None = None,
    transform_graph: ArtifactRef | None = None,
    pretraining_run: ArtifactRef | None = None,
    glue_runs: list[ArtifactRef] = (),
    blessings: list[ArtifactRef] = (),
    pushed_models: list[ArtifactRef] = (),
) -> ReportInputs:
    """ReportInputs from artifacts; per-task artifacts are told apart by their node in the URI."""
    inputs = ReportInputs(
        config=config,
        statistics_uri=statistics.uri if statistics else None,
        post_transform_statistics_uri=post_transform_statistics.uri if post_transform_statistics else None,
        transform_graph_uri=transform_graph.uri if transform_graph else None,
        pretraining_run_uri=pretraining_run.uri if pretraining_run else None,
        corpus_counts=corpus_counts(corpus_examples) if corpus_examples else {},
    )
    for ref in glue_runs:
        if task := task_of_uri(ref.uri):
            inputs.task_uris.setdefault(task, {})["model_run"] = ref.uri
    for ref in blessings:
        if task := task_of_uri(ref.uri):
            inputs.blessing_flags[task] = bool(ref.properties.get("blessed", 0))
    for ref in pushed_models:
        if task := task_of_uri(ref.uri):
            pushed = bool(ref.properties.get("pushed", 0))
            inputs.pushed[task] = str(ref.properties.get("pushed_destination", ref.uri)) if pushed else None
    return inputs


def inputs_from_store(reader, run) -> ReportInputs:
    """ReportInputs for a run recorded in a store (`inspection.records.MetadataReader`, `RunRecord`)."""
    from inspection.records import run_config_of

    outputs = reader.run_artifacts(run)

    def one(key: str) -> ArtifactRef | None:
        found = outputs.get(key)
        return ArtifactRef(found[-1].uri, found[-1].properties) if found else None

    def per_task(node: str, output: str) -> list[ArtifactRef]:
        return [
            ArtifactRef(a.uri, a.properties)
            for key, records in outputs.items()
            if key.startswith(f"{node}_") and key.endswith(f".{output}")
            for a in records
        ]

    return collect_inputs(
        config=run_config_of(run.executions),
        statistics=one("StatisticsGen.statistics"),
        corpus_examples=one("TextExampleGen.examples"),
        post_transform_statistics=one("InstanceStatisticsGen.statistics") or one("Transform.post_transform_stats"),
        transform_graph=one("Transform.transform_graph"),
        pretraining_run=one("Trainer.model_run"),
        glue_runs=per_task("GlueFineTune", "model_run"),
        blessings=per_task("Evaluator", "blessing"),
        pushed_models=per_task("Pusher", "pushed_model"),
    )


def run_and_lineage(connection_text: str, run_name: str, reporting_node: str):
    """The run record and its lineage picture's Graphviz source, read from the store `connection_text`
    (an `ml_metadata.ConnectionConfig` in text format; a MySQL password comes from the environment).

    `reporting_node` is the node writing the report inside the run: it is still running, so it is left out
    of the run's components, state and lineage."""
    from google.protobuf import text_format
    from ml_metadata.proto import metadata_store_pb2

    from inspection import lineage, records, store

    config = text_format.Parse(connection_text, metadata_store_pb2.ConnectionConfig())
    if config.HasField("mysql") and not config.mysql.password:
        config.mysql.password = os.environ.get(store.MYSQL_PASSWORD_ENV, "")
    reader = records.MetadataReader(store.open_store(config))
    run = records.without_node(reader.run(run_name), reporting_node)
    return run, lineage.to_dot(lineage.run_lineage(reader, run))
