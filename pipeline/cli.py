"""`bert-tfx`: run the pipeline locally, show a resolved config.

bert-tfx run --preset smoke [--set trainer.train_steps=500 ...] [--output-dir DIR] [--data-dir DIR]
bert-tfx config --preset base [--set ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from configs import presets
from configs.run_config import RunConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bert-tfx", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "run the pipeline on the local orchestrator"),
        ("config", "print the resolved config as JSON"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--preset", default="smoke", choices=sorted(presets.PRESETS))
        command.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config field, e.g. trainer.train_steps=500 (repeatable)",
        )
    run = commands.choices["run"]
    run.add_argument("--output-dir", type=Path, default=None, help="default: <repo>/outputs")
    run.add_argument("--data-dir", type=Path, default=None, help="default: <repo>/data (corpus/ and glue/)")
    return parser


def _summarise(config: RunConfig, output_dir: Path, seconds: float) -> str:
    from models.glue_fine_tuning import METRICS_FILE
    from pipeline import local_runner
    from pipeline.bert_pipeline import component_id

    base = local_runner.run_dir(config, output_dir)
    paths = local_runner.local_paths(config, output_dir)
    lines = [
        f"Pipeline {config.pipeline_name} (preset {config.preset}) finished in {seconds:.0f} s.",
        f"  outputs:        {base}",
        f"  artifacts:      {paths.pipeline_root}",
        f"  ML Metadata:    {local_runner.metadata_path(config, output_dir)}",
        f"  run config:     {base / local_runner.RUN_CONFIG_FILE}",
        f"  TensorBoard:    tensorboard --logdir {Path(paths.pipeline_root) / 'Trainer' / 'model_run'}",
    ]
    root = Path(paths.pipeline_root)
    for task in config.glue.tasks:
        metrics = _latest_output(root / component_id("GlueFineTune", task) / "model_run")
        accuracy = json.loads((metrics / METRICS_FILE).read_text())["dev"]["accuracy"] if metrics else None
        blessing = _latest_output(root / component_id("Evaluator", task) / "blessing")
        verdict = "blessed" if blessing and (blessing / "BLESSED").exists() else "not blessed"
        pushed = sorted(Path(paths.serving_dir, task).glob("*"))
        where = f"served at {pushed[-1]}" if pushed else "nothing served yet"
        shown = f"{accuracy:.3f}" if accuracy is not None else "n/a"
        lines.append(f"  {task:<6} dev accuracy {shown}, {verdict}; {where}")
    return "\n".join(lines)


def _latest_output(output_dir: Path) -> Path | None:
    """The newest artifact folder (`<node>/<output>/<execution id>/`) of a component output."""
    ids = [p for p in output_dir.glob("*") if p.name.isdigit()] if output_dir.exists() else []
    return max(ids, key=lambda p: int(p.name)) if ids else None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = presets.load(args.preset, args.overrides)
    except ValueError as err:
        print(f"bert-tfx: {err}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(json.dumps(config.to_dict(), indent=2, sort_keys=True))
        return 0

    from pipeline import local_runner  # imports TFX: only when running

    output_dir = args.output_dir or local_runner.DEFAULT_OUTPUT_DIR
    data_dir = args.data_dir or local_runner.DEFAULT_DATA_DIR
    start = time.monotonic()
    local_runner.run(config, output_dir, data_dir)
    print(_summarise(config, output_dir, time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
