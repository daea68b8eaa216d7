"""One process of the exactness matrix (`test_exactness.py`): trains tiny BERTs as the Trainer does and saves
their final state.

    python -m tests.models.pretraining.exactness_run SPEC.json

The spec names a data folder (TFRecords of tiny instances, `instances.gz`, with `vocab.txt`) and a list of
runs, each: `name`, `replicas` (1: one CPU device; 2: MirroredStrategy over two logical CPUs; "workers":
MultiWorkerMirroredStrategy over the workers in TF_CONFIG), `accumulation`, `precision` ("",
"mixed_bfloat16", "mixed_float16"), `loss_scale` (an initial float16 loss scale, to force overflows),
`jit_compile`, `kill_at` (SIGKILL this process when the optimizer reaches that step: `between` steps, or
`inside` the next step, from a timer that fires while it runs), `phases` (train in the two phases of
`LATER_PHASE` as two Trainers do: the first hands its state over through `phase_state`, the second, built
afresh, restores it; run again after the first handed over, only the second trains), `time_budget` (train for
`TIME_BUDGET` instead of `train_steps`, each step timed at `STEP_SECONDS` by a clock of the harness; a worker of
a cluster times its steps `WORKER_PACE` times that, so that only their mean is `STEP_SECONDS`), `checkpoint_dir`
(a phase's checkpoints go into a folder of it) and `export` (a folder to
export the encoder to, as the Trainer does). A run with an existing checkpoint resumes.
Each run that finishes writes `<name>.npz`: every trainable weight, every optimizer variable, the step,
`batches_seen`, the training clock's seconds (`meta/clock`), the step its last phase resumed from
(`meta/restored_step`) and how many phases it trained (`meta/phases_trained`).
The input is the Trainer's own (`training_input.step_batches`: TFRecords of tf.Examples,
shuffled with the seed), the model, optimizer, loop and checkpoints too (`trainer_module.build_pretrainer`,
`train`); only the sizes are tiny.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import signal
import sys
import threading
from pathlib import Path

import tensorflow as tf

# A worker of a cluster (TF_CONFIG) starts its strategy first, as TensorFlow requires; otherwise two logical CPU
# devices, before anything else touches TensorFlow's devices.
if "TF_CONFIG" in os.environ:
    _WORKERS = tf.distribute.MultiWorkerMirroredStrategy()
else:
    _CPU = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from configs.run_config import PhaseConfig, PretrainingDataConfig, TrainerConfig  # noqa: E402
from configs.training_phases import training_phases  # noqa: E402
from models import features  # noqa: E402
from models.pretraining import distribution, phase_state, training_input  # noqa: E402
from models.pretraining.time_budget import TrainingClock  # noqa: E402
from models.pretraining.trainer_module import build_pretrainer, export_encoder, train  # noqa: E402
from models.pretraining.training_callbacks import PretrainingCheckpoints  # noqa: E402
from tests.models.tiny import MODEL, PREDICTIONS, SEQ_LENGTH, VOCAB  # noqa: E402

# What every run shares: the settings real runs use, on tiny sizes.
MODEL_WITH_DROPOUT = dataclasses.replace(MODEL, num_layers=1, dropout=0.1)  # one block: quicker to trace
STEP_BATCH = 16  # examples per optimizer step
TRAINER = TrainerConfig(
    train_steps=8,
    eval_steps=0,
    batch_size=STEP_BATCH,
    checkpoint_every_steps=2,
    learning_rate=1e-3,
    warmup_steps=2,
    optimizer="adamw",
    weight_decay=0.01,
    clip_norm=1.0,
    jit_compile=False,
    log_every_steps=4,
    keep_checkpoints=10,
    seed=7,
)
# The time-budget runs: 15 s of training with a warm-up over its first quarter, each step timed at 15/8 s by the
# harness's clock, so that they take the 8 steps of `TRAINER` with the same warm-up and decay, now in seconds.
TIME_BUDGET = {"train_steps": 100, "time_budget_minutes": 0.25, "warmup_fraction": 0.25}
STEP_SECONDS = 15 / 8
# Worker 0 times each step at 0.75 x STEP_SECONDS, worker 1 at 1.25 x (both exact in binary): on their own clocks
# they would stop after different steps (11 and 7) with different learning rates; on one clock (the mean), both
# after step 8.
WORKER_PACE = (0.75, 1.25)
DATA = PretrainingDataConfig(max_seq_length=SEQ_LENGTH, max_predictions_per_seq=PREDICTIONS)
# The `phases` runs: the last half of the steps (4 of 8) is a second phase continuing the first's optimizer and
# schedule, on the same instances so that the two phases must end where one run does. (A later phase must be
# longer: the first is declared a token shorter; both read the same SEQ_LENGTH-long instances.)
LATER_PHASE = PhaseConfig(step_fraction=0.5, max_seq_length=SEQ_LENGTH, max_predictions_per_seq=PREDICTIONS)
FEATURE_SPEC = {
    **{name: tf.io.FixedLenFeature([SEQ_LENGTH], tf.int64) for name in features.SEQUENCE_FEATURES},
    features.MASKED_LM_POSITIONS: tf.io.FixedLenFeature([PREDICTIONS], tf.int64),
    features.MASKED_LM_IDS: tf.io.FixedLenFeature([PREDICTIONS], tf.int64),
    features.MASKED_LM_WEIGHTS: tf.io.FixedLenFeature([PREDICTIONS], tf.float32),
    features.NEXT_SENTENCE_LABELS: tf.io.FixedLenFeature([], tf.int64),
}


def _strategy(replicas) -> tf.distribute.Strategy:
    if replicas == "workers":
        return _WORKERS
    if replicas == 2:
        return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    return tf.distribute.OneDeviceStrategy("/cpu:0")


class _Kill(keras.callbacks.Callback):
    """SIGKILLs this process when the optimizer reaches `step`: before the next step starts, or during it."""

    def __init__(self, step: int, where: str):
        super().__init__()
        self.step, self.where = step, where

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) != self.step:
            return
        if self.where == "between":
            os.kill(os.getpid(), signal.SIGKILL)
        # Fires as soon as this thread lets go of the interpreter, i.e. while TensorFlow runs the step.
        threading.Timer(0.0, os.kill, (os.getpid(), signal.SIGKILL)).start()


def _state(pretrainer) -> dict[str, np.ndarray]:
    # By position: variable paths carry counters of how many models the process made before.
    state = {f"weight/{i:03d}": v.numpy() for i, v in enumerate(pretrainer.trainable_variables)}
    state |= {f"optimizer/{i:03d}": np.asarray(v.numpy()) for i, v in enumerate(pretrainer.optimizer.variables)}
    state["step"] = np.asarray(pretrainer.optimizer.iterations.numpy())
    state["batches_seen"] = np.asarray(pretrainer.batches_seen.numpy())
    return state


def _harness_time():
    """Seconds that pass by `STEP_SECONDS` at every call (a worker's by its `WORKER_PACE`): each step, from its
    begin to its end, takes that long."""
    step = STEP_SECONDS
    if "TF_CONFIG" in os.environ:
        step *= WORKER_PACE[json.loads(os.environ["TF_CONFIG"])["task"]["index"]]
    ticks = itertools.count()
    return lambda: next(ticks) * step


def run(spec: dict, data_dir: Path, out_dir: Path) -> None:
    config = dataclasses.replace(
        TRAINER,
        batch_size=STEP_BATCH // spec["accumulation"],
        gradient_accumulation_steps=spec["accumulation"],
        mixed_precision=spec.get("precision", ""),
        jit_compile=spec.get("jit_compile", TRAINER.jit_compile),
        **(TIME_BUDGET if spec.get("time_budget") else {}),
    )
    directory = Path(spec["checkpoint_dir"])
    if not spec.get("phases"):
        _train(spec, config, directory, data_dir, out_dir)
        return
    first, second = training_phases(
        dataclasses.replace(DATA, max_seq_length=SEQ_LENGTH - 1),
        dataclasses.replace(config, later_phases=[LATER_PHASE]),
    )
    handed_over = directory / "phase-1-model"  # the first Trainer's Model artifact
    trained = 0
    try:
        phase_state.read_phase_end(str(handed_over))
    except FileNotFoundError:  # phase 1 has not handed over yet
        _train(
            spec,
            first.trainer,
            directory / "phase-1",
            data_dir,
            out_dir,
            stop_step=first.stop_step,
            hand_over_to=handed_over,
        )
        trained = 1
    _train(spec, second.trainer, directory / "phase-2", data_dir, out_dir, start_from=handed_over, trained=trained + 1)


def _train(
    spec: dict,
    config: TrainerConfig,
    directory: Path,
    data_dir: Path,
    out_dir: Path,
    stop_step: int | None = None,
    start_from: Path | None = None,
    hand_over_to: Path | None = None,
    trained: int = 1,
) -> None:
    """Trains as one Trainer does (a phase's, when `stop_step`, `start_from` or `hand_over_to` say so); a run's
    last Trainer writes its final state."""
    keras.utils.set_random_seed(config.seed)  # first, as run_fn does: the input's shuffle takes the global seed too
    vocab = str(data_dir / "vocab.txt")
    batches = training_input.step_batches(
        [str(data_dir / "instances.gz")], FEATURE_SPEC, config, DATA, vocab, len(VOCAB)
    )
    strategy = _strategy(spec["replicas"])
    with strategy.scope():
        clock = TrainingClock()
        objective = spec.get("objective", "mlm_nsp")
        pretrainer = build_pretrainer(MODEL_WITH_DROPOUT, len(VOCAB), config, clock, objective)
        pretrainer(next(iter(batches)))
        pretrainer.optimizer.build(pretrainer.trainable_variables)
        if spec.get("loss_scale"):
            pretrainer.optimizer.dynamic_scale.assign(spec["loss_scale"])
        start = None
        if start_from is not None:
            start = phase_state.restore_phase_end(str(start_from), pretrainer, with_optimizer=True, clock=clock)
    initial = [v.numpy() for v in pretrainer.trainable_variables]
    checkpoints = PretrainingCheckpoints(
        distribution.write_dir(str(directory), strategy),
        pretrainer,
        config.keep_checkpoints,
        restore_from=str(directory),
        clock=clock,
    )
    # A later phase reads its own input from its beginning; here that is the first phase's stream, read on.
    input_start = start.batches_seen if start else 0
    kill = [_Kill(spec["kill_at"], spec.get("kill_where", "between"))] if spec.get("kill_at") else []
    train(
        pretrainer,
        batches.skip(input_start),
        config,
        checkpoints,
        kill,
        time_source=_harness_time(),
        stop_step=stop_step,
        input_start=input_start,
        verbose=0,
    )
    if hand_over_to is not None:
        phase_state.save_phase_end(str(hand_over_to), pretrainer, "phase-1", strategy, clock)
    elif spec.get("export"):
        export_encoder(pretrainer, DATA, vocab, str(Path(spec["export"]) / "Format-Serving"), strategy)
    if hand_over_to is None and distribution.is_chief(strategy):
        moved = max(
            float(np.abs(v.numpy() - w).max()) for v, w in zip(pretrainer.trainable_variables, initial, strict=True)
        )
        meta = {
            "meta/moved": np.asarray(moved),
            "meta/clock": np.asarray(clock.elapsed),
            "meta/restored_step": np.asarray(checkpoints.restored_step or 0),
            "meta/phases_trained": np.asarray(trained),
        }
        np.savez(out_dir / f"{spec['name']}.npz", **_state(pretrainer), **meta)
    distribution.discard_scratch(str(directory), strategy)


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    for run_spec in spec["runs"]:
        run(run_spec, Path(spec["data_dir"]), Path(spec["out_dir"]))


if __name__ == "__main__":
    main(sys.argv[1])
