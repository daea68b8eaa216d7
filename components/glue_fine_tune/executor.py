"""GlueFineTune executor: load the encoder checkpoint, fine-tune on `train`, export, score `eval`."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import keras
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from models import encoder, glue_classifier, glue_tasks, tokenization
from models.optimization import create_optimizer
from models.training import fit_for_steps
from pipeline.configs import GlueConfig

EXAMPLES_KEY = "examples"
PRETRAINED_MODEL_KEY = "pretrained_model"
MODEL_KEY = "model"
MODEL_RUN_KEY = "model_run"
TASK_KEY = "task"
CONFIG_KEY = "config"
SEED_KEY = "seed"
METRICS_FILE = "dev_metrics.json"


def _count_records(pattern: str) -> int:
    files = tf.io.gfile.glob(pattern)
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


class Executor(base_executor.BaseExecutor):
    """Fine-tunes a BertTextClassifier per the GlueConfig in `exec_properties["config"]`."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        task = glue_tasks.get_task(exec_properties[TASK_KEY])
        config = GlueConfig(**json.loads(exec_properties[CONFIG_KEY]))
        seed = int(exec_properties[SEED_KEY])
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        pretrained = artifact_utils.get_single_instance(input_dict[PRETRAINED_MODEL_KEY])
        model_uri = artifact_utils.get_single_uri(output_dict[MODEL_KEY])
        run_uri = artifact_utils.get_single_uri(output_dict[MODEL_RUN_KEY])
        keras.utils.set_random_seed(seed)

        backbone, vocab_path, lower_case = encoder.load_checkpoint(encoder.checkpoint_dir(pretrained.uri))
        tokenizer = tokenization.wordpiece_tokenizer(tokenization.vocab_table(vocab_path), lower_case)
        train_pattern = os.path.join(artifact_utils.get_split_uri([examples], "train"), "*")
        eval_pattern = os.path.join(artifact_utils.get_split_uri([examples], "eval"), "*")
        train = glue_classifier.labelled_dataset(
            train_pattern, tokenizer, task, config.max_seq_length, config.batch_size, training=True, seed=seed
        )
        evaluation = glue_classifier.labelled_dataset(
            eval_pattern, tokenizer, task, config.max_seq_length, config.batch_size, training=False
        )
        steps = config.train_steps or config.epochs * math.ceil(_count_records(train_pattern) / config.batch_size)

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
        history = fit_for_steps(classifier, train, total_steps=steps, steps_per_epoch=config.steps_per_epoch, verbose=2)
        dev_metrics = classifier.evaluate(evaluation, return_dict=True, verbose=0)

        glue_classifier.export_classifier(
            classifier, vocab_path, lower_case, task, config.max_seq_length, path_utils.serving_model_dir(model_uri)
        )
        tf.io.gfile.makedirs(run_uri)
        with tf.io.gfile.GFile(os.path.join(run_uri, METRICS_FILE), "w") as f:
            json.dump(
                {
                    "task": task.name,
                    "train_steps": steps,
                    "dev": {k: float(v) for k, v in dev_metrics.items()},
                    "train_history": {k: [float(x) for x in v] for k, v in history.history.items()},
                },
                f,
                indent=2,
            )
