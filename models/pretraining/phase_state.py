"""What one pre-training phase hands the next (`configs.training_phases`): its final state, in its model artifact.

A Trainer of a phase with a phase after it writes, into its Model artifact's `training_state/` folder, a checkpoint
of the pre-trainer (weights, heads and `batches_seen`) and of its optimizer (moments, step, loss scale), and
`phase.json`: the checkpoint fingerprint of the phase (so the next phase's fingerprint covers how this state came
about), its last optimizer step and its `batches_seen`. The next phase's Trainer takes that artifact as its
`base_model` (ML Metadata links the two) and restores the weights, or weights and optimizer when it continues the
schedule. Living in the artifact rather than in the resumable-checkpoint folder, it is kept as long as the
artifact is, and a later phase killed and re-run starts again from it without running the phase before.
"""

from __future__ import annotations

import dataclasses
import json
import os

import tensorflow as tf

from configs.pipeline_contract import TRAINING_STATE_DIR
from models.pretraining import distribution

STATE_FILE = "phase.json"
_CHECKPOINT_PREFIX = "state"


@dataclasses.dataclass(frozen=True)
class PhaseEnd:
    """Where a phase ended.

    Attributes:
        fingerprint: the phase's checkpoint fingerprint (`checkpoint_fingerprint`).
        step: its last optimizer step.
        batches_seen: step batches it read (the keyed dropout's counter, which the next phase continues).
    """

    fingerprint: str
    step: int
    batches_seen: int


def state_dir(model_dir: str) -> str:
    """`<Model artifact>/training_state`."""
    return os.path.join(model_dir, TRAINING_STATE_DIR)


def save_phase_end(model_dir: str, pretrainer, fingerprint: str, strategy, clock=None) -> PhaseEnd:
    """Writes the pre-trainer's and its optimizer's state (and the training clock, when given) into
    `<model_dir>/training_state/`; only the chief's copy is kept (every worker saves: saving may take part in
    collectives)."""
    end = PhaseEnd(fingerprint, int(pretrainer.optimizer.iterations.numpy()), int(pretrainer.batches_seen.numpy()))
    directory = state_dir(model_dir)
    scratch = distribution.write_dir(directory, strategy)
    tf.io.gfile.makedirs(scratch)
    parts = {"clock": clock} if clock is not None else {}
    tf.train.Checkpoint(model=pretrainer, optimizer=pretrainer.optimizer, **parts).write(
        os.path.join(scratch, _CHECKPOINT_PREFIX)
    )
    with tf.io.gfile.GFile(os.path.join(scratch, STATE_FILE), "w") as f:
        json.dump(dataclasses.asdict(end), f, indent=2)
    distribution.discard_scratch(directory, strategy)
    return end


def read_phase_end(model_dir: str) -> PhaseEnd:
    """The `phase.json` of a phase's model artifact. Raises FileNotFoundError naming the folder when it has none (a
    model of a run without a later phase, or of an older version)."""
    path = os.path.join(state_dir(model_dir), STATE_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f"{model_dir} holds no training state ({path}): the phase before must be a Trainer of a run whose "
            "trainer.later_phases has this phase after it"
        )
    with tf.io.gfile.GFile(path) as f:
        return PhaseEnd(**json.load(f))


def restore_phase_end(model_dir: str, pretrainer, with_optimizer: bool, clock=None) -> PhaseEnd:
    """Restores the state a phase ended with into a built `pretrainer` (and its optimizer and the training `clock`,
    when `with_optimizer`: a phase that continues the one before goes on at its step and its time); every weight of
    the pre-trainer must be found. Returns where that phase ended."""
    end = read_phase_end(model_dir)
    # The Keras model tracks its optimizer, so reading the model reads the optimizer too: without it, the
    # optimizer's fresh values (zero moments, step 0, the initial loss scale) are put back after.
    fresh = None if with_optimizer else [v.numpy() for v in pretrainer.optimizer.variables]
    parts = {"clock": clock} if clock is not None and with_optimizer else {}
    checkpoint = tf.train.Checkpoint(model=pretrainer, optimizer=pretrainer.optimizer, **parts)
    checkpoint.read(os.path.join(state_dir(model_dir), _CHECKPOINT_PREFIX)).assert_existing_objects_matched()
    if fresh is not None:
        for variable, value in zip(pretrainer.optimizer.variables, fresh, strict=True):
            variable.assign(value)
    return end
