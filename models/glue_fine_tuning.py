"""GLUE fine-tuning: the pre-trained encoder plus a task head, trained on one task and exported.

The procedure the GlueFineTune component runs (its executor only maps artifacts to these paths):
load the encoder checkpoint, tokenize the task's examples with the pre-training vocabulary, train
for a step budget with AdamW (warm-up, linear decay, clipping), score the dev split, export the
serving SavedModel (`models.glue_classifier.GlueServing`) and write the metrics as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

import keras
import tensorflow as tf

from configs.glue_tasks import GlueTask
from configs.run_config import GlueConfig
from models import backbone as backbone_lib
from models import glue_classifier, tokenization
from models.optimization import create_optimizer
from models.run_files import GLUE_METRICS_FILE
from models.step_budget import fit_for_steps


@dataclasses.dataclass(frozen=True)
class FineTuningPaths:
    """Where fine-tuning reads and writes.

    Attributes:
        checkpoint_dir: the pre-trained encoder checkpoint (`models.backbone.save_checkpoint`).
        train_pattern: glob of the task's train examples (gzipped TFRecords of tf.Examples).
        eval_pattern: glob of the task's dev examples.
        serving_dir: where the serving SavedModel is written.
        run_dir: where `dev_metrics.json` is written.
    """

    checkpoint_dir: str
    train_pattern: str
    eval_pattern: str
    serving_dir: str
    run_dir: str


def count_records(pattern: str) -> int:
    """Records in the gzipped TFRecord files matching `pattern`."""
    files = tf.io.gfile.glob(pattern)
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def train_steps(config: GlueConfig, num_train_examples: int) -> int:
    """`config.train_steps`, or `config.epochs` passes over the train split when that is None."""
    if config.train_steps is not None:
        return config.train_steps
    return config.epochs * math.ceil(num_train_examples / config.batch_size)


def fine_tune(task: GlueTask, config: GlueConfig, seed: int, paths: FineTuningPaths) -> dict[str, Any]:
    """Fine-tunes the encoder on `task`, exports the classifier, and returns the metrics it wrote."""
    keras.utils.set_random_seed(seed)
    backbone, vocab_path, lower_case = backbone_lib.load_checkpoint(paths.checkpoint_dir)
    tokenizer = tokenization.wordpiece_tokenizer(tokenization.vocab_table(vocab_path), lower_case)
    train = glue_classifier.labelled_dataset(
        paths.train_pattern, tokenizer, task, config.max_seq_length, config.batch_size, training=True, seed=seed
    )
    evaluation = glue_classifier.labelled_dataset(
        paths.eval_pattern, tokenizer, task, config.max_seq_length, config.batch_size, training=False
    )
    steps = train_steps(config, count_records(paths.train_pattern))

    classifier = glue_classifier.build_classifier(backbone, task, config.dropout)
    classifier.compile(
        optimizer=create_optimizer(
            "adamw",
            config.learning_rate,
            warmup_steps=int(steps * config.warmup_proportion),
            total_steps=steps,
            weight_decay=config.weight_decay,
            clip_norm=config.clip_norm,
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    history = fit_for_steps(classifier, train, total_steps=steps, log_every_steps=config.log_every_steps, verbose=2)
    dev_metrics = classifier.evaluate(evaluation, return_dict=True, verbose=0)

    glue_classifier.export_classifier(
        classifier, vocab_path, lower_case, task, config.max_seq_length, paths.serving_dir
    )
    metrics = {
        "task": task.name,
        "train_steps": steps,
        "dev": {k: float(v) for k, v in dev_metrics.items()},
        "train_history": {k: [float(x) for x in v] for k, v in history.history.items()},
    }
    tf.io.gfile.makedirs(paths.run_dir)
    with tf.io.gfile.GFile(os.path.join(paths.run_dir, GLUE_METRICS_FILE), "w") as f:
        json.dump(metrics, f, indent=2)
    return metrics
