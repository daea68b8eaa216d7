"""GLUE fine-tuning: the pre-trained encoder plus a task head, trained on one task and exported.

The procedure the GlueFineTune component runs (its executor only maps artifacts to these paths): for
each learning rate and seed of the config, load the encoder checkpoint, tokenize the task's examples
with the pre-training vocabulary, train for a step budget with AdamW (warm-up, linear decay, clipping)
and score every dev split with the task's official metrics. The trial best on the gated dev split (the
mean of its official metrics) is exported as the serving SavedModel (`models.glue.classifier.GlueServing`)
and predicts the test splits in the leaderboard's submission format; the metrics of every trial (one learning
rate and seed), their median and range, and the best constant predictor's scores go to `dev_metrics.json`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from configs import glue_tasks
from configs.glue_tasks import GlueTask
from configs.pipeline_contract import GLUE_METRICS_FILE, GLUE_PREDICTIONS_DIR
from configs.run_config import GlueConfig
from models.encoder import backbone as backbone_lib
from models.encoder import tokenization
from models.glue import classifier as glue_classifier
from models.glue import metrics as glue_metrics
from models.training.optimization import create_optimizer
from models.training.step_budget import fit_for_steps

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FineTuningPaths:
    """Where fine-tuning reads and writes.

    Attributes:
        checkpoint_dir: the pre-trained encoder checkpoint (`models.encoder.backbone.save_checkpoint`).
        split_patterns: per example split of the task (`train`, `eval`, `test`, ...), a glob of its
            gzipped TFRecords of tf.Examples; `train` and `eval` are required.
        serving_dir: where the serving SavedModel is written.
        model_run_dir: where `dev_metrics.json` and the test predictions are written (the ModelRun artifact).
    """

    checkpoint_dir: str
    split_patterns: Mapping[str, str]
    serving_dir: str
    model_run_dir: str


def count_records(pattern: str) -> int:
    """Records in the gzipped TFRecord files matching `pattern`."""
    files = tf.io.gfile.glob(pattern)
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def train_steps(config: GlueConfig, num_train_examples: int) -> int:
    """`config.train_steps`, or `config.epochs` passes over the train split when that is None."""
    if config.train_steps is not None:
        return config.train_steps
    return config.epochs * math.ceil(num_train_examples / config.batch_size)


@dataclasses.dataclass
class _Trial:
    """One fine-tuning of the encoder: a learning rate, a seed, the model and its dev metrics."""

    learning_rate: float
    seed: int
    classifier: keras.Model
    dev: dict[str, dict[str, float]]
    answers: dict[str, np.ndarray]
    history: dict[str, list[float]]

    @property
    def score(self) -> float:
        return glue_metrics.task_score(self.dev[glue_tasks.EVAL_SPLIT])

    def to_json(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "seed": self.seed,
            "dev": self.dev,
            "score": self.score,
            "train_history": self.history,
        }


class _TrialProgress(keras.callbacks.Callback):
    """Logs a trial's figures once per logging period (this package's logger: `bert-tfx run` prints it)."""

    def __init__(self, name: str, total_steps: int):
        super().__init__()
        self.name, self.total_steps = name, total_steps

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        figures = ", ".join(f"{k} {float(v):.4f}" for k, v in sorted((logs or {}).items()))
        _LOG.info("fine-tuning %s: step %d/%d, %s", self.name, step, self.total_steps, figures)


def fine_tune(task: GlueTask, config: GlueConfig, paths: FineTuningPaths) -> dict[str, Any]:
    """Fine-tunes the encoder on `task` once per learning rate and seed (a trial each), exports the trial best
    on dev, writes its test predictions, and returns the metrics it wrote."""
    vocab_path, lower_case = backbone_lib.load_checkpoint(paths.checkpoint_dir)[1:]
    tokenizer = tokenization.wordpiece_tokenizer(tokenization.vocab_table(vocab_path), lower_case)
    dev_splits = [f.split for f in task.dev_files if _has_records(paths.split_patterns.get(f.split))]
    labels = {split: _labels(paths.split_patterns[split], tokenizer, task, config) for split in dev_splits}
    steps = train_steps(config, count_records(paths.split_patterns[glue_tasks.TRAIN_SPLIT]))

    if not config.learning_rates or not config.seeds:
        raise ValueError(f"glue.learning_rates={config.learning_rates} x glue.seeds={config.seeds} make no trial")
    results: list[dict[str, Any]] = []
    best: _Trial | None = None  # only the best trial's model is kept in memory
    for learning_rate in config.learning_rates:
        for seed in config.seeds:
            trial = _train_and_score(task, config, paths, tokenizer, learning_rate, seed, steps, labels)
            results.append(trial.to_json())
            if best is None or trial.score > best.score:
                best = trial

    glue_classifier.export_classifier(
        best.classifier, vocab_path, lower_case, task, config.max_seq_length, paths.serving_dir
    )
    predictions = _write_predictions(task, config, paths, tokenizer, best.classifier)
    metrics = {
        "task": task.name,
        "train_steps": steps,
        "dev": best.dev[glue_tasks.EVAL_SPLIT],
        "dev_splits": best.dev,
        "best_trial": {"learning_rate": best.learning_rate, "seed": best.seed},
        "trials": results,
        "spread": {
            split: {m: glue_metrics.spread([r["dev"][split][m] for r in results]) for m in task.metrics}
            for split in dev_splits
        },
        "constant_baseline": {split: glue_metrics.constant_baseline(task, labels[split]) for split in dev_splits},
        # The kept model's lead over the constant predictor on the gated split, with the bounds the Evaluator gates.
        "evidence": {
            metric: dataclasses.asdict(
                glue_metrics.evidence_over_constant(
                    metric,
                    labels[glue_tasks.EVAL_SPLIT],
                    best.answers[glue_tasks.EVAL_SPLIT],
                    config.confidence,
                    config.bootstrap_samples,
                    config.bootstrap_seed,
                )
            )
            for metric in task.metrics
        },
        "test_predictions": predictions,
    }
    tf.io.gfile.makedirs(paths.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(paths.model_run_dir, GLUE_METRICS_FILE), "w") as f:
        json.dump(metrics, f, indent=2)
    return metrics


def _has_records(pattern: str | None) -> bool:
    """Whether any file matching `pattern` holds a record (reads one record, not the split)."""
    files = tf.io.gfile.glob(pattern) if pattern else []
    return bool(files) and any(True for _ in tf.data.TFRecordDataset(files, compression_type="GZIP").take(1))


def _labels(pattern: str, tokenizer, task: GlueTask, config: GlueConfig) -> np.ndarray:
    dataset = glue_classifier.labelled_dataset(
        pattern, tokenizer, task, config.max_seq_length, config.batch_size, training=False
    )
    return np.concatenate([labels.numpy() for _, labels in dataset])


def _answers(classifier: keras.Model, dataset: tf.data.Dataset, task: GlueTask) -> tuple[np.ndarray, np.ndarray]:
    """The model's answers over (inputs, key) batches, and the keys (labels or example ids) in the same order."""
    keys, outputs = [], []
    for inputs, batch_keys in dataset:
        keys.append(batch_keys.numpy())
        outputs.append(np.asarray(classifier.predict_on_batch(inputs)))
    return glue_metrics.predicted(task, np.concatenate(outputs)), np.concatenate(keys)


def _train_and_score(task, config, paths, tokenizer, learning_rate, seed, steps, labels) -> _Trial:
    keras.utils.set_random_seed(seed)
    backbone = backbone_lib.load_checkpoint(paths.checkpoint_dir)[0]
    train = glue_classifier.labelled_dataset(
        paths.split_patterns[glue_tasks.TRAIN_SPLIT],
        tokenizer,
        task,
        config.max_seq_length,
        config.batch_size,
        training=True,
        seed=seed,
    )
    classifier = glue_classifier.build_classifier(backbone, task, config.dropout)
    if task.is_regression:
        loss, train_metrics = keras.losses.MeanSquaredError(), [keras.metrics.MeanAbsoluteError(name="mae")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        train_metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    classifier.compile(
        optimizer=create_optimizer(
            "adamw",
            learning_rate,
            warmup_steps=int(steps * config.warmup_proportion),
            total_steps=steps,
            weight_decay=config.weight_decay,
            clip_norm=config.clip_norm,
        ),
        loss=loss,
        metrics=train_metrics,
    )
    progress = _TrialProgress(f"{task.name} (learning rate {learning_rate:g}, seed {seed})", steps)
    history = fit_for_steps(
        classifier, train, total_steps=steps, log_every_steps=config.log_every_steps, callbacks=[progress], verbose=0
    )
    dev, answers = {}, {}
    for split, split_labels in labels.items():
        dataset = glue_classifier.labelled_dataset(
            paths.split_patterns[split], tokenizer, task, config.max_seq_length, config.batch_size, training=False
        )
        answers[split] = _answers(classifier, dataset, task)[0]
        dev[split] = glue_metrics.evaluate(task, split_labels, answers[split])
    return _Trial(
        learning_rate=learning_rate,
        seed=seed,
        classifier=classifier,
        dev=dev,
        answers=answers,
        history={k: [float(x) for x in v] for k, v in history.history.items()},
    )


def _write_predictions(task, config, paths, tokenizer, classifier) -> dict[str, int]:
    """Each test split's predictions as `<model_run_dir>/predictions/<submission name>`; returns rows per file."""
    written = {}
    for glue_file in task.test_files:
        pattern = paths.split_patterns.get(glue_file.split)
        if not _has_records(pattern):
            continue
        dataset = glue_classifier.unlabelled_dataset(pattern, tokenizer, task, config.max_seq_length, config.batch_size)
        answers, ids = _answers(classifier, dataset, task)
        path = os.path.join(paths.model_run_dir, GLUE_PREDICTIONS_DIR, glue_file.submission_name)
        tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(submission_tsv(task, ids, answers))
        written[glue_file.submission_name] = len(answers)
    return written


def submission_tsv(task: GlueTask, ids: np.ndarray, answers: np.ndarray) -> str:
    """The leaderboard's format: a header `index<TAB>prediction`, then one row per test example in id order,
    the label string of the predicted class (or the score, clipped to the task's range, with 3 decimals)."""
    rows = ["index\tprediction"]
    for example_id, answer in sorted(zip(ids.tolist(), answers.tolist(), strict=True)):
        if task.is_regression:
            low, high = task.label_range
            rows.append(f"{example_id}\t{min(max(answer, low), high):.3f}")
        else:
            rows.append(f"{example_id}\t{task.labels[answer]}")
    return "\n".join(rows) + "\n"
