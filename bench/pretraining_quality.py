"""Benchmark: does our pre-training make a better encoder than no pre-training at all? GLUE says.

1. Pre-trains with the pipeline itself (`bert-tfx run`, the `tiny` preset by default) on the corpus for a wall-clock
   budget: a short calibration run of the same Trainer measures its sequences per second, and the real run gets
   the steps that fit `--pretrain-minutes` (the data steps before the Trainer are cached between the two runs
   and are not part of the budget).
2. Fine-tunes every task of `--tasks` from (a) that encoder and (b) the same architecture randomly initialised,
   with the same vocabulary, step budget, learning rate and seeds (`models.glue_fine_tuning.fine_tune`, the
   procedure GlueFineTune runs), on the GLUE files read by GlueExampleGen's own reader.
3. Prints a table (per task: the constant predictor's score, random init, pre-trained, the gap; and the GLUE
   average of the task scores) and writes it as JSON and Markdown into the output folder.

    .venv/bin/python bench/pretraining_quality.py --data-dir ../shared/data --output-dir /tmp/bench-quality \\
        [--pretrain-minutes 60] [--tasks cola sst2 mrpc stsb qnli rte wnli] [--seeds 1 2 3] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Pre-training recipe for a CPU budget of an hour (see docs/benchmarks.md): sequences of 64 tokens (the length
# the fine-tuning uses; about twice the sequences per second of 128) in batches of 64, so the hour makes as many
# optimizer steps as it can; masks redrawn every epoch; no dropout in a run too short to overfit; a high peak
# rate decayed to zero at the end of the budget.
PRETRAINING_OVERRIDES = [
    "corpus.input_pattern=*/wiki_*",
    "data.max_seq_length=64",
    "data.max_predictions_per_seq=10",
    "data.dynamic_masking=true",
    "model.dropout=0.0",
    "trainer.batch_size=64",
    "trainer.learning_rate=0.001",
    "trainer.eval_steps=10",
    "glue.tasks=[]",
    "pipeline_name=bench-pretraining-quality",
]
PIPELINE_NAME = "bench-pretraining-quality"
CALIBRATION_STEPS = 200
# Checkpoints every twelfth of the run, all kept: the encoders at a third and two thirds of a run are points of
# the curve too (`--fine-tune-at`).
CHECKPOINTS_PER_RUN = 12
BUDGET_FILE = "pretraining_budget.json"
TASKS_IN_FULL = ["cola", "sst2", "mrpc", "stsb", "qnli", "rte", "wnli"]


def bert_tfx_run(args, overrides: list[str], log: Path) -> str:
    command = [str(Path(sys.executable).parent / "bert-tfx"), "run", "--preset", args.preset]
    command += ["--data-dir", str(args.data_dir), "--output-dir", str(args.output_dir)]
    for override in PRETRAINING_OVERRIDES + args.set + overrides:
        command += ["--set", override]
    result = subprocess.run(command, capture_output=True, text=True)
    log.write_text(result.stdout + result.stderr)
    if result.returncode:
        raise SystemExit(f"bert-tfx run failed (log: {log}):\n{result.stderr[-3000:]}")
    return result.stdout


def trainer_outputs(args, stdout: str) -> dict[str, Path]:
    """The `model` and `model_run` folders of the Trainer in the run `stdout` reports, from ML Metadata (so a
    Trainer TFX served from its cache gives the folders of the run it re-used, not the newest ones on disk)."""
    from inspection.records import MetadataReader
    from inspection.store import open_store, sqlite_config

    run_name = re.search(r" finished in [\d.]+ s: run (\S+)\.$", stdout, re.MULTILINE).group(1)
    reader = MetadataReader(open_store(sqlite_config(args.output_dir / PIPELINE_NAME / "metadata.sqlite")))
    artifacts = reader.run_artifacts(reader.run(run_name))
    return {output: Path(artifacts[f"Trainer.{output}"][0].uri) for output in ("model", "model_run")}


def trainer_seconds(stdout: str) -> float:
    return float(re.search(r"Trainer (?:done|cached) in ([\d.]+) s", stdout).group(1))


def calibrate(args) -> dict:
    """Sizes the pre-training run for `--pretrain-minutes`: a short run of the same Trainer measures its sequences
    per second and its fixed costs (start-up, compilation, evaluation, export). The sizing is kept in the output
    folder, so a re-run of a run that stopped half-way gets the same steps, hence the same Trainer config, and the
    Trainer resumes from its checkpoints instead of starting over."""
    budget_path = args.output_dir / BUDGET_FILE
    if budget_path.exists():
        budget = json.loads(budget_path.read_text())
        if budget["pretrain_minutes"] != args.pretrain_minutes:
            raise SystemExit(
                f"{budget_path} sized {budget['pretrain_minutes']} minutes, not {args.pretrain_minutes}: use another "
                "--output-dir for another budget (the data steps are cheap to redo), or delete the file"
            )
        print(f"sizing from {budget_path}: {budget['train_steps']} steps (calibrated earlier)", flush=True)
        return budget
    calibration = bert_tfx_run(
        args,
        [f"trainer.train_steps={CALIBRATION_STEPS}", "trainer.warmup_steps=10", "trainer.log_every_steps=50"],
        args.output_dir / "calibration.log",
    )
    if re.search(r"Trainer cached in", calibration):
        raise SystemExit(
            "the calibration run's Trainer was served from TFX's cache, so it measured nothing on this machine: "
            f"delete {args.output_dir / PIPELINE_NAME} or use another --output-dir"
        )
    history = json.loads((trainer_outputs(args, calibration)["model_run"] / "history.json").read_text())
    speed = history["sequences_per_second"][-1]  # the first period includes compilation
    batch = [int(o.split("=")[1]) for o in PRETRAINING_OVERRIDES + args.set if o.startswith("trainer.batch_size=")][-1]
    fixed_seconds = max(0.0, trainer_seconds(calibration) - CALIBRATION_STEPS * batch / speed)
    steps = int(0.95 * (args.pretrain_minutes * 60 - fixed_seconds) * speed / batch)
    steps -= steps % CHECKPOINTS_PER_RUN
    budget = {
        "pretrain_minutes": args.pretrain_minutes,
        "calibration_sequences_per_second": speed,
        "calibration_trainer_seconds": trainer_seconds(calibration),
        "fixed_seconds": fixed_seconds,
        "batch_size": batch,
        "train_steps": steps,
        "calibrated_on": platform.node(),
    }
    budget_path.write_text(json.dumps(budget, indent=2))
    print(
        f"calibration: {speed:.1f} sequences/s at batch {batch}, {fixed_seconds:.0f} s of fixed costs: "
        f"{steps} steps fit {args.pretrain_minutes} min",
        flush=True,
    )
    return budget


def pretrain(args) -> dict:
    """Pre-trains for the steps that fit the budget (resuming from the Trainer's checkpoints when a run of the
    same budget stopped half-way)."""
    budget = calibrate(args)
    steps = budget["train_steps"]
    stdout = bert_tfx_run(
        args,
        [
            f"trainer.train_steps={steps}",
            f"trainer.warmup_steps={max(1, steps // 20)}",
            f"trainer.log_every_steps={max(1, steps // 40)}",
            f"trainer.checkpoint_every_steps={steps // CHECKPOINTS_PER_RUN}",
            f"trainer.keep_checkpoints={CHECKPOINTS_PER_RUN + 1}",
        ],
        args.output_dir / "pretraining.log",
    )
    outputs = trainer_outputs(args, stdout)
    history = json.loads((outputs["model_run"] / "history.json").read_text())
    training = json.loads((outputs["model_run"] / "training.json").read_text())
    return {
        **budget,
        "trainer_seconds": trainer_seconds(stdout),
        "resumed_from_step": training.get("resumed_from_step", 0),
        "checkpoint_dir": training["checkpoint_dir"],
        "final": {k: v[-1] for k, v in history.items() if v},
        "model_uri": str(outputs["model"]),
    }


def write_glue_examples(task, data_dir: Path, out_dir: Path) -> dict[str, str]:
    """The task's train and dev files as GlueExampleGen writes them (gzipped TFRecords of tf.Examples)."""
    import tensorflow as tf

    from components.glue_example_gen.executor import record_to_example
    from components.glue_example_gen.tsv_reader import read_tsv

    patterns = {}
    for glue_file in task.files[:2]:
        path = out_dir / task.name / glue_file.split / "data.gz"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
                for record in read_tsv(str(data_dir / "glue" / glue_file.path), task):
                    writer.write(record_to_example(record).SerializeToString())
        patterns[glue_file.split] = str(path)
    return patterns


def random_checkpoint(pretrained_dir: str, model_config, out_dir: Path, seed: int) -> str:
    """The pre-trained encoder's architecture and vocabulary with freshly initialised weights."""
    import keras

    from models import backbone as backbone_lib

    _, vocab_path, lower_case = backbone_lib.load_checkpoint(pretrained_dir)
    keras.utils.set_random_seed(seed)
    backbone = backbone_lib.build_backbone(model_config, backbone_lib.read_vocab_size(vocab_path))
    backbone_lib.save_checkpoint(backbone, vocab_path, lower_case, str(out_dir))
    return str(out_dir)


def fine_tune_both(args, pretraining: dict) -> dict:
    from configs import glue_tasks, presets
    from configs.run_config import GlueConfig
    from models import backbone as backbone_lib
    from models import glue_fine_tuning, glue_metrics

    config = presets.load(args.preset, PRETRAINING_OVERRIDES + args.set)
    pretrained = backbone_lib.checkpoint_dir(pretraining["model_uri"])
    checkpoints = {
        "pretrained": pretrained,
        "random": random_checkpoint(pretrained, config.model, args.output_dir / "random_init", seed=args.seeds[0]),
    }
    results = {}
    for name in args.tasks:
        task = glue_tasks.get_task(name)
        patterns = write_glue_examples(task, args.data_dir, args.output_dir / "glue_examples")
        examples = glue_fine_tuning.count_records(patterns["train"])
        steps = min(math.ceil(examples / args.batch_size) * args.epochs, args.max_steps)
        glue = GlueConfig(
            max_seq_length=args.max_seq_length,
            batch_size=args.batch_size,
            train_steps=steps,
            learning_rate=args.learning_rate,
            seeds=list(args.seeds),
            log_every_steps=max(1, steps // 4),
        )
        results[name] = {"train_steps": steps, "train_examples": examples}
        for arm, checkpoint in checkpoints.items():
            start = time.monotonic()
            paths = glue_fine_tuning.FineTuningPaths(
                checkpoint_dir=checkpoint,
                split_patterns=patterns,
                serving_dir=str(args.output_dir / "fine_tuned" / arm / name / "serving"),
                run_dir=str(args.output_dir / "fine_tuned" / arm / name / "run"),
            )
            metrics = glue_fine_tuning.fine_tune(task, glue, paths)
            scores = [run["score"] for run in metrics["runs"]]
            results[name][arm] = {
                "median_score": glue_metrics.spread(scores)["median"],
                "scores": scores,
                "spread": metrics["spread"]["eval"],
                "seconds": time.monotonic() - start,
            }
            results[name]["constant"] = glue_metrics.task_score(metrics["constant_baseline"]["eval"])
            print(f"{name} {arm}: {scores} ({time.monotonic() - start:.0f} s)", flush=True)
    return results


def table(results: dict) -> tuple[str, dict]:
    from models import glue_metrics

    lines = [
        "| task | metric(s) | constant | random init | pre-trained | gap |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        metrics = ", ".join(result["pretrained"]["spread"])
        row = [f"{100 * result['constant']:.1f}"]
        for arm in ("random", "pretrained"):
            scores = result[arm]["scores"]
            spread = f" [{100 * min(scores):.1f}-{100 * max(scores):.1f}]" if len(scores) > 1 else ""
            row.append(f"{100 * result[arm]['median_score']:.1f}{spread}")
        gap = 100 * (result["pretrained"]["median_score"] - result["random"]["median_score"])
        lines.append(f"| {name} | {metrics} | {' | '.join(row)} | {gap:+.1f} |")
    averages = {
        arm: glue_metrics.glue_score({n: r[arm]["median_score"] for n, r in results.items()})
        for arm in ("random", "pretrained")
    }
    averages["constant"] = glue_metrics.glue_score({n: r["constant"] for n, r in results.items()})
    lines.append(
        f"| **average** | | {100 * averages['constant']:.1f} | {100 * averages['random']:.1f} | "
        f"{100 * averages['pretrained']:.1f} | **{100 * (averages['pretrained'] - averages['random']):+.1f}** |"
    )
    return "\n".join(lines), averages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="holds corpus/ and glue/")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--pretrain-minutes", type=float, default=60)
    parser.add_argument("--tasks", nargs="+", default=TASKS_IN_FULL)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=1500, help="fine-tuning steps per task at most")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="pre-training override")
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    start = time.monotonic()
    pretraining = pretrain(args)
    print(
        f"pre-training: {pretraining['train_steps']} steps in {pretraining['trainer_seconds']:.0f} s; final "
        f"masked-LM accuracy {pretraining['final'].get('masked_lm_accuracy', float('nan')):.3f}",
        flush=True,
    )
    results = fine_tune_both(args, pretraining)
    markdown, averages = table(results)
    summary = {
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "command": " ".join(sys.argv),
        "pretraining": pretraining,
        "tasks": results,
        "averages": averages,
        "seconds": time.monotonic() - start,
    }
    (args.output_dir / "pretraining_quality.json").write_text(json.dumps(summary, indent=2))
    (args.output_dir / "pretraining_quality.md").write_text(markdown + "\n")
    print(markdown)
    print(
        f"GLUE average: pre-trained {100 * averages['pretrained']:.1f} vs random init "
        f"{100 * averages['random']:.1f} ({100 * (averages['pretrained'] - averages['random']):+.1f} points); "
        f"total {summary['seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
