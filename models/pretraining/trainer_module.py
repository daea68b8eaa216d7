"""Trainer module: the BERT pre-training `run_fn` of the TFX Trainer.

`custom_config` carries the run config sections `data`, `model` and `trainer`
(`configs.run_config.to_custom_config`); the step budget is `trainer.train_steps`, the only place
it is set. The vocabulary is the transform graph's asset named `features.VOCAB_FILE`. Outputs:
- `serving_model_dir`: the raw-text encoder SavedModel (`models.encoder.text_encoder`);
- `<model artifact>/checkpoint/`: the encoder checkpoint GLUE fine-tuning loads (`models.encoder.backbone`);
- `model_run_dir`: TensorBoard logs, `history.json` (the metrics of every logging period) and
  `training.json` (steps, where training resumed from, the checkpoint folder).

Resuming: training checkpoints go to `<pipeline root>/Trainer/checkpoints/<fingerprint>/`, outside
any execution's output folders, where the fingerprint covers the config sections and the input
artifacts. A Trainer killed mid-run and run again with the same config and data (the next
`bert-tfx run` or `tfx run create`) resumes from the latest checkpoint and stops at exactly
`train_steps`; a changed config or changed data gets a fresh folder and starts from step 0.
`export_encoder_at_checkpoint` writes the encoder of any of those checkpoints in the form fine-tuning loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the transform graph uses)
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from configs.pipeline_contract import HISTORY_FILE, TENSORBOARD_DIR, TRAINER_CHECKPOINTS_DIR, TRAINING_FILE
from configs.run_config import ModelConfig, PretrainingDataConfig, TrainerConfig, section_from
from models import features
from models.encoder import backbone as backbone_lib
from models.encoder import text_encoder
from models.pretraining import distribution, flops
from models.pretraining.bert_pretrainer import BertPretrainer
from models.pretraining.training_callbacks import CheckpointEveryNSteps, PretrainingCheckpoints, TrainingProgress
from models.pretraining_data import masking
from models.training.dataset_options import without_autotuning
from models.training.optimization import create_optimizer
from models.training.step_budget import fit_for_steps

_LOG = logging.getLogger(__name__)


def vocabulary_path(transform_output: tft.TFTransformOutput) -> str:
    """The learned WordPiece vocabulary: the transform graph's asset named `features.VOCAB_FILE`."""
    path = transform_output.vocabulary_file_by_name(features.VOCAB_FILE)
    if not path:
        raise FileNotFoundError(
            f"the transform graph {transform_output.transform_savedmodel_dir} has no vocabulary asset "
            f"named {features.VOCAB_FILE!r}"
        )
    return path


def training_checkpoint_dir(fn_args: tfx.components.FnArgs) -> str:
    """`<pipeline root>/<Trainer node>/checkpoints/<fingerprint of config and inputs>`.

    `model_run_dir` is `<pipeline root>/<Trainer node>/model_run/<execution id>`: the folder above
    it outlives the execution.
    """
    identity = {
        "custom_config": fn_args.custom_config,
        "train_files": sorted(fn_args.train_files),
        "transform_output": fn_args.transform_output,
    }
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    node_dir = os.path.dirname(os.path.dirname(fn_args.model_run_dir))
    return os.path.join(node_dir, TRAINER_CHECKPOINTS_DIR, fingerprint)


def _input_dataset(
    fn_args: tfx.components.FnArgs, file_pattern: list[str], schema, batch_size: int, seed: int
) -> tf.data.Dataset:
    return fn_args.data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, shuffle_seed=seed, drop_final_batch=True),
        schema,
    ).prefetch(tf.data.AUTOTUNE)


def _zero_instance(transform_output: tft.TFTransformOutput, max_predictions: int) -> dict[str, tf.Tensor]:
    """One all-zero instance of every feature the model reads: builds the model without reading data (a
    batch from the input pipeline would first fill its shuffle buffer, then fit fills it again)."""
    instance = {
        name: tf.zeros([1, *spec.shape], spec.dtype)
        for name, spec in transform_output.transformed_feature_spec().items()
    }
    for name in features.PREDICTION_FEATURES:  # absent under dynamic masking
        instance.setdefault(
            name, tf.zeros([1, max_predictions], tf.float32 if name == features.MASKED_LM_WEIGHTS else tf.int64)
        )
    return instance


def batches_in_memory(dataset: tf.data.Dataset, steps: int) -> tf.data.Dataset:
    """The first `steps` batches of `dataset`, read once and then repeated from memory, without autotuning.

    Keras starts a new iterator over the validation data at every evaluation and drops the previous one, which
    with autotuning on stalls up to a minute (`models.training.dataset_options`). Every evaluation reads the same
    batches, so the figures compare across periods.
    """
    batches = list(dataset.take(steps))
    if not batches:
        raise ValueError("the eval split gave no batch: it has fewer examples than one batch (trainer.batch_size)")
    stacked = tf.nest.map_structure(lambda *tensors: tf.stack(tensors), *batches)
    return without_autotuning(tf.data.Dataset.from_tensor_slices(stacked).repeat())


def build_pretrainer(model_config: ModelConfig, vocab_size: int, config: TrainerConfig) -> BertPretrainer:
    """The compiled pre-training task (call it inside the strategy's scope)."""
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
            config.gradient_accumulation_steps,
        ),
        jit_compile=config.jit_compile,
    )
    return pretrainer


def _training_data(
    fn_args: tfx.components.FnArgs,
    data: PretrainingDataConfig,
    config: TrainerConfig,
    transform_output: tft.TFTransformOutput,
    vocab_path: str,
) -> tuple[tf.data.Dataset, dict[str, Any]]:
    """The train batches, and the validation data as `fit` takes it (`{}` when `trainer.eval_steps` is 0)."""
    schema = transform_output.transformed_metadata.schema
    vocab_size = transform_output.vocabulary_size_by_name(features.VOCAB_FILE)
    train = _input_dataset(fn_args, fn_args.train_files, schema, config.batch_size, config.seed)
    validation = None
    if config.eval_steps > 0:
        validation = _input_dataset(fn_args, fn_args.eval_files, schema, config.batch_size, config.seed)
    if data.dynamic_masking:
        settings = masking.MaskingSettings.from_config(data)
        train = masking.with_dynamic_masks(train, vocab_path, vocab_size, settings, config.seed)
        if validation is not None:  # the same masks at every evaluation, so the figures compare
            validation = masking.with_dynamic_masks(validation, vocab_path, vocab_size, settings, config.seed)
    if validation is None:
        return train, {}
    return train, {
        "validation_data": batches_in_memory(validation, config.eval_steps),
        "validation_steps": config.eval_steps,
    }


def _callbacks(
    fn_args: tfx.components.FnArgs,
    data: PretrainingDataConfig,
    model_config: ModelConfig,
    config: TrainerConfig,
    vocab_size: int,
    checkpoints: PretrainingCheckpoints,
) -> list[keras.callbacks.Callback]:
    """Progress lines and figures, TensorBoard, and checkpoints every `trainer.checkpoint_every_steps`."""
    sequences_per_step = config.batch_size * config.gradient_accumulation_steps
    flops_per_sequence = flops.pretraining_flops_per_sequence(
        model_config, vocab_size, data.max_seq_length, data.max_predictions_per_seq
    )
    callbacks: list[keras.callbacks.Callback] = [
        TrainingProgress(
            total_steps=config.train_steps,
            sequences_per_step=sequences_per_step,
            tokens_per_sequence=data.max_seq_length,
            flops_per_step=sequences_per_step * flops_per_sequence,
            peak_flops=flops.measure_matmul_flops(),
        ),
        keras.callbacks.TensorBoard(log_dir=os.path.join(fn_args.model_run_dir, TENSORBOARD_DIR)),
    ]
    if config.checkpoint_every_steps > 0:
        callbacks.append(CheckpointEveryNSteps(checkpoints, config.checkpoint_every_steps))
    return callbacks


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Pre-trains BERT on the transformed examples (resuming if it can) and exports the encoder."""
    data = section_from(fn_args.custom_config, "data", PretrainingDataConfig)
    model_config = section_from(fn_args.custom_config, "model", ModelConfig)
    config = section_from(fn_args.custom_config, "trainer", TrainerConfig)
    keras.utils.set_random_seed(config.seed)
    strategy = distribution.strategy_for(config.strategy)

    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    vocab_path = vocabulary_path(transform_output)
    vocab_size = transform_output.vocabulary_size_by_name(features.VOCAB_FILE)
    train, validation = _training_data(fn_args, data, config, transform_output, vocab_path)

    with strategy.scope():
        pretrainer = build_pretrainer(model_config, vocab_size, config)
        # Creates the weights, so that a checkpoint can be restored.
        pretrainer(_zero_instance(transform_output, data.max_predictions_per_seq))
        pretrainer.optimizer.build(pretrainer.trainable_variables)
    checkpoint_dir = training_checkpoint_dir(fn_args)
    checkpoints = PretrainingCheckpoints(
        distribution.write_dir(checkpoint_dir, strategy),
        pretrainer,
        config.keep_checkpoints,
        config.gradient_accumulation_steps,
        restore_from=checkpoint_dir,
    )
    start_step = checkpoints.restore()
    if start_step:
        _LOG.info("Resuming pre-training at step %d from %s", start_step, checkpoint_dir)

    history = fit_for_steps(
        pretrainer,
        train.skip(int(checkpoints.input_position.numpy())),
        total_steps=config.train_steps,
        log_every_steps=config.log_every_steps,
        callbacks=_callbacks(fn_args, data, model_config, config, vocab_size, checkpoints),
        initial_step=start_step,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        verbose=0,  # TrainingProgress logs one line per logging period
        **validation,
    )
    if config.checkpoint_every_steps > 0 and checkpoints.step not in checkpoints.saved_steps:
        checkpoints.save()
    _write_json(
        os.path.join(fn_args.model_run_dir, HISTORY_FILE),
        {name: [float(v) for v in values] for name, values in history.history.items()},
    )
    _write_json(
        os.path.join(fn_args.model_run_dir, TRAINING_FILE),
        {
            "resumed_from_step": start_step,
            "final_step": checkpoints.step,
            "train_steps": config.train_steps,
            "checkpoint_dir": checkpoint_dir,
            "replicas": strategy.num_replicas_in_sync,
        },
    )
    export_encoder(pretrainer.backbone, data, vocab_path, fn_args.serving_model_dir, strategy)


def export_encoder(backbone, data: PretrainingDataConfig, vocab_path: str, serving_model_dir: str, strategy) -> None:
    """Writes the encoder checkpoint beside `serving_model_dir` and the raw-text SavedModel into it.

    Every worker saves (saving may take part in collectives); only the chief's files are kept.
    """
    encoder_checkpoint = backbone_lib.checkpoint_dir(os.path.dirname(serving_model_dir))
    backbone_lib.save_checkpoint(
        backbone, vocab_path, data.lower_case, distribution.write_dir(encoder_checkpoint, strategy)
    )
    text_encoder.export_text_encoder(
        backbone, vocab_path, data.lower_case, data.max_seq_length, distribution.write_dir(serving_model_dir, strategy)
    )
    for directory in (encoder_checkpoint, serving_model_dir):
        distribution.discard_scratch(directory, strategy)


def export_encoder_at_checkpoint(
    training_checkpoint: str, custom_config: Mapping[str, Any] | str, transform_graph_uri: str, directory: str
) -> None:
    """Writes the encoder of one of the Trainer's resumable checkpoints (`<checkpoint folder>/ckpt-<step>`) as the
    encoder checkpoint GLUE fine-tuning loads, so the encoder at any saved step can be fine-tuned, not only the
    final one the Trainer exports.

    Args:
        training_checkpoint: the checkpoint's path prefix, as `tf.train.latest_checkpoint` gives it.
        custom_config: the Trainer's `custom_config` (the run config sections `data`, `model`, `trainer`).
        transform_graph_uri: the Transform output the Trainer read (its vocabulary).
        directory: where the encoder checkpoint goes.
    """
    data = section_from(custom_config, "data", PretrainingDataConfig)
    model_config = section_from(custom_config, "model", ModelConfig)
    config = section_from(custom_config, "trainer", TrainerConfig)
    transform_output = tft.TFTransformOutput(transform_graph_uri)
    pretrainer = build_pretrainer(model_config, transform_output.vocabulary_size_by_name(features.VOCAB_FILE), config)
    pretrainer(_zero_instance(transform_output, data.max_predictions_per_seq))
    # The optimizer's slots and the input position stay in the checkpoint: only the model is read back, and every
    # weight of the model must be found there.
    tf.train.Checkpoint(model=pretrainer).restore(
        training_checkpoint
    ).assert_existing_objects_matched().expect_partial()
    backbone_lib.save_checkpoint(pretrainer.backbone, vocabulary_path(transform_output), data.lower_case, directory)


def _write_json(path: str, value) -> None:
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(value, f, indent=2)
