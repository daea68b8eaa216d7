"""The phases of pre-training: which steps each trains, on which instances, under which schedule.

One phase (the default) trains `trainer.train_steps` steps on instances of `data.max_seq_length`. With
`trainer.later_phases`, the first phase trains the steps the later ones leave, at `data.max_seq_length`, and each
later phase its `step_fraction` of them on instances of its own length, starting from the weights the phase before
ended with. The pipeline makes a Transform and a Trainer per phase (`pipeline.bert_pipeline`).

With a time budget (`trainer.time_budget_minutes`) the phases divide the budget instead: a phase ends when the
training clock, which continues from phase to phase, reaches the end of its share, and `train_steps` stays a cap
on the steps of the whole run.

Phases that continue (`warmup_steps` null) share the optimizer state and the learning-rate schedule of the phase
before: a *schedule segment* starts at the first phase and at each phase with a warm-up of its own, and spans the
continuing phases after it. Within a segment the optimizer steps count on from its start, and the rate warms up
once and decays to zero at the segment's end, so two continuing phases train with the arithmetic of one run of
their total steps, stopped and resumed between them.
"""

from __future__ import annotations

import dataclasses

from configs.run_config import PretrainingDataConfig, TrainerConfig


@dataclasses.dataclass(frozen=True)
class TrainingPhase:
    """What one phase's Trainer trains.

    Attributes:
        number: 1 for the first phase.
        count: how many phases the run has.
        start_step: the optimizer step (counted within the phase's schedule segment) the phase starts from.
        steps: the optimizer steps it trains.
        continues: whether it restores the phase before's optimizer state (else that phase's weights only).
        data: its instances' settings (the phase's lengths, the rest as `data`).
        stop_seconds: with a time budget, the training clock's seconds at which the phase ends (0: no budget).
        trainer: what it trains with: its batch size, and its segment's `train_steps` and `warmup_steps`; no
            `later_phases`, and `init_from` only in the first phase.
    """

    number: int
    count: int
    start_step: int
    steps: int
    continues: bool
    data: PretrainingDataConfig
    trainer: TrainerConfig
    stop_seconds: float = 0.0

    @property
    def stop_step(self) -> int:
        """The optimizer step the phase ends at (with a time budget, the run's cap: the clock ends the phase)."""
        return self.trainer.train_steps if self.stop_seconds else self.start_step + self.steps

    @property
    def is_last(self) -> bool:
        return self.number == self.count


def training_phases(data: PretrainingDataConfig, trainer: TrainerConfig) -> list[TrainingPhase]:
    """Every phase of a run with these (validated) settings, first to last."""
    steps = trainer.phase_steps()
    specs = [None, *trainer.later_phases]
    budget = trainer.time_budget_seconds
    shares = [1 - sum(p.step_fraction for p in trainer.later_phases), *(p.step_fraction for p in trainer.later_phases)]
    count = len(steps)
    phases = []
    segment_start = 0
    for index, spec in enumerate(specs):
        continues = spec is not None and spec.warmup_steps is None
        if index > 0 and not continues:
            segment_start = index
        segment_end = index + 1
        while segment_end < count and specs[segment_end].warmup_steps is None:
            segment_end += 1
        first = specs[segment_start]
        phase_data = data
        if spec is not None:
            phase_data = dataclasses.replace(
                data, max_seq_length=spec.max_seq_length, max_predictions_per_seq=spec.max_predictions_per_seq
            )
        phase_trainer = dataclasses.replace(
            trainer,
            # With a time budget the clock ends each phase; the step count stays the whole run's cap.
            train_steps=trainer.train_steps if budget else sum(steps[segment_start:segment_end]),
            warmup_steps=trainer.warmup_steps if first is None else first.warmup_steps,
            batch_size=spec.batch_size if spec is not None and spec.batch_size else trainer.batch_size,
            init_from=trainer.init_from if index == 0 else "",
            later_phases=[],
        )
        phases.append(
            TrainingPhase(
                number=index + 1,
                count=count,
                start_step=sum(steps[segment_start:index]),
                steps=steps[index],
                continues=continues,
                data=phase_data,
                trainer=phase_trainer,
                stop_seconds=budget * sum(shares[: index + 1]) if index < count - 1 else budget,
            )
        )
    return phases


def describe(phases: list[TrainingPhase]) -> str:
    """The phases in words, e.g. "240 steps at 64 tokens (10 predictions); then 60 steps at 128 tokens (20
    predictions), continuing the optimizer and schedule"."""
    parts = []
    for phase, before in zip(phases, [None, *phases[:-1]], strict=True):
        data = phase.data
        span = f"{phase.steps} steps"
        if phase.stop_seconds:
            share = (phase.stop_seconds - (before.stop_seconds if before else 0)) / phases[-1].stop_seconds
            span = f"{share:.0%} of the time budget"
        words = f"{span} at {data.max_seq_length} tokens ({data.max_predictions_per_seq} predictions)"
        if phase.number > 1:
            words += (
                ", continuing the optimizer and schedule"
                if phase.continues
                else f", fresh optimizer with {phase.trainer.warmup_steps} warm-up steps"
            )
        parts.append(words)
    return "; then ".join(parts)
