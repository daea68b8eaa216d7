"""Trainer module: the BERT pre-training `run_fn` of the TFX Trainer.

`custom_config` carries the run config sections `data`, `model` and `trainer`
(`configs.run_config.to_custom_config`); the step budget is `trainer.train_steps`, the only place
it is set, or the time budget `trainer.time_budget_minutes` (`models.pretraining.time_budget`); the objective
(`data.objective`) decides the heads. The vocabulary is the transform graph's asset named
`features.VOCAB_FILE`. Outputs:
- `serving_model_dir`: the raw-text encoder SavedModel (`models.encoder.text_encoder`);
- `<model artifact>/checkpoint/`: the encoder checkpoint GLUE fine-tuning loads (`models.encoder.backbone`);
- `model_run_dir`: TensorBoard logs, `history.json` (the metrics of every logging period) and
  `training.json` (steps, where training resumed from, the checkpoint folder).

Resuming: training checkpoints go to `<pipeline root>/Trainer/checkpoints/<fingerprint>/`, outside any
execution's output folders, where the fingerprint covers what decides the trained weights: the settings
(less those that only say how often to log or save, or how a step batch is spread over devices) and the
content of the input (`checkpoint_fingerprint`). A Trainer killed mid-run and run again (the next `bert-tfx
run` or `tfx run create`) resumes from the latest checkpoint, reads the input from where it was, and ends
with the weights the uninterrupted run would have (`bert_pretrainer`, `training_input`); a run whose result
would differ gets a folder of its own and starts from step 0. `export_encoder_at_checkpoint` writes the
encoder of any of those checkpoints in the form fine-tuning loads.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import keras
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the transform graph uses)
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from configs.pipeline_contract import (
    HISTORY_FILE,
    TENSORBOARD_DIR,
    TRAINER_CHECKPOINTS_DIR,
    TRAINER_INPUTS_FILE,
    TRAINER_PHASE_KEY,
    TRAINING_FILE,
)
from configs.run_config import ModelConfig, PretrainingDataConfig, TrainerConfig, section_from
from configs.training_phases import TrainingPhase, training_phases
from models import features
from models.encoder import backbone as backbone_lib
from models.encoder import initial_weights, text_encoder
from models.pretraining import checkpoint_fingerprint, distribution, flops, phase_state, training_input
from models.pretraining.bert_pretrainer import BertPretrainer
from models.pretraining.time_budget import TimeBudget, TrainingClock
from models.pretraining.training_callbacks import (
    CheckpointEveryNSteps,
    PretrainingCheckpoints,
    TrainingHealth,
    TrainingProgress,
)
from models.pretraining_data import objectives
from models.training.optimization import WarmupDecay, create_optimizer
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


def training_checkpoint_dir(fn_args: FnArgs, config: TrainerConfig, vocab_path: str, starts_from: str = "") -> str:
    """`<pipeline root>/<Trainer node>/checkpoints/<fingerprint of the result>` (`checkpoint_fingerprint`).

    `model_run_dir` is `<pipeline root>/<Trainer node>/model_run/<execution id>`: the folder above
    it outlives the execution. `starts_from` is the fingerprint of the phase a later phase starts from.
    """
    fingerprint = checkpoint_fingerprint.fingerprint(
        fn_args.custom_config, config, fn_args.train_files, vocab_path, starts_from
    )
    node_dir = os.path.dirname(os.path.dirname(fn_args.model_run_dir))
    return os.path.join(node_dir, TRAINER_CHECKPOINTS_DIR, fingerprint)


def phase_of(custom_config: Mapping[str, Any] | str) -> TrainingPhase:
    """The phase a Trainer with this `custom_config` trains (`configs.training_phases`; the first when the config
    names none)."""
    if isinstance(custom_config, str):
        custom_config = json.loads(custom_config)
    data = section_from(custom_config, "data", PretrainingDataConfig)
    config = section_from(custom_config, "trainer", TrainerConfig)
    phases = training_phases(data, config)
    number = custom_config.get(TRAINER_PHASE_KEY, 1)
    if not 1 <= number <= len(phases):
        raise ValueError(f"the Trainer is given phase {number}, but trainer.later_phases makes {len(phases)} phases")
    return phases[number - 1]


def learning_rate_schedule(config: TrainerConfig, clock: TrainingClock | None = None) -> WarmupDecay:
    """The pre-training learning rate: over `trainer.train_steps`, or over the seconds of `clock` when the run has
    a time budget (`trainer.time_budget_minutes`)."""
    shape = {"schedule": config.schedule, "power": config.decay_power, "decay_fraction": config.decay_fraction}
    if config.time_budget_minutes > 0:
        if clock is None:
            raise ValueError("a run with trainer.time_budget_minutes needs its training clock")
        budget = config.time_budget_seconds
        return WarmupDecay(config.learning_rate, config.warmup_fraction * budget, budget, clock=clock, **shape)
    return WarmupDecay(config.learning_rate, config.warmup_steps, config.train_steps, **shape)


def build_pretrainer(
    model_config: ModelConfig,
    vocab_size: int,
    config: TrainerConfig,
    clock: TrainingClock | None = None,
    objective: str = "mlm_nsp",
) -> BertPretrainer:
    """The compiled pre-training task of `objective` (`data.objective`; call it inside the strategy's scope).

    `clock` is the run's training clock, which a time budget's learning rate follows; a run with a time budget
    and no clock (exporting a checkpoint's weights) gets a new one.
    """
    if clock is None and config.time_budget_minutes > 0:
        clock = TrainingClock()
    # Mixed precision is the model's own dtype policy, never the process-wide one, so it cannot leak
    # into components that run later in the same process (GLUE fine-tuning under the local runner).
    dtype = config.mixed_precision or None
    pretrainer = BertPretrainer(
        backbone_lib.build_backbone(model_config, vocab_size, dtype=dtype),
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        dropout_seed=config.seed,
        next_sentence=objectives.objective(objective).next_sentence,
    )
    pretrainer.compile(
        optimizer=create_optimizer(
            config.optimizer,
            learning_rate_schedule(config, clock),
            weight_decay=config.weight_decay,
            clip_norm=config.clip_norm,
            summed_gradients=True,
        ),
        jit_compile=config.jit_compile,
    )
    return pretrainer


def _progress(phase: TrainingPhase, model_config: ModelConfig, vocab_size: int, clock):
    data, config = phase.data, phase.trainer
    sequences_per_step = training_input.step_batch_size(config)
    flops_per_sequence = flops.pretraining_flops_per_sequence(
        model_config,
        vocab_size,
        data.max_seq_length,
        data.max_predictions_per_seq,
        objectives.objective(data.objective).next_sentence,
    )
    return TrainingProgress(
        total_steps=phase.stop_step,
        sequences_per_step=sequences_per_step,
        tokens_per_sequence=data.max_seq_length,
        flops_per_step=sequences_per_step * flops_per_sequence,
        peak_flops=flops.measure_matmul_flops(),
        clock=clock,
        budget_seconds=config.time_budget_seconds,
    )


def train(
    pretrainer: BertPretrainer,
    train_batches: tf.data.Dataset,
    config: TrainerConfig,
    checkpoints: PretrainingCheckpoints,
    callbacks: list[keras.callbacks.Callback] = (),
    time_source: Callable[[], float] = time.perf_counter,
    stop_step: int | None = None,
    input_start: int = 0,
    stop_seconds: float | None = None,
    **fit_kwargs,
) -> keras.callbacks.History:
    """Trains from the restored state (or the state the pre-trainer holds) to exactly `stop_step` optimizer steps
    (`config.train_steps` when None), or, with a time budget, until the checkpoints' training clock has counted
    `config.time_budget_minutes` (at most `train_steps`).

    The input resumes at the checkpoint's position (and the clock at its time); the health check comes before the
    checkpoints, so a bad step is never saved; the final state is saved too (`checkpoint_every_steps` > 0), so a
    re-run finds it. A run that starts from `trainer.init_from` saves step 0 first. `time_source` times the steps
    for the budget (tests give their own). `input_start` is the pre-trainer's `batches_seen` when its phase began
    (a later phase continues the counter of the phase before, and reads its own input from the start);
    `stop_seconds`, with a time budget, the clock's time at which this phase stops (the whole budget when None).
    """
    if checkpoints.restore():
        _LOG.info("Resuming pre-training at step %d from %s", checkpoints.step, checkpoints.restore_from)
    elif config.init_from and config.checkpoint_every_steps > 0 and 0 not in checkpoints.saved_steps:
        checkpoints.save()  # step 0: the weights `trainer.init_from` gave, a record of where the run started
    start_step = checkpoints.step
    loss_scaled = isinstance(pretrainer.optimizer, keras.optimizers.LossScaleOptimizer)
    every = [TrainingHealth(checkpoints, loss_scaled)]
    if checkpoints.clock is not None:
        seconds = config.time_budget_seconds if stop_seconds is None else stop_seconds
        budget = TimeBudget(checkpoints.clock, seconds, time_source, pretrainer.distribute_strategy)
        if budget.spent:
            _LOG.info("The time budget was spent by step %d: nothing left to train", start_step)
            return keras.callbacks.History()
        every.append(budget)  # before the checkpoints: a checkpoint holds the time of its steps
    elif config.time_budget_minutes > 0:
        raise ValueError("a run with trainer.time_budget_minutes needs checkpoints that keep its training clock")
    if config.checkpoint_every_steps > 0:
        every.append(CheckpointEveryNSteps(checkpoints, config.checkpoint_every_steps))
    history = fit_for_steps(
        pretrainer,
        train_batches.skip(checkpoints.input_position - input_start),
        total_steps=config.train_steps if stop_step is None else stop_step,
        log_every_steps=config.log_every_steps,
        callbacks=[*every, *callbacks],
        initial_step=start_step,
        steps_may_be_skipped=loss_scaled,
        **fit_kwargs,
    )
    if config.checkpoint_every_steps > 0 and checkpoints.step not in checkpoints.saved_steps:
        checkpoints.save()
    return history


def run_fn(fn_args: FnArgs) -> None:
    """Pre-trains BERT on the transformed examples (resuming if it can) and exports the encoder.

    The Trainer of a later phase (`custom_config["phase"]` > 1, `configs.training_phases`) starts from the state its
    `base_model`, the phase before's model, ended with (`models.pretraining.phase_state`); a Trainer with a phase
    after it leaves its final state in its model for that one.
    """
    phase = phase_of(fn_args.custom_config)
    data, config = phase.data, phase.trainer
    model_config = section_from(fn_args.custom_config, "model", ModelConfig)
    keras.utils.set_random_seed(config.seed)
    strategy = distribution.strategy_for(config.strategy)

    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    feature_spec = transform_output.transformed_feature_spec()
    vocab_path = vocabulary_path(transform_output)
    vocab_size = transform_output.vocabulary_size_by_name(features.VOCAB_FILE)
    inputs = (config, data, vocab_path, vocab_size)
    train_batches = training_input.step_batches(fn_args.train_files, feature_spec, *inputs)
    validation = {}
    if config.eval_steps > 0:
        validation_data = training_input.validation_batches(fn_args.eval_files, feature_spec, *inputs)
        validation = {"validation_data": validation_data, "validation_steps": config.eval_steps}

    with strategy.scope():
        clock = TrainingClock()  # seconds of training, saved with every checkpoint
        pretrainer = build_pretrainer(model_config, vocab_size, config, clock, data.objective)
        # Creates the weights, so that a checkpoint can be restored.
        pretrainer(_zero_instance(transform_output, data.max_predictions_per_seq))
        pretrainer.optimizer.build(pretrainer.trainable_variables)
        if config.init_from:  # a checkpoint of this run, when there is one, is restored over it below
            initialise_from(pretrainer, config.init_from, vocab_path)
        start = start_from_phase_before(phase, pretrainer, fn_args.base_model, clock)  # likewise
    run_trainer = section_from(fn_args.custom_config, "trainer", TrainerConfig)
    checkpoint_dir = training_checkpoint_dir(fn_args, run_trainer, vocab_path, start.fingerprint if start else "")
    scratch = distribution.write_dir(checkpoint_dir, strategy)
    checkpoints = PretrainingCheckpoints(
        scratch, pretrainer, config.keep_checkpoints, restore_from=checkpoint_dir, clock=clock
    )
    # What `export_encoder_at_checkpoint` needs besides a checkpoint, so a killed run's checkpoints export too.
    _write_json(
        os.path.join(scratch, TRAINER_INPUTS_FILE),
        {"custom_config": fn_args.custom_config, "transform_graph": fn_args.transform_output},
    )
    try:
        callbacks = [
            _progress(phase, model_config, vocab_size, clock),
            keras.callbacks.TensorBoard(log_dir=os.path.join(fn_args.model_run_dir, TENSORBOARD_DIR)),
        ]
        history = train(
            pretrainer,
            train_batches,
            config,
            checkpoints,
            callbacks,
            stop_step=phase.stop_step,
            input_start=start.batches_seen if start else 0,
            stop_seconds=phase.stop_seconds or None,
            verbose=0,
            **validation,
        )
        export_encoder(pretrainer, data, vocab_path, fn_args.serving_model_dir, strategy)
        if not phase.is_last:
            model_dir = os.path.dirname(fn_args.serving_model_dir)
            phase_state.save_phase_end(model_dir, pretrainer, os.path.basename(checkpoint_dir), strategy, clock)
    finally:  # what another worker than the chief wrote goes, whether the run finished or failed
        encoder_checkpoint = backbone_lib.checkpoint_dir(os.path.dirname(fn_args.serving_model_dir))
        for directory in (checkpoint_dir, encoder_checkpoint, fn_args.serving_model_dir):
            distribution.discard_scratch(directory, strategy)
    _write_json(
        os.path.join(fn_args.model_run_dir, HISTORY_FILE),
        {name: [float(v) for v in values] for name, values in history.history.items()},
    )
    _write_json(os.path.join(fn_args.model_run_dir, TRAINING_FILE), _training_record(phase, checkpoints, strategy))


def start_from_phase_before(
    phase: TrainingPhase, pretrainer: BertPretrainer, base_model: str | None, clock: TrainingClock | None = None
):
    """Restores the state the phase before ended with (`phase_state`) into a later phase's pre-trainer (and, when it
    continues, the training clock), from its model (`base_model`, the TFX Trainer's path of its serving model);
    returns where that phase ended, or None for the first phase."""
    if phase.number == 1:
        return None
    model_dir = os.path.dirname(base_model)
    start = phase_state.restore_phase_end(model_dir, pretrainer, with_optimizer=phase.continues, clock=clock)
    _LOG.info(
        "Phase %d of %d starts from the state phase %d ended with at step %d%s",
        phase.number,
        phase.count,
        phase.number - 1,
        start.step,
        "" if phase.continues else " (its weights; fresh optimizer state)",
    )
    return start


def _training_record(phase: TrainingPhase, checkpoints: PretrainingCheckpoints, strategy) -> dict[str, Any]:
    """`training.json`: the steps the execution trained, of which phase, where it resumed from, its checkpoints."""
    return {
        "resumed_from_step": checkpoints.restored_step,
        "final_step": checkpoints.step,
        "train_steps": phase.trainer.train_steps,
        "phase": phase.number,
        "phases": phase.count,
        "phase_start_step": phase.start_step,
        "phase_stop_step": phase.stop_step,
        "phase_stop_seconds": phase.stop_seconds,
        "max_seq_length": phase.data.max_seq_length,
        "training_seconds": checkpoints.clock.elapsed,
        "time_budget_minutes": phase.trainer.time_budget_minutes,
        "checkpoint_dir": checkpoints.restore_from,
        "replicas": strategy.num_replicas_in_sync,
    }


def initialise_from(pretrainer: BertPretrainer, init_from: str, vocab_path: str) -> None:
    """Assigns the weights of `init_from` (`models.encoder.initial_weights`) to the pre-trainer: the encoder, and
    the heads the source has."""
    heads = initial_weights.load_initial_weights(init_from, pretrainer.backbone, vocab_path)
    own = pretrainer.head_variables()
    pretrainer.set_head_weights({name: value for name, value in heads.items() if name in own})
    kept = [name for name in own if name not in heads]
    left = [name for name in heads if name not in own]
    _LOG.info(
        "Pre-training starts from the weights of %s (the encoder%s%s)",
        init_from,
        "; freshly initialised: " + ", ".join(kept) if kept else " and its heads",
        "; not used (this objective has no such head): " + ", ".join(left) if left else "",
    )


def export_encoder(
    pretrainer: BertPretrainer, data: PretrainingDataConfig, vocab_path: str, serving_model_dir: str, strategy
) -> None:
    """Writes the encoder checkpoint (with the pre-training heads) beside `serving_model_dir` and the raw-text
    SavedModel into it.

    Every worker saves (saving may take part in collectives); only the chief's files are kept.
    """
    encoder_checkpoint = backbone_lib.checkpoint_dir(os.path.dirname(serving_model_dir))
    backbone_lib.save_checkpoint(
        pretrainer.backbone,
        vocab_path,
        data.lower_case,
        distribution.write_dir(encoder_checkpoint, strategy),
        heads=pretrainer.head_weights(),
    )
    text_encoder.export_text_encoder(
        pretrainer.backbone,
        vocab_path,
        data.lower_case,
        data.max_seq_length,
        distribution.write_dir(serving_model_dir, strategy),
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
    phase = phase_of(custom_config)
    data, config = phase.data, phase.trainer
    model_config = section_from(custom_config, "model", ModelConfig)
    transform_output = tft.TFTransformOutput(transform_graph_uri)
    pretrainer = build_pretrainer(
        model_config,
        transform_output.vocabulary_size_by_name(features.VOCAB_FILE),
        config,
        objective=data.objective,
    )
    pretrainer(_zero_instance(transform_output, data.max_predictions_per_seq))
    # The optimizer's slots and the input position stay in the checkpoint: only the model is read back, and every
    # weight of the model must be found there.
    tf.train.Checkpoint(model=pretrainer).restore(
        training_checkpoint
    ).assert_existing_objects_matched().expect_partial()
    backbone_lib.save_checkpoint(
        pretrainer.backbone,
        vocabulary_path(transform_output),
        data.lower_case,
        directory,
        heads=pretrainer.head_weights(),
    )


def _write_json(path: str, value) -> None:
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(value, f, indent=2)
