"""Benchmark: does our pre-training make a better encoder than no pre-training at all? GLUE says.

1. Pre-trains with the pipeline itself (`bert-tfx run`, the `tiny` preset by default) on the corpus for a wall-clock
   budget: a short calibration run of the same Trainer measures its sequences per second, and the real run gets
   the steps that fit `--pretrain-minutes` (the data steps before the Trainer are cached between the two runs
   and are not part of the budget). The sizing is kept in the output folder: a run stopped half-way (a session
   that ended, a killed process) is re-run with the same command and the Trainer resumes from its checkpoints.
   `--train-steps` gives the steps instead: an ablation arm whose steps cost what another arm's do (a learning
   rate, a schedule, a seed) gets that arm's steps, so that the machine's speed at calibration (it varied by 20%
   within a session on the 2-core VM) is not a difference between them.
2. Fine-tunes every task of `--tasks` from (a) the same architecture randomly initialised and (b) the pre-trained
   encoder at the end of the run, and at earlier fractions of it with `--fine-tune-at` (the Trainer keeps a
   checkpoint every twelfth of the run), with the same vocabulary, step budget, learning rate and seeds
   (`models.glue.fine_tuning.fine_tune`, the procedure GlueFineTune runs), on the GLUE files read by
   GlueExampleGen's own reader. Each run's result is kept by the encoder's fingerprint, task, settings and seed,
   so a re-run only does what is missing.
3. Prints a table (per task: the constant predictor's score, each arm's median over seeds [min-max], the gaps;
   and the GLUE average of the task scores, with and without WNLI) and writes it as JSON and Markdown into the
   output folder.

    .venv/bin/python bench/pretraining_quality.py --data-dir ../shared/data --output-dir /tmp/bench-quality \\
        [--pretrain-minutes 60 | --train-steps N] [--fine-tune-at 1/3 2/3 1] \\
        [--tasks cola sst2 mrpc stsb qnli rte wnli] [--seeds 1 2 3] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

from configs import pipeline_contract as contract

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
    """The Trainer's `model` and `model_run` folders (and the `transform_graph` it read) in the run `stdout`
    reports, from ML Metadata: a Trainer TFX served from its cache gives the folders of the run it re-used, not
    the newest ones on disk."""
    from inspection.records import MetadataReader
    from inspection.store import open_store, sqlite_config

    run_name = re.search(r" finished in [\d.]+ s: run (\S+)\.$", stdout, re.MULTILINE).group(1)
    reader = MetadataReader(open_store(sqlite_config(args.output_dir / PIPELINE_NAME / "metadata.sqlite")))
    artifacts = reader.run_artifacts(reader.run(run_name))
    outputs = {
        output: Path(artifacts[f"{contract.TRAINER}.{output}"][0].uri)
        for output in (contract.MODEL, contract.MODEL_RUN)
    }
    transform_graph = f"{contract.TRANSFORM}.{contract.TRANSFORM_GRAPH}"
    outputs[contract.TRANSFORM_GRAPH] = Path(artifacts[transform_graph][0].uri)
    return outputs


def trainer_seconds(stdout: str) -> float:
    return float(re.search(rf"{contract.TRAINER} (?:done|cached) in ([\d.]+) s", stdout).group(1))


def calibrate(args) -> dict:
    """Sizes the pre-training run for `--pretrain-minutes`: a short run of the same Trainer measures its sequences
    per second and its fixed costs (start-up, compilation, evaluation, export). The sizing is kept in the output
    folder, so a re-run of a run that stopped half-way gets the same steps, hence the same Trainer config, and the
    Trainer resumes from its checkpoints instead of starting over."""
    budget_path = args.output_dir / BUDGET_FILE
    asked = {"pretrain_minutes": args.pretrain_minutes, "preset": args.preset, "set": args.set}
    if budget_path.exists():
        budget = json.loads(budget_path.read_text())
        if {key: budget.get(key) for key in asked} != asked:
            raise SystemExit(
                f"{budget_path} sized another run ({ {key: budget.get(key) for key in asked} }, not {asked}): use "
                "another --output-dir for another budget or recipe (the data steps are cheap to redo), or delete it"
            )
        if args.train_steps and budget["train_steps"] != args.train_steps:
            raise SystemExit(f"{budget_path} sized {budget['train_steps']} steps, not --train-steps {args.train_steps}")
        print(f"sizing from {budget_path}: {budget['train_steps']} steps (sized earlier)", flush=True)
        return budget
    batch = [int(o.split("=")[1]) for o in PRETRAINING_OVERRIDES + args.set if o.startswith("trainer.batch_size=")][-1]
    if args.train_steps:
        if args.train_steps < 0 or args.train_steps % CHECKPOINTS_PER_RUN:
            raise SystemExit(f"--train-steps {args.train_steps} must be a positive multiple of {CHECKPOINTS_PER_RUN}")
        budget = {**asked, "batch_size": batch, "train_steps": args.train_steps, "sized_by": "--train-steps"}
        budget_path.write_text(json.dumps(budget, indent=2))
        print(f"sizing: {args.train_steps} steps (--train-steps, no calibration)", flush=True)
        return budget
    calibration = bert_tfx_run(
        args,
        [f"trainer.train_steps={CALIBRATION_STEPS}", "trainer.warmup_steps=10", "trainer.log_every_steps=50"],
        args.output_dir / "calibration.log",
    )
    if re.search(rf"{contract.TRAINER} cached in", calibration):
        raise SystemExit(
            "the calibration run's Trainer was served from TFX's cache, so it measured nothing on this machine: "
            f"delete {args.output_dir / PIPELINE_NAME} or use another --output-dir"
        )
    history = json.loads((trainer_outputs(args, calibration)[contract.MODEL_RUN] / contract.HISTORY_FILE).read_text())
    speed = history["sequences_per_second"][-1]  # the first period includes compilation
    fixed_seconds = max(0.0, trainer_seconds(calibration) - CALIBRATION_STEPS * batch / speed)
    steps = int(0.95 * (args.pretrain_minutes * 60 - fixed_seconds) * speed / batch)
    steps -= steps % CHECKPOINTS_PER_RUN
    budget = {
        **asked,
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
    history = json.loads((outputs[contract.MODEL_RUN] / contract.HISTORY_FILE).read_text())
    training = json.loads((outputs[contract.MODEL_RUN] / contract.TRAINING_FILE).read_text())
    # Every run of the budget is recorded (a run TFX serves from its cache trains nothing), so the Trainer's time
    # over all the runs that made the encoder is known when one stopped half-way and another resumed it.
    cached = re.search(rf"{contract.TRAINER} cached in", stdout) is not None
    budget.setdefault("runs", []).append(
        {
            "ended": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "machine": platform.node(),
            "trainer_seconds": trainer_seconds(stdout),
            "cached": cached,
            "resumed_from_step": training.get("resumed_from_step", 0),
            "model_run": str(outputs[contract.MODEL_RUN]),
        }
    )
    (args.output_dir / BUDGET_FILE).write_text(json.dumps(budget, indent=2))
    return {
        **budget,
        "trainer_seconds": trainer_seconds(stdout),
        "cached": cached,
        "resumed_from_step": training.get("resumed_from_step", 0),
        "checkpoint_dir": training["checkpoint_dir"],
        "final": {k: v[-1] for k, v in history.items() if v},
        "model_uri": str(outputs[contract.MODEL]),
        "transform_graph_uri": str(outputs[contract.TRANSFORM_GRAPH]),
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

    from models.encoder import backbone as backbone_lib

    _, vocab_path, lower_case = backbone_lib.load_checkpoint(pretrained_dir)
    keras.utils.set_random_seed(seed)
    backbone = backbone_lib.build_backbone(model_config, backbone_lib.read_vocab_size(vocab_path))
    backbone_lib.save_checkpoint(backbone, vocab_path, lower_case, str(out_dir))
    return str(out_dir)


def arm_name(fraction: Fraction) -> str:
    return "pretrained" if fraction == 1 else f"pretrained@{fraction}"


def encoders(args, pretraining: dict) -> dict[str, str]:
    """The encoder checkpoint of each arm: `random`, and the pre-trained encoder at each `--fine-tune-at`
    fraction of the run (the Trainer's export at the end, its resumable checkpoints before)."""
    from configs.run_config import RunConfig, to_custom_config
    from models.encoder import backbone as backbone_lib
    from models.pretraining import trainer_module

    final = backbone_lib.checkpoint_dir(pretraining["model_uri"])
    run_config = RunConfig.from_dict(json.loads((args.output_dir / PIPELINE_NAME / "run_config.json").read_text()))
    arms = {"random": random_checkpoint(final, run_config.model, args.output_dir / "random_init", args.init_seed)}
    for fraction in args.fine_tune_at:
        if fraction == 1:
            arms[arm_name(fraction)] = final
            continue
        step = pretraining["train_steps"] * fraction
        training_checkpoint = f"{pretraining['checkpoint_dir']}/ckpt-{step}"
        if step.denominator != 1 or not Path(training_checkpoint + ".index").exists():
            saved = sorted(int(p.stem.split("-")[1]) for p in Path(pretraining["checkpoint_dir"]).glob("ckpt-*.index"))
            raise SystemExit(
                f"--fine-tune-at {fraction}: no checkpoint at step {step} of {pretraining['train_steps']} in "
                f"{pretraining['checkpoint_dir']}; saved steps: {saved}"
            )
        directory = args.output_dir / "encoders" / f"step_{step}"
        if not directory.exists():  # written beside it, then renamed: a folder that exists is complete
            partial = directory.with_name(directory.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            trainer_module.export_encoder_at_checkpoint(
                training_checkpoint,
                to_custom_config(run_config, "data", "model", "trainer"),
                pretraining["transform_graph_uri"],
                str(partial),
            )
            partial.rename(directory)
        arms[arm_name(fraction)] = str(directory)
    return arms


def encoder_fingerprint(checkpoint_dir: str) -> str:
    """A digest of the encoder's weights, vocabulary and casing: equal encoders share fine-tuning results."""
    import numpy as np

    from models.encoder import backbone as backbone_lib

    backbone, vocab_path, lower_case = backbone_lib.load_checkpoint(checkpoint_dir)
    digest = hashlib.sha256(Path(vocab_path).read_bytes() + str(lower_case).encode())
    for weight in backbone.weights:
        digest.update(weight.path.encode() + np.asarray(weight.numpy()).tobytes())
    return digest.hexdigest()[:16]


def result_key(task_name: str, glue, fingerprint: str, cache: Path) -> tuple[dict, Path]:
    """What a fine-tuning result depends on, and the file in `cache` that keeps it."""
    key = {"encoder": fingerprint, "task": task_name, "settings": dataclasses.asdict(glue)}
    return key, cache / f"{task_name}-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]}.json"


def fine_tune_once(task, glue, checkpoint: str, fingerprint: str, patterns: dict, run_dir: Path, cache: Path) -> dict:
    """One fine-tuning run (one seed) of the encoder on the task; its result is kept in `cache`, keyed by the
    encoder's fingerprint, the task and the settings, so a re-run (or another budget's run with the same random
    arm) skips what it already has."""
    from models.glue import fine_tuning as glue_fine_tuning
    from models.glue import metrics as glue_metrics

    key, path = result_key(task.name, glue, fingerprint, cache)
    if path.exists():
        return json.loads(path.read_text())
    start = time.monotonic()
    paths = glue_fine_tuning.FineTuningPaths(
        checkpoint_dir=checkpoint,
        split_patterns=patterns,
        serving_dir=str(run_dir / "serving"),
        model_run_dir=str(run_dir / "run"),
    )
    metrics = glue_fine_tuning.fine_tune(task, glue, paths)
    (run,) = metrics["trials"]
    record = {
        **key,
        "score": run["score"],
        "dev": run["dev"]["eval"],
        "constant": glue_metrics.task_score(metrics["constant_baseline"]["eval"]),
        "seconds": time.monotonic() - start,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record, indent=2))
    partial.rename(path)  # a result file that exists is complete
    return record


def fine_tune_arms(args, arms: dict[str, str]) -> dict:
    """Fine-tunes every task from every arm's encoder, once per seed, with the same settings."""
    from configs import glue_tasks
    from configs.run_config import GlueConfig
    from models.glue import fine_tuning as glue_fine_tuning
    from models.glue import metrics as glue_metrics

    fingerprints = {arm: encoder_fingerprint(checkpoint) for arm, checkpoint in arms.items()}
    results = {}
    for name in args.tasks:
        task = glue_tasks.get_task(name)
        patterns = write_glue_examples(task, args.data_dir, args.output_dir / "glue_examples")
        examples = glue_fine_tuning.count_records(patterns["train"])
        steps = min(math.ceil(examples / args.batch_size) * args.epochs, args.max_steps)
        results[name] = {"train_steps": steps, "train_examples": examples}
        for arm, checkpoint in arms.items():
            runs = []
            for seed in args.seeds:
                glue = GlueConfig(
                    max_seq_length=args.max_seq_length,
                    batch_size=args.batch_size,
                    train_steps=steps,
                    learning_rates=[args.learning_rate],
                    seeds=[seed],
                    log_every_steps=max(1, steps // 4),
                )
                run_dir = args.output_dir / "fine_tuned" / arm / name / f"seed_{seed}"
                runs.append(
                    fine_tune_once(task, glue, checkpoint, fingerprints[arm], patterns, run_dir, args.results_cache)
                )
                print(f"{name} {arm} seed {seed}: {runs[-1]['score']:.4f} ({runs[-1]['seconds']:.0f} s)", flush=True)
            scores = [run["score"] for run in runs]
            results[name][arm] = {
                "median_score": glue_metrics.spread(scores)["median"],
                "scores": scores,
                "spread": {m: glue_metrics.spread([run["dev"][m] for run in runs]) for m in task.metrics},
                "seconds": sum(run["seconds"] for run in runs),
                "encoder": fingerprints[arm],
            }
            results[name]["constant"] = runs[0]["constant"]
    return results


def averages(results: dict, arms: list[str], without: tuple[str, ...] = ()) -> dict[str, float]:
    """GLUE average (mean of the task scores) of each arm's median score, and of the constant predictor."""
    from models.glue import metrics as glue_metrics

    kept = {n: r for n, r in results.items() if n not in without}
    means = {arm: glue_metrics.glue_score({n: r[arm]["median_score"] for n, r in kept.items()}) for arm in arms}
    means["constant"] = glue_metrics.glue_score({n: r["constant"] for n, r in kept.items()})
    return means


def table(results: dict, arms: list[str]) -> str:
    """Per task and on average: the constant predictor, each arm's median score [min-max], and each pre-trained
    arm's gap over random initialisation."""
    pretrained = [arm for arm in arms if arm != "random"]
    lines = [
        "| task | metric(s) | constant | " + " | ".join([*arms, *(f"gap {a}" for a in pretrained)]) + " |",
        "|---|---|---|" + "---|" * (len(arms) + len(pretrained)),
    ]
    for name, result in results.items():
        metrics = ", ".join(result["random"]["spread"])
        row = [f"{100 * result['constant']:.1f}"]
        for arm in arms:
            scores = result[arm]["scores"]
            spread = f" [{100 * min(scores):.1f}-{100 * max(scores):.1f}]" if len(scores) > 1 else ""
            row.append(f"{100 * result[arm]['median_score']:.1f}{spread}")
        row += [f"{100 * (result[a]['median_score'] - result['random']['median_score']):+.1f}" for a in pretrained]
        lines.append(f"| {name} | {metrics} | {' | '.join(row)} |")
    for label, without in (("**average**", ()), ("average without WNLI", ("wnli",))):
        if without and not set(without) & set(results):
            continue
        means = averages(results, arms, without)
        row = [f"{100 * means[a]:.1f}" for a in ["constant", *arms]]
        row += [f"**{100 * (means[a] - means['random']):+.1f}**" for a in pretrained]
        lines.append(f"| {label} | | {' | '.join(row)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="holds corpus/ and glue/")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--pretrain-minutes", type=float, default=60)
    parser.add_argument(
        "--train-steps",
        type=int,
        default=0,
        help="pre-training steps instead of calibrating for --pretrain-minutes: the steps another arm's calibration "
        "sized, for an arm whose steps cost the same (learning rate, schedule, seed), so that the machine's speed "
        "between calibrations is not a difference between them",
    )
    parser.add_argument(
        "--fine-tune-at",
        nargs="+",
        type=Fraction,
        default=[Fraction(1)],
        help=f"fractions of the run (multiples of 1/{CHECKPOINTS_PER_RUN}) whose encoders are fine-tuned; 1 is the end",
    )
    parser.add_argument("--tasks", nargs="+", default=TASKS_IN_FULL)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1], help="fine-tuning seeds, one run each")
    parser.add_argument("--init-seed", type=int, default=1, help="seed of the randomly initialised encoder")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=1500, help="fine-tuning steps per task at most")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="pre-training override")
    parser.add_argument(
        "--results-cache",
        type=Path,
        default=None,
        help="folder of fine-tuning results by encoder, task, settings and seed (default: <output-dir>/results)",
    )
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    args.results_cache = args.results_cache or args.output_dir / "results"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    start = time.monotonic()
    pretraining = pretrain(args)
    how = "served from cache" if pretraining["cached"] else f"resumed at step {pretraining['resumed_from_step']}"
    print(
        f"pre-training: {pretraining['train_steps']} steps; Trainer {pretraining['trainer_seconds']:.0f} s in this "
        f"run ({how}); final masked-LM accuracy {pretraining['final'].get('masked_lm_accuracy', float('nan')):.3f}",
        flush=True,
    )
    arms = encoders(args, pretraining)
    results = fine_tune_arms(args, arms)
    markdown = table(results, list(arms))
    summary = {
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "command": " ".join(sys.argv),
        "pretraining": pretraining,
        "tasks": results,
        "averages": averages(results, list(arms)),
        "averages_without_wnli": averages(results, list(arms), ("wnli",)),
        "seconds": time.monotonic() - start,
    }
    (args.output_dir / "pretraining_quality.json").write_text(json.dumps(summary, indent=2))
    (args.output_dir / "pretraining_quality.md").write_text(markdown + "\n")
    print(markdown)
    means = summary["averages"]
    for arm in arms:
        if arm != "random":
            print(
                f"GLUE average: {arm} {100 * means[arm]:.1f} vs random init {100 * means['random']:.1f} "
                f"({100 * (means[arm] - means['random']):+.1f} points)"
            )
    print(f"total {summary['seconds']:.0f} s")


if __name__ == "__main__":
    main()
