"""Trainer module: the BERT pre-training `run_fn` of the TFX Trainer.

`custom_config` carries the run config sections `data`, `model` and `trainer`
(`configs.run_config.to_custom_config`); the step budget is `trainer.train_steps`, the only place
it is set. The vocabulary is the transform graph's asset named `features.VOCAB_FILE`. Outputs:
- `serving_model_dir`: the raw-text encoder SavedModel (`models.text_encoder`);
- `<model artifact>/checkpoint/`: the encoder checkpoint GLUE fine-tuning loads (`models.backbone`);
- `model_run_dir`: TensorBoard logs and `history.json`, the metrics of every logging period.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the transform graph uses)
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from configs.run_config import ModelConfig, PretrainingDataConfig, TrainerConfig, section_from
from models import backbone as backbone_lib
from models import features, text_encoder
from models.bert_pretrainer import BertPretrainer
from models.optimization import create_optimizer
from models.step_budget import fit_for_steps

HISTORY_FILE = "history.json"


def vocabulary_path(transform_output: tft.TFTransformOutput) -> str:
    """The learned WordPiece vocabulary: the transform graph's asset named `features.VOCAB_FILE`."""
    path = transform_output.vocabulary_file_by_name(features.VOCAB_FILE)
    if not path:
        raise FileNotFoundError(
            f"the transform graph {transform_output.transform_savedmodel_dir} has no vocabulary asset "
            f"named {features.VOCAB_FILE!r}"
        )
    return path


def _input_dataset(
    fn_args: tfx.components.FnArgs, file_pattern: list[str], schema, batch_size: int, seed: int
) -> tf.data.Dataset:
    return fn_args.data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, shuffle_seed=seed, drop_final_batch=True),
        schema,
    ).prefetch(tf.data.AUTOTUNE)


def _build_pretrainer(model_config: ModelConfig, vocab_size: int, config: TrainerConfig) -> BertPretrainer:
    # Mixed precision is the model's own dtype policy, never the process-wide one, so it cannot leak
    # into components that run later in the same process (GLUE fine-tuning under the local runner).
    dtype = config.mixed_precision or None
    pretrainer = BertPretrainer(backbone_lib.build_backbone(model_config, vocab_size, dtype=dtype))
    pretrainer.compile(
        optimizer=create_optimizer(
            config.optimizer,
            config.learning_rate,
            config.warmup_steps,
            config.train_steps,
            config.weight_decay,
            config.clip_norm,
        ),
        jit_compile=config.jit_compile,
    )
    return pretrainer


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Pre-trains BERT on the transformed examples and exports the encoder."""
    data = section_from(fn_args.custom_config, "data", PretrainingDataConfig)
    model_config = section_from(fn_args.custom_config, "model", ModelConfig)
    config = section_from(fn_args.custom_config, "trainer", TrainerConfig)
    keras.utils.set_random_seed(config.seed)

    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    schema = transform_output.transformed_metadata.schema
    vocab_path = vocabulary_path(transform_output)
    vocab_size = transform_output.vocabulary_size_by_name(features.VOCAB_FILE)
    train = _input_dataset(fn_args, fn_args.train_files, schema, config.batch_size, config.seed)
    validation = {}
    if config.eval_steps > 0:
        validation = {
            "validation_data": _input_dataset(fn_args, fn_args.eval_files, schema, config.batch_size, config.seed),
            "validation_steps": config.eval_steps,
        }

    pretrainer = _build_pretrainer(model_config, vocab_size, config)
    history = fit_for_steps(
        pretrainer,
        train,
        total_steps=config.train_steps,
        log_every_steps=config.log_every_steps,
        callbacks=[keras.callbacks.TensorBoard(log_dir=os.path.join(fn_args.model_run_dir, "tensorboard"))],
        verbose=2,
        **validation,
    )
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HISTORY_FILE), "w") as f:
        json.dump({name: [float(v) for v in values] for name, values in history.history.items()}, f, indent=2)

    backbone = pretrainer.backbone
    backbone_lib.save_checkpoint(
        backbone, vocab_path, data.lower_case, backbone_lib.checkpoint_dir(os.path.dirname(fn_args.serving_model_dir))
    )
    text_encoder.export_text_encoder(
        backbone, vocab_path, data.lower_case, data.max_seq_length, fn_args.serving_model_dir
    )
