"""`bert-tfx`: run the pipeline locally, show a resolved config, read runs back from ML Metadata.

bert-tfx run --preset smoke [--set trainer.train_steps=500 ...] [--output-dir DIR] [--data-dir DIR] [--verbose]
             [--beam-arg=--OPTION=VALUE ...]
bert-tfx config --preset base [--set ...]
bert-tfx runs | show RUN | artifacts [--type T] [--run RUN] | lineage ARTIFACT [--svg FILE] | report RUN
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from configs import presets
from configs.run_config import RunConfig
from pipeline import console, defaults, metadata_cli
from pipeline.defaults import DEFAULT_DATA_DIR, DEFAULT_OUTPUT_DIR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bert-tfx", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the pipeline on the local orchestrator")
    commands.add_parser("config", help="print the resolved config as JSON")
    metadata_cli.add_commands(commands)
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
    run.add_argument("--verbose", action="store_true", help="show the libraries' logs and warnings")
    run.add_argument(
        "--beam-arg",
        dest="beam_args",
        action="append",
        default=[],
        metavar="--OPTION=VALUE",
        help="a Beam pipeline option for the data components, e.g. --beam-arg=--direct_num_workers=4 (repeatable; "
        "recorded in the run config as beam.args)",
    )
    return parser


def _summarise(config: RunConfig, output_dir: Path, connection, seconds: float, timings) -> str:
    from inspection import records, report, store
    from pipeline import local_runner

    base = local_runner.run_dir(config, output_dir)
    paths = local_runner.local_paths(config, output_dir)
    reader = records.MetadataReader(store.open_store(connection))
    run = reader.runs(config.pipeline_name)[-1]
    outputs = reader.run_artifacts(run)
    report_dir = outputs.get("ReportGen.report", [None])[-1]
    lines = [
        f"Pipeline {config.pipeline_name} (preset {config.preset}) finished in {seconds:.0f} s: run {run.name}.",
        *console.timings_table(timings),
        f"  report:         {Path(report_dir.uri) / report.HTML_FILE if report_dir else 'not written'}",
        f"  outputs:        {base}",
        f"  artifacts:      {paths.pipeline_root}",
        f"  ML Metadata:    {store.describe(connection)}",
        f"  run config:     {base / local_runner.RUN_CONFIG_FILE}",
        f"  TensorBoard:    tensorboard --logdir {Path(paths.pipeline_root) / 'Trainer' / 'model_run'}",
    ]
    inputs = report.inputs_from_store(reader, run)
    lines += [f"  {line}" for line in report.data_lines(report.data_summary(inputs))]
    for task in report.task_results(inputs):
        accuracy = task.metrics.get("accuracy")
        shown = f"{accuracy:.3f}" if accuracy is not None else "n/a"
        served = sorted(Path(paths.serving_dir, task.task).glob("*"))
        if task.blessed:
            where = f"pushed to {task.pushed_to}"
        elif served:
            where = f"not pushed; the model served is still {served[-1]}"
        else:
            where = "not pushed; nothing is served for it yet"
        verdict = "blessed" if task.blessed else "rejected"
        lines.append(f"  {task.task:<6} dev accuracy {shown}, {verdict}; {where}")
    return "\n".join(lines)


def _run(args, config: RunConfig) -> int:
    if not args.verbose:
        console.quiet_libraries()
        console.import_tensorflow_quietly()
    from inspection import store
    from pipeline import local_runner  # imports TFX: only when running

    output_dir = args.output_dir or DEFAULT_OUTPUT_DIR
    data_dir = args.data_dir or DEFAULT_DATA_DIR
    try:
        local_runner.check_inputs(config, data_dir)
    except FileNotFoundError as err:
        print(f"bert-tfx run: {err}", file=sys.stderr)
        return 2
    metadata = metadata_cli.connection_from_args(args, read_only=False)
    connection = local_runner.metadata_connection(config, output_dir, metadata)
    pipeline = local_runner.build(config, output_dir, data_dir, metadata)
    print(f"Running {config.pipeline_name} (preset {config.preset}), ML Metadata in {store.describe(connection)}")
    printer = console.attach(len(pipeline.components), args.verbose)
    start = time.monotonic()
    local_runner.run_pipeline(pipeline)
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
        return metadata_cli.main(args, default_sqlite)
    except (LookupError, FileNotFoundError, ConnectionError, ValueError, RuntimeError) as err:
        print(f"bert-tfx {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
