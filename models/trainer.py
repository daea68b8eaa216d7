"""Trainer module: BERT pre-training `run_fn` for the TFX Trainer.

`custom_config` carries the run config sections `data`, `model` and `trainer` as dicts. Outputs:
- `serving_model_dir`: the raw-text encoder SavedModel (`models.encoder_export`);
- `<model artifact>/checkpoint/`: the encoder checkpoint GLUE fine-tuning loads (`models.encoder`);
- `model_run_dir`: TensorBoard logs and `history.json`, the per-epoch metrics.
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

from models import encoder, encoder_export
from models.bert_pretrainer import BertPretrainer
from models.optimization import create_optimizer
from models.training import fit_for_steps
from pipeline.configs import ModelConfig, PretrainingDataConfig, TrainerConfig

HISTORY_FILE = "history.json"


def find_vocab(transform_output: tft.TFTransformOutput) -> str:
    """The learned WordPiece vocabulary among the transform graph's assets."""
    assets = os.path.join(transform_output.transform_savedmodel_dir, "assets")
    candidates = [name for name in tf.io.gfile.listdir(assets) if name.startswith("vocab")]
    if len(candidates) != 1:
        raise FileNotFoundError(f"expected one vocabulary file in {assets}, found {candidates}")
    return os.path.join(assets, candidates[0])


def _dataset(
    fn_args: tfx.components.FnArgs, file_pattern: list[str], schema, batch_size: int, seed: int
) -> tf.data.Dataset:
    return fn_args.data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, shuffle_seed=seed, drop_final_batch=True),
        schema,
    ).prefetch(tf.data.AUTOTUNE)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Pre-trains BERT on the transformed examples and exports the encoder."""
    data = PretrainingDataConfig(**fn_args.custom_config["data"])
    model_config = ModelConfig(**fn_args.custom_config["model"])
    config = TrainerConfig(**fn_args.custom_config["trainer"])
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_dtype_policy(config.mixed_precision)

    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    schema = transform_output.transformed_metadata.schema
    vocab_path = find_vocab(transform_output)
    train = _dataset(fn_args, fn_args.train_files, schema, config.batch_size, config.seed)
    evaluation = _dataset(fn_args, fn_args.eval_files, schema, config.batch_size, config.seed)

    backbone = encoder.build_backbone(model_config, encoder.read_vocab_size(vocab_path))
    pretrainer = BertPretrainer(backbone)
    train_steps = fn_args.train_steps or config.train_steps
    pretrainer.compile(
        optimizer=create_optimizer(
            config.optimizer,
            config.learning_rate,
            config.warmup_steps,
            train_steps,
            config.weight_decay,
            config.clip_norm,
        ),
        jit_compile=config.jit_compile,
    )
    history = fit_for_steps(
        pretrainer,
        train,
        total_steps=train_steps,
        steps_per_epoch=config.steps_per_epoch,
        validation_data=evaluation,
        validation_steps=fn_args.eval_steps or config.eval_steps,
        callbacks=[keras.callbacks.TensorBoard(log_dir=os.path.join(fn_args.model_run_dir, "tensorboard"))],
        verbose=2,
    )
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HISTORY_FILE), "w") as f:
        json.dump({name: [float(v) for v in values] for name, values in history.history.items()}, f, indent=2)

    encoder.save_checkpoint(
        backbone, vocab_path, data.lower_case, encoder.checkpoint_dir(os.path.dirname(fn_args.serving_model_dir))
    )
    encoder_export.export_text_encoder(
        backbone, vocab_path, data.lower_case, data.max_seq_length, fn_args.serving_model_dir
    )
