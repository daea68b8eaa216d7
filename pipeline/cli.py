"""`bert-tfx`: run the pipeline locally, show a resolved config, read runs back from ML Metadata.

bert-tfx run --preset smoke [--set trainer.train_steps=500 ...] [--output-dir DIR] [--data-dir DIR] [--verbose]
             [--beam-arg=--OPTION=VALUE ...]
bert-tfx config --preset base [--set ...]
bert-tfx runs | show RUN | artifacts [--type T] [--run RUN] | lineage ARTIFACT [--svg FILE] | report RUN
bert-tfx export RUN|ARTIFACT|MODEL_OR_CHECKPOINT_DIR --output DIR [--format hf|keras-hub|saved-model ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

from configs import pipeline_contract as contract
from configs import presets
from configs.run_config import RunConfig
from configs.training_phases import training_phases
from inspection import glue_report, records, run_contents, store
from pipeline import console, defaults, export_cli, metadata_cli, run_lock
from pipeline.defaults import DEFAULT_DATA_DIR, DEFAULT_OUTPUT_DIR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bert-tfx", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the pipeline on the local orchestrator")
    commands.add_parser("config", help="print the resolved config as JSON")
    metadata_cli.add_commands(commands)
    export_cli.add_command(commands)
    for name, command in commands.choices.items():
        command.add_argument("--preset", default="smoke", choices=sorted(presets.PRESETS))
        command.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config field, e.g. trainer.train_steps=500 (repeatable)",
        )
        if name != "config":
            command.add_argument("--output-dir", type=Path, default=None, help="default: <repo>/outputs")
            metadata_cli.add_store_options(command)
    run.add_argument("--data-dir", type=Path, default=None, help="default: <repo>/data (corpus/ and glue/)")
    run.add_argument("--verbose", action="store_true", help="show the libraries' logs, warnings and tracebacks")
    run.add_argument("--wait", action="store_true", help="wait for a run of the same pipeline and folder to end")
    run.add_argument(
        "--beam-arg",
        dest="beam_args",
        action="append",
        default=[],
        metavar="--OPTION=VALUE",
        help="a Beam pipeline option for the data components, e.g. --beam-arg=--runner=FlinkRunner (repeatable; "
        "recorded in the run config as beam.args)",
    )
    return parser


def _summarise(config: RunConfig, output_dir: Path, connection, seconds: float, timings) -> str:
    from pipeline import local_runner  # imports TFX and TensorFlow: after `console` has quietened them

    base = local_runner.pipeline_dir(config, output_dir)
    paths = local_runner.local_paths(config, output_dir)
    reader = records.MetadataReader(store.open_store(connection))
    run = reader.runs(config.pipeline_name)[-1]
    outputs = reader.run_artifacts(run)
    report_dir = outputs.get(f"{contract.REPORT_GEN}.{contract.REPORT}", [None])[-1]
    exported = outputs.get(f"{contract.ENCODER_EXPORT}.{contract.EXPORTED_ENCODER}", [None])[-1]
    phases = training_phases(config.data, config.trainer)
    runs = [Path(paths.pipeline_root) / contract.phase_node_id(contract.TRAINER, p.number, len(phases)) for p in phases]
    tensorboard = f"--logdir {runs[0] / contract.MODEL_RUN}"
    if len(runs) > 1:  # one TensorBoard run per phase
        tensorboard = "--logdir_spec " + ",".join(f"phase{n}:{r / contract.MODEL_RUN}" for n, r in enumerate(runs, 1))
    lines = [
        f"Pipeline {config.pipeline_name} (preset {config.preset}) finished in {seconds:.0f} s: run {run.name}.",
        *console.timings_table(timings),
        f"  report:         {Path(report_dir.uri) / contract.REPORT_HTML_FILE if report_dir else 'not written'}",
        f"  outputs:        {base}",
        f"  artifacts:      {paths.pipeline_root}",
        f"  ML Metadata:    {store.describe(connection)}",
        f"  run config:     {base / contract.RUN_CONFIG_FILE}",
        f"  TensorBoard:    tensorboard {tensorboard}",
        f"  encoder:        {exported.uri if exported else 'not exported'} "
        f"({', '.join(contract.EXPORT_FORMAT_DIRS.values())})",
    ]
    inputs = run_contents.inputs_from_store(reader, run)
    push = run_contents.encoder_push(inputs)
    if push:
        lines.append(f"                  {push}")
    summary = run_contents.data_summary(inputs)
    lines += [f"  {line}" for line in run_contents.data_lines(summary)]
    lines += [f"  {line}" for line in run_contents.data_warnings(summary)]
    glue = _read_glue_report(report_dir.uri) if report_dir else None
    if glue:
        lines += ["", glue_report.render_markdown(glue, report_dir.uri).rstrip(), ""]
        lines += _task_verdicts(glue, Path(paths.serving_dir))
    return "\n".join(lines)


def _read_glue_report(report_uri: str) -> dict | None:
    path = Path(report_uri) / contract.GLUE_REPORT_JSON_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _task_verdicts(glue: dict, serving_dir: Path) -> list[str]:
    """Per task: its metrics against their bounds, the Evaluator's verdict, and which model is served now."""
    lines = []
    for entry in glue["tasks"]:
        task = entry["task"]
        checks = [
            f"{metric} {entry['dev'][metric]:.3f} (constant {entry['constant_baseline'][metric]:.3f})"
            for metric in entry.get("metrics", [])
            if metric in entry.get("dev", {})
        ]
        verdict = glue_report.gate_text(entry)
        if entry.get("blessed"):
            served = f"pushed; served from {entry['pushed_to']}"
        else:
            versions = sorted(p for p in (serving_dir / task).glob("*") if p.is_dir())
            served = (
                f"not pushed; the model still served for {task} is an earlier run's, {versions[-1]}"
                if versions
                else f"not pushed; no model is served for {task}"
            )
        lines.append(f"  {task:<5} {', '.join(checks) or entry.get('missing', '')}: {verdict}; {served}")
    return lines


def _run(args, config: RunConfig) -> int:
    if not args.verbose:
        console.quiet_libraries()
        console.import_tensorflow_quietly()
    from pipeline import local_runner  # imports TFX and TensorFlow: after `console` has quietened them

    output_dir = args.output_dir or DEFAULT_OUTPUT_DIR
    data_dir = args.data_dir or DEFAULT_DATA_DIR
    try:
        local_runner.check_inputs(config, data_dir)
    except FileNotFoundError as err:
        print(f"bert-tfx run: {err}", file=sys.stderr)
        return 2
    pipeline_dir = local_runner.pipeline_dir(config, output_dir)
    try:
        with run_lock.held(pipeline_dir, wait=args.wait):
            return _run_locked(args, config, output_dir, data_dir, pipeline_dir)
    except run_lock.RunInProgress as err:
        print(f"bert-tfx run: {err}", file=sys.stderr)
        return 2


def died_output_dirs(pipeline_root: Path, executions: list[records.ExecutionRecord]) -> list[Path]:
    """The folders the executions were writing: `<pipeline root>/<node id>/<output key>/<execution id>/`.

    TFX's local launcher makes these folders before the executor runs and records the output artifacts only
    when the execution publishes them, so an execution that died has folders but no artifacts in the store:
    they are found by the execution's id. A node's own folders beside its outputs (TFX's `.system`, the
    Trainer's resumable `checkpoints`) are not outputs and are kept.
    """
    kept = {contract.TRAINER_CHECKPOINTS_DIR}
    dirs = []
    for execution in executions:
        node_dir = pipeline_root / execution.node_id
        if not node_dir.is_dir():
            continue
        for key_dir in sorted(node_dir.iterdir()):
            folder = key_dir / str(execution.id)
            if not key_dir.name.startswith(".") and key_dir.name not in kept and folder.is_dir():
                dirs.append(folder)
    return dirs


def remove_died_outputs(connection, pipeline_name: str, pipeline_root: Path) -> None:
    """Removes the output folders that runs which died left half-written (this run holds the lock: no other runs)."""
    try:
        died = records.unfinished_executions(records.MetadataReader(store.open_store(connection)), pipeline_name)
    except (ConnectionError, FileNotFoundError, LookupError):
        return  # a new store: nothing has run yet
    removed = died_output_dirs(pipeline_root, died)
    for folder in removed:
        shutil.rmtree(folder)
    if removed:
        print(f"Removed {len(removed)} output folders that runs which died had left half-written")


def _failure_log(pipeline_dir: Path, err: BaseException) -> Path:
    """Writes the traceback of a failed run to `<pipeline dir>/logs/`; returns the file."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = pipeline_dir / "logs" / f"failed-{stamp}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(traceback.format_exception(err)))
    return path


def _run_locked(args, config: RunConfig, output_dir: Path, data_dir: Path, pipeline_dir: Path) -> int:
    from pipeline import local_runner

    metadata = metadata_cli.connection_from_args(args, read_only=False)
    connection = local_runner.metadata_connection(config, output_dir, metadata)
    pipeline = local_runner.build(config, output_dir, data_dir, metadata)
    remove_died_outputs(
        connection, config.pipeline_name, Path(local_runner.local_paths(config, output_dir).pipeline_root)
    )
    print(f"Running {config.pipeline_name} (preset {config.preset}), ML Metadata in {store.describe(connection)}")
    printer = console.attach(len(pipeline.components), args.verbose)
    start = time.monotonic()
    try:
        local_runner.run_pipeline(pipeline)
    except Exception as err:
        if args.verbose:
            raise
        failed = next((t.node_id for t in reversed(printer.timings) if not t.finished), "the pipeline")
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(
            f"bert-tfx run: {failed} failed: {type(err).__name__}: {message}\n"
            f"  the traceback: {_failure_log(pipeline_dir, err)} (--verbose prints it here); fix the cause and run "
            "the same command again: what finished is cached",
            file=sys.stderr,
        )
        return 1
    print(_summarise(config, output_dir, connection, time.monotonic() - start, printer.timings))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = presets.load(args.preset, args.overrides)
        if getattr(args, "beam_args", None):
            config.beam.args = [*config.beam.args, *args.beam_args]
            config.validate()
    except ValueError as err:
        print(f"bert-tfx: {err}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(json.dumps(config.to_dict(), indent=2, sort_keys=True))
        return 0
    if args.command == "run":
        return _run(args, config)
    default_sqlite = defaults.metadata_path(config.pipeline_name, args.output_dir or DEFAULT_OUTPUT_DIR)
    try:
        if args.command == "export":
            console.quiet_libraries()
            console.import_tensorflow_quietly()
            args.preset_max_seq_length = training_phases(config.data, config.trainer)[-1].data.max_seq_length
            return export_cli.main(args, lambda: metadata_cli.open_reader(args, default_sqlite))
        return metadata_cli.main(args, default_sqlite)
    except (LookupError, FileNotFoundError, ConnectionError, ValueError, RuntimeError) as err:
        print(f"bert-tfx {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
