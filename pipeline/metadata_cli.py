"""`bert-tfx runs | show | artifacts | lineage | report`: read a run back from its ML Metadata store.

Every command takes the same store options: the local SQLite file by default
(`<output-dir>/<pipeline>/metadata.sqlite`), a MySQL/MariaDB server (`--mysql-host/--mysql-port/
--mysql-socket/--mysql-database/--mysql-user`, password from `BERT_TFX_MYSQL_PASSWORD`), or a
`ml_metadata.ConnectionConfig` text file (`--metadata-config`). Text by default, `--json` for scripts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from ml_metadata.proto import metadata_store_pb2

from configs import pipeline_contract as contract
from inspection import lineage, records, report, run_contents, store
from pipeline import run_lock


def add_store_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ML Metadata store (default: the local SQLite file of --preset's pipeline)")
    group.add_argument("--sqlite", type=Path, default=None, metavar="FILE", help="a SQLite store")
    group.add_argument("--mysql-host", default=None, help="MySQL/MariaDB server (password: $BERT_TFX_MYSQL_PASSWORD)")
    group.add_argument("--mysql-port", type=int, default=3306)
    group.add_argument("--mysql-socket", default=None, help="Unix socket of the server, instead of host and port")
    group.add_argument("--mysql-database", default="metadb")
    group.add_argument("--mysql-user", default="root")
    group.add_argument(
        "--metadata-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="a ml_metadata.ConnectionConfig in protobuf text format",
    )


def connection_from_args(
    args: argparse.Namespace, read_only: bool = True
) -> metadata_store_pb2.ConnectionConfig | None:
    """The store the options name; None when they name none (the caller's default SQLite file).

    With `read_only` (the metadata commands), a SQLite file must exist and is opened read-only; `run` creates it.
    """
    if args.metadata_config:
        return store.config_from_file(args.metadata_config)
    if args.mysql_host or args.mysql_socket:
        return store.mysql_config(
            store.MySqlStore(
                host=args.mysql_host or "127.0.0.1",
                port=args.mysql_port,
                database=args.mysql_database,
                user=args.mysql_user,
                password=os.environ.get(store.MYSQL_PASSWORD_ENV, ""),
                socket=args.mysql_socket,
            )
        )
    if args.sqlite:
        if read_only and not args.sqlite.exists():
            raise FileNotFoundError(f"no ML Metadata store at {args.sqlite} (has the pipeline run?)")
        return store.sqlite_config(args.sqlite, read_only=read_only)
    return None


def add_commands(commands) -> None:
    """Adds the metadata commands to the `bert-tfx` sub-command parsers."""
    runs = commands.add_parser("runs", help="list pipeline runs recorded in the store")
    runs.add_argument("--pipeline", default=None, help="only this pipeline's runs")
    show = commands.add_parser("show", help="one run: config, components, times, key metrics")
    show.add_argument("run", help="run id (as `runs` prints it), `latest`, or a unique part of it")
    artifacts = commands.add_parser("artifacts", help="list artifacts: id, type, URI, producer")
    artifacts.add_argument("--type", default=None, help="artifact type, e.g. Model, PushedModel, Examples")
    artifacts.add_argument("--run", default=None, help="only artifacts this run produced (or re-used from cache)")
    trace = commands.add_parser("lineage", help="an artifact's upstream and downstream, as a tree or a picture")
    trace.add_argument("artifact", help="artifact id or URI")
    trace.add_argument("--upstream-only", action="store_true")
    trace.add_argument("--downstream-only", action="store_true")
    trace.add_argument("--svg", type=Path, default=None, metavar="FILE", help="also draw it (.svg, .png, .pdf, .dot)")
    write = commands.add_parser("report", help="write a run's report (HTML and Markdown)")
    write.add_argument("run", help="run id, `latest`, or a unique part of it")
    write.add_argument("--out", type=Path, default=None, help="default: <output-dir>/<pipeline>/reports/<run>/")
    for parser in (runs, show, artifacts, trace, write):
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _columns(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def run_metrics(reader: records.MetadataReader, run: records.RunRecord) -> dict[str, Any]:
    """The figures `show` headlines: instances, final pre-training metrics, GLUE scores and blessings."""
    inputs = run_contents.inputs_from_store(reader, run)
    history = run_contents.pretraining_history(inputs)
    return {
        "data": run_contents.data_summary(inputs),
        "pretraining": run_contents.pretraining_summary(history),
        "glue": {t.task: dataclasses.asdict(t) for t in run_contents.task_results(inputs)},
    }


def _live(runs: list[records.RunRecord], running_now: bool) -> list[records.RunRecord]:
    """The runs with RUNNING turned into DIED where no process runs them (`pipeline.run_lock`)."""
    states = run_lock.live_states([r.state for r in runs], running_now)
    return [dataclasses.replace(run, state=state) for run, state in zip(runs, states, strict=True)]


def cmd_runs(reader: records.MetadataReader, args) -> tuple[Any, str]:
    runs = _live(reader.runs(args.pipeline), args.running_now)
    data = [{k: v for k, v in dataclasses.asdict(r).items() if k != "executions"} for r in runs]
    rows = [
        [
            r.name,
            r.pipeline,
            r.preset or "?",
            report.utc_time(r.started),
            f"{r.duration_s:.0f} s",
            r.state,
            f"{sum(e.cached for e in r.executions)}/{len(r.executions)}",
        ]
        for r in runs
    ]
    text = _columns(rows, ["run", "pipeline", "preset", "started (UTC)", "duration", "state", "cached"])
    return data, text if runs else "no pipeline runs in this store"


def cmd_show(reader: records.MetadataReader, args) -> tuple[Any, str]:
    run = reader.run(args.run)
    run = {r.id: r for r in _live(reader.runs(run.pipeline), args.running_now)}.get(run.id, run)
    config = records.run_config_of(run.executions)
    metrics = run_metrics(reader, run)
    data = dataclasses.asdict(run) | {"config": config, "metrics": metrics}
    lines = [
        f"run {run.name}  pipeline {run.pipeline}  preset {run.preset or '?'}",
        f"state {run.state}, started {report.utc_time(run.started)} UTC, {run.duration_s:.0f} s",
        "",
        _columns(
            [
                [e.node_id, e.state, f"{e.duration_s:.1f} s", "yes" if e.cached else "no", str(e.id)]
                for e in run.executions
            ],
            ["component", "state", "time", "cached", "execution"],
        ),
        "",
    ]
    lines += run_contents.data_lines(metrics["data"]) + run_contents.data_warnings(metrics["data"])
    recipe = run_contents.pretraining_recipe(config)
    lines += [f"pre-training recipe: {recipe}"] if recipe else []
    for key, value in metrics["pretraining"].items():
        lines.append(f"pre-training final {key}: {value:.4g}")
    for task, result in metrics["glue"].items():
        scores = ", ".join(f"{k} {v:.3f}" for k, v in sorted(result["metrics"].items())) or "no metrics"
        verdict = {None: "not evaluated", True: "blessed", False: "rejected"}[result["blessed"]]
        lines.append(
            f"GLUE {task}: {scores}; {verdict}" + (f"; pushed to {result['pushed_to']}" if result["pushed_to"] else "")
        )
    lines += ["", "config:", json.dumps(config, indent=2, sort_keys=True) if config else "  (not recorded)"]
    return data, "\n".join(lines)


def cmd_artifacts(reader: records.MetadataReader, args) -> tuple[Any, str]:
    run = reader.run(args.run) if args.run else None
    found = reader.artifacts(args.type, run)
    rows = [[str(a.id), a.type, a.producer or "-", a.uri] for a in found]
    return [dataclasses.asdict(a) for a in found], _columns(
        rows, ["id", "type", "producer", "uri"]
    ) if found else "no artifacts"


def cmd_lineage(reader: records.MetadataReader, args) -> tuple[Any, str]:
    artifact = reader.artifact(args.artifact)
    directions = (lineage.UPSTREAM, lineage.DOWNSTREAM)
    if args.upstream_only:
        directions = (lineage.UPSTREAM,)
    elif args.downstream_only:
        directions = (lineage.DOWNSTREAM,)
    graph = lineage.artifact_lineage(reader, artifact.id, directions)
    text = "\n".join(lineage.tree_lines(graph))
    if args.svg:
        drawn = lineage.render(lineage.to_dot(graph), args.svg)
        text += f"\n\npicture: {drawn}"
    return lineage.to_json(graph), text


def cmd_report(reader: records.MetadataReader, args, default_dir: Path) -> tuple[Any, str]:
    run = reader.run(args.run)
    out = args.out or default_dir / "reports" / run.name.replace(":", "-")
    dot = lineage.to_dot(lineage.run_lineage(reader, run))
    page = report.write_report(run_contents.inputs_from_store(reader, run), out, run, dot)
    data = {"html": str(page), "markdown": str(page.parent / contract.REPORT_MARKDOWN_FILE)}
    return data, f"report: {data['html']}\nmarkdown: {data['markdown']}"


def open_reader(args: argparse.Namespace, default_sqlite: Path) -> records.MetadataReader:
    """A reader of the store the options name, or of the default SQLite file."""
    connection = connection_from_args(args)
    return records.MetadataReader(store.open_store(connection if connection is not None else default_sqlite))


def main(args: argparse.Namespace, default_sqlite: Path) -> int:
    reader = open_reader(args, default_sqlite)
    # A run that ML Metadata says is RUNNING is running only while a process holds the pipeline's lock, in the
    # pipeline's folder: the SQLite store's, or the one --output-dir and --preset name.
    pipeline_dir = args.sqlite.parent if args.sqlite else default_sqlite.parent
    args.running_now = run_lock.holder(pipeline_dir) is not None
    if args.command == "report":
        data, text = cmd_report(reader, args, default_sqlite.parent)
    else:
        handler = {"runs": cmd_runs, "show": cmd_show, "artifacts": cmd_artifacts, "lineage": cmd_lineage}
        data, text = handler[args.command](reader, args)
    print(json.dumps(data, indent=2, default=str) if args.json else text)
    return 0
