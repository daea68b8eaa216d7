"""The typed run configuration: one tree of dataclasses, each section validating itself.

Overrides use dotted keys into the tree (`trainer.train_steps=500`); unknown keys and values of the wrong type
are rejected (`configs.strict_dataclasses`), a renamed key names its new name (`RENAMED_KEYS`), and the result
is validated. The resolved config travels with the pipeline: each component gets the sections it needs
through `to_custom_config` and rebuilds them with `section_from`, which is as strict as the command line (a
missing or unknown key fails with the same message). Presets live in `configs.presets`.

This package is a leaf: it imports nothing of ours, so every layer (models, components, pipeline) may
import it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from configs import glue_tasks
from configs.strict_dataclasses import apply_overrides as _apply_overrides
from configs.strict_dataclasses import check, from_dict

# trainer.strategy values (TPUs: see README, "Pre-training for real").
STRATEGIES = ("default", "mirrored", "multi_worker")
OPTIMIZERS = ("adamw", "lamb")
MIXED_PRECISION_POLICIES = ("", "mixed_float16", "mixed_bfloat16")
# Pre-training objectives (`models.pretraining_data.objectives` registers what each builds and trains), with what
# they train in the report's words.
OBJECTIVES = {
    "mlm_nsp": "masked LM + next-sentence prediction (BERT)",
    "mlm": "masked LM over full sentences packed across documents (RoBERTa)",
}
# Shapes of the learning rate's decay after warm-up (`models.training.optimization.WarmupDecay`).
LEARNING_RATE_SCHEDULES = ("linear", "cosine", "polynomial", "constant_then_decay")
ON_BAD_BYTES = ("fail", "replace", "skip_line")

# Config keys that were renamed: the old key's error names the new one.
RENAMED_KEYS = {
    "trainer.grad_accum_steps": "trainer.gradient_accumulation_steps",
    "glue.learning_rate": "glue.learning_rates",
}


def _check_fractions(section: str, values: dict[str, float]) -> None:
    for key, value in values.items():
        check(0 <= value <= 1, f"{section}.{key}={value} must be in [0, 1]")


def _check_positive(section: str, values: dict[str, float]) -> None:
    for key, value in values.items():
        check(value > 0, f"{section}.{key}={value} must be positive")


def _check_non_negative(section: str, values: dict[str, float]) -> None:
    for key, value in values.items():
        check(value >= 0, f"{section}.{key}={value} must be 0 or more")


@dataclasses.dataclass
class CorpusConfig:
    """Raw corpus ingestion (TextExampleGen).

    Attributes:
        input_pattern: glob, relative to the corpus directory, of the files to read. Plain text,
            JSON Lines (`{"text": ...}`) and WikiExtractor `<doc>` dumps, each optionally gzip or bzip2
            compressed, are recognised per file by content.
        eval_buckets: hash buckets (out of `train_buckets + eval_buckets`) that go to the eval split.
        train_buckets: hash buckets that go to the train split.
        min_document_chars: documents shorter than this after cleaning are dropped.
        on_bad_bytes: a line of invalid UTF-8: "fail" (the error names file and line), "replace" (the
            bad bytes become U+FFFD) or "skip_line".
        documents_per_group: documents per TextExampleGen record, about; random next sentences come
            from the other documents of a group.
    """

    input_pattern: str = "*"
    train_buckets: int = 19
    eval_buckets: int = 1
    min_document_chars: int = 200
    on_bad_bytes: str = "fail"
    documents_per_group: int = 64

    def validate(self) -> None:
        """Raises ValueError naming the first setting out of its range."""
        _check_positive("corpus", {"train_buckets": self.train_buckets, "eval_buckets": self.eval_buckets})
        _check_non_negative("corpus", {"min_document_chars": self.min_document_chars})
        check(
            self.on_bad_bytes in ON_BAD_BYTES,
            f"corpus.on_bad_bytes={self.on_bad_bytes!r} must be 'fail', 'replace' or 'skip_line'",
        )
        check(
            self.documents_per_group >= 2,
            f"corpus.documents_per_group={self.documents_per_group} must be at least 2 (random next "
            "sentences come from the other documents of a group)",
        )


@dataclasses.dataclass
class PretrainingDataConfig:
    """Vocabulary learning and pre-training example construction (Transform).

    Attributes:
        vocab_size: size of the learned WordPiece vocabulary, special tokens included.
        max_alphabet: distinct characters the vocabulary keeps (rarer ones become [UNK]).
        lower_case: lower-case and strip accents before tokenizing (an uncased model).
        max_seq_length: tokens per instance, [CLS] and [SEP]s included.
        max_predictions_per_seq: masked-LM targets per instance at most.
        masked_lm_prob: share of real tokens selected for prediction.
        mask_token_rate: share of selected tokens replaced by [MASK].
        random_token_rate: share of selected tokens replaced by a random token (the rest stay).
        objective: "mlm_nsp" (BERT: pairs of segments, masked LM + next-sentence prediction) or "mlm" (RoBERTa's
            FULL-SENTENCES: contiguous sentences packed up to the length across document boundaries, a [SEP]
            between documents, masked LM only, no next-sentence head).
        short_seq_prob: share of instances cut to a random shorter length, as in the original BERT data.
        next_sentence_random_prob: share of instances whose second segment comes from another document ("mlm_nsp").
        dupe_factor: times each document is used, each time packed and masked differently.
        whole_word_masking: choose masked-LM targets by whole words (a word and its `##` pieces); a word that
            would overrun the budget is skipped and later words are tried, as in BERT's script.
        dynamic_masking: Transform writes unmasked instances and the Trainer draws new masks each time
            it reads one (RoBERTa); `dupe_factor` 1 is then enough.
        seed: seeds every random choice of the instances (hashed with each document's id and copy).
        groups_per_batch: TextExampleGen records (groups of documents) Transform processes together.
        vocab_file: "" (learn the vocabulary from the corpus), or a WordPiece vocabulary file (one token per line,
            [PAD] [UNK] [CLS] [SEP] [MASK] on its first five lines) Transform uses instead, e.g. the `vocab.txt` of
            the model `trainer.init_from` continues; `vocab_size` and `max_alphabet` then do not apply.
    """

    vocab_size: int = 30522
    max_alphabet: int = 1000
    lower_case: bool = True
    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    objective: str = "mlm_nsp"
    masked_lm_prob: float = 0.15
    mask_token_rate: float = 0.8
    random_token_rate: float = 0.1
    short_seq_prob: float = 0.1
    next_sentence_random_prob: float = 0.5
    dupe_factor: int = 1
    whole_word_masking: bool = False
    dynamic_masking: bool = False
    seed: int = 12345
    groups_per_batch: int = 2
    vocab_file: str = ""

    def validate(self) -> None:
        """Raises ValueError naming the first setting out of its range."""
        check(
            self.objective in OBJECTIVES,
            f"data.objective={self.objective!r} must be one of {', '.join(OBJECTIVES)}",
        )
        check(0 < self.masked_lm_prob < 1, f"data.masked_lm_prob={self.masked_lm_prob} must be in (0, 1)")
        _check_fractions(
            "data",
            {
                "mask_token_rate": self.mask_token_rate,
                "random_token_rate": self.random_token_rate,
                "short_seq_prob": self.short_seq_prob,
                "next_sentence_random_prob": self.next_sentence_random_prob,
            },
        )
        check(
            self.mask_token_rate + self.random_token_rate <= 1,
            "data.mask_token_rate + data.random_token_rate must be at most 1",
        )
        check(
            0 < self.max_predictions_per_seq < self.max_seq_length,
            f"data.max_predictions_per_seq={self.max_predictions_per_seq} must be in "
            f"(0, data.max_seq_length={self.max_seq_length})",
        )
        check(self.vocab_size > 100, f"data.vocab_size={self.vocab_size} must be above 100")
        _check_positive("data", {"max_alphabet": self.max_alphabet})
        check(self.groups_per_batch >= 1, f"data.groups_per_batch={self.groups_per_batch} must be 1 or more")
        check(self.dupe_factor >= 1, f"data.dupe_factor={self.dupe_factor} must be at least 1")


@dataclasses.dataclass
class BeamConfig:
    """Apache Beam options of the data components (TextExampleGen, StatisticsGen, SchemaGen, Transform,
    GlueExampleGen, Evaluator).

    Attributes:
        args: Beam pipeline options, added after the runner's own defaults (a later option wins), e.g.
            `["--runner=DataflowRunner", "--project=P", "--region=R", "--temp_location=gs://B/tmp"]`; README
            ("Pre-training data", "Beyond one machine") lists the options of Dataflow, Flink and Spark.
        step_args: Beam options of single steps, by node id, added after `args` (so they win), e.g. bigger
            Dataflow workers for Transform alone: `{"Transform": ["--worker_machine_type=n1-highmem-8"]}`.
    """

    args: list[str] = dataclasses.field(default_factory=list)
    step_args: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        """Raises ValueError for an argument that is not a `--name=value` option."""
        named = {"beam.args": self.args, **{f"beam.step_args[{step!r}]": a for step, a in self.step_args.items()}}
        for name, args in named.items():
            malformed = [a for a in args if not a.startswith("--")]
            check(not malformed, f"{name} must be options of the form --name=value; got {malformed}")


@dataclasses.dataclass
class ModelConfig:
    """BERT encoder shape (keras-hub BertBackbone).

    Attributes:
        num_layers: transformer blocks.
        hidden_dim: width of the hidden states.
        num_heads: attention heads; must divide `hidden_dim`.
        intermediate_dim: width of the feed-forward layer.
        dropout: dropout rate inside the encoder.
        max_position_embeddings: longest sequence the position embedding covers.
    """

    num_layers: int = 12
    hidden_dim: int = 768
    num_heads: int = 12
    intermediate_dim: int = 3072
    dropout: float = 0.1
    max_position_embeddings: int = 512

    def validate(self) -> None:
        """Raises ValueError naming the first setting out of its range."""
        _check_positive(
            "model",
            {
                "num_layers": self.num_layers,
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "max_position_embeddings": self.max_position_embeddings,
            },
        )
        check(
            self.hidden_dim % self.num_heads == 0,
            f"model.hidden_dim={self.hidden_dim} is not divisible by model.num_heads={self.num_heads}",
        )
        _check_fractions("model", {"dropout": self.dropout})


@dataclasses.dataclass
class PhaseConfig:
    """A later phase of pre-training: longer instances, starting from the weights the phase before ended with
    (BERT's phase 2: the last 10% of the steps at 512 tokens, so that positions 128-511 are trained at all).

    Attributes:
        step_fraction: the share of `trainer.train_steps` this phase trains (with `trainer.time_budget_minutes`, the
            share of the budget); the first phase trains what the later ones leave.
        max_seq_length: tokens per instance in this phase (the first phase's is `data.max_seq_length`).
        max_predictions_per_seq: masked-LM targets per instance at most, in this phase.
        batch_size: instances per micro-batch in this phase, or None (`null`) for `trainer.batch_size`.
        warmup_steps: None (`null`): the phase continues the previous phase's optimizer state and learning-rate
            schedule (one warm-up and one decay over the phases it spans, as in the BERT paper); a number: the phase
            starts with fresh optimizer state, warms up over that many steps and decays to zero over its own steps
            (NVIDIA's recipe); the phases before it then decay to zero by their own end. With a time budget, phases
            continue (null).
    """

    step_fraction: float = 0.1
    max_seq_length: int = 512
    max_predictions_per_seq: int = 80
    batch_size: int | None = None
    warmup_steps: int | None = None

    def validate(self, key: str) -> None:
        """Raises ValueError naming the first setting out of its range; `key` names the phase in the messages."""
        check(0 < self.step_fraction < 1, f"{key}.step_fraction={self.step_fraction} must be in (0, 1)")
        check(
            0 < self.max_predictions_per_seq < self.max_seq_length,
            f"{key}.max_predictions_per_seq={self.max_predictions_per_seq} must be in "
            f"(0, {key}.max_seq_length={self.max_seq_length})",
        )
        check(
            self.batch_size is None or self.batch_size > 0,
            f"{key}.batch_size={self.batch_size} must be positive, or null for trainer.batch_size",
        )
        check(
            self.warmup_steps is None or self.warmup_steps >= 0,
            f"{key}.warmup_steps={self.warmup_steps} must be 0 or more, or null to continue the phase before",
        )


@dataclasses.dataclass
class TrainerConfig:
    """Pre-training loop (Trainer).

    Attributes:
        train_steps: optimizer steps (updates of the weights).
        eval_steps: batches of the eval split evaluated every logging period; 0 disables evaluation.
        batch_size: instances per micro-batch, over all replicas; one optimizer step sees
            `batch_size * gradient_accumulation_steps` instances.
        gradient_accumulation_steps: micro-batches whose averaged gradients make one optimizer step (1: none).
        strategy: tf.distribute strategy: "default" (one device), "mirrored" (all local GPUs, or
            CPUs), "multi_worker" (MultiWorkerMirroredStrategy over the workers in TF_CONFIG).
        init_from: "" (fresh weights), or a folder whose weights pre-training continues from: a Hugging Face BERT
            (`config.json` + `model.safetensors`), a keras-hub BertBackbone preset, or an earlier run's Trainer model,
            encoder checkpoint or ExportedEncoder. Its vocabulary must be this run's (see `data.vocab_file`).
        checkpoint_every_steps: optimizer steps between checkpoints of model, optimizer and input
            position; a re-run of the same Trainer (same config, same input data) resumes from the
            last one. 0 disables checkpoints.
        learning_rate: peak learning rate, reached at the end of warm-up.
        warmup_steps: linear warm-up steps; the rate then decays to zero at `train_steps`.
        schedule: the decay's shape: "linear" (BERT), "cosine", "polynomial" (`(1 - progress) ** decay_power`,
            Model Garden's) or "constant_then_decay" (the peak rate until the last `decay_fraction` of the
            training after warm-up, then linearly to zero).
        decay_power: the power of the "polynomial" schedule.
        decay_fraction: the share of the training after warm-up that "constant_then_decay" spends decaying.
        time_budget_minutes: 0 (the step count governs), or minutes of training: warm-up and decay then follow
            the training time spent instead of the step count, training stops when the budget is spent (or at
            `train_steps`, whichever comes first), and a resumed run goes on from the time its checkpoint had
            used (`models.pretraining.time_budget`).
        warmup_fraction: with `time_budget_minutes`, the share of the budget spent warming up (instead of
            `warmup_steps`).
        optimizer: "adamw" or "lamb".
        weight_decay: decoupled weight decay (not applied to biases and LayerNorm).
        clip_norm: global gradient-norm clip; 0 disables it.
        mixed_precision: "" (float32), "mixed_float16" or "mixed_bfloat16".
        jit_compile: compile the train step with XLA.
        log_every_steps: steps between metric logs, validation and TensorBoard summaries.
        keep_checkpoints: how many of the latest checkpoints to keep.
        seed: random seed for initialisation and shuffling.
        later_phases: phases after the first, each on longer instances (`PhaseConfig`); [] trains one phase at
            `data.max_seq_length`. Each phase is a Transform and a Trainer of its own in the pipeline
            (`configs.training_phases`).
    """

    train_steps: int = 1000
    eval_steps: int = 20
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    strategy: str = "default"
    init_from: str = ""
    checkpoint_every_steps: int = 1000
    learning_rate: float = 1e-4
    warmup_steps: int = 100
    schedule: str = "linear"
    decay_power: float = 1.0
    decay_fraction: float = 0.1
    time_budget_minutes: float = 0.0
    warmup_fraction: float = 0.0
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    mixed_precision: str = ""
    jit_compile: bool = True
    log_every_steps: int = 100
    keep_checkpoints: int = 3
    seed: int = 42
    later_phases: list[PhaseConfig] = dataclasses.field(default_factory=list)

    def phase_steps(self) -> list[int]:
        """Optimizer steps of each phase: the later phases' `step_fraction` of `train_steps` (rounded), the first
        phase the rest."""
        later = [round(phase.step_fraction * self.train_steps) for phase in self.later_phases]
        return [self.train_steps - sum(later), *later]

    @property
    def time_budget_seconds(self) -> float:
        """`time_budget_minutes` in seconds (0: no time budget)."""
        return 60.0 * self.time_budget_minutes

    def validate(self) -> None:
        """Raises ValueError naming the first setting out of its range."""
        _check_positive(
            "trainer",
            {
                "train_steps": self.train_steps,
                "batch_size": self.batch_size,
                "learning_rate": self.learning_rate,
                "log_every_steps": self.log_every_steps,
            },
        )
        _check_non_negative("trainer", {"weight_decay": self.weight_decay, "clip_norm": self.clip_norm})
        check(self.optimizer in OPTIMIZERS, f"trainer.optimizer={self.optimizer!r} must be 'adamw' or 'lamb'")
        check(
            self.strategy in STRATEGIES,
            f"trainer.strategy={self.strategy!r} must be one of {', '.join(STRATEGIES)}",
        )
        check(
            self.gradient_accumulation_steps >= 1,
            f"trainer.gradient_accumulation_steps={self.gradient_accumulation_steps} must be 1 or more",
        )
        check(
            self.checkpoint_every_steps >= 0,
            f"trainer.checkpoint_every_steps={self.checkpoint_every_steps} must be 0 (no checkpoints) or more",
        )
        check(self.keep_checkpoints >= 1, f"trainer.keep_checkpoints={self.keep_checkpoints} must be 1 or more")
        check(
            self.mixed_precision in MIXED_PRECISION_POLICIES,
            f"trainer.mixed_precision={self.mixed_precision!r} must be '', 'mixed_float16' or 'mixed_bfloat16'",
        )
        check(
            0 <= self.warmup_steps <= self.train_steps,
            f"trainer.warmup_steps={self.warmup_steps} must be within [0, trainer.train_steps={self.train_steps}]",
        )
        check(self.eval_steps >= 0, f"trainer.eval_steps={self.eval_steps} must be 0 (no evaluation) or more")
        check(0 <= self.seed < 2**32, f"trainer.seed={self.seed} must be in [0, 2**32) (NumPy's seeds)")
        check(
            self.schedule in LEARNING_RATE_SCHEDULES,
            f"trainer.schedule={self.schedule!r} must be one of {', '.join(LEARNING_RATE_SCHEDULES)}",
        )
        _check_positive("trainer", {"decay_power": self.decay_power})
        check(0 < self.decay_fraction <= 1, f"trainer.decay_fraction={self.decay_fraction} must be in (0, 1]")
        _check_non_negative("trainer", {"time_budget_minutes": self.time_budget_minutes})
        check(0 <= self.warmup_fraction < 1, f"trainer.warmup_fraction={self.warmup_fraction} must be in [0, 1)")
        for number, phase in enumerate(self.later_phases, start=2):
            phase.validate(f"trainer.later_phases[{number - 2}]")
        later_fraction = sum(phase.step_fraction for phase in self.later_phases)
        check(
            later_fraction < 1,
            f"trainer.later_phases take {later_fraction:g} of trainer.train_steps together; the first phase needs "
            "some steps too (their step_fraction must add up to less than 1)",
        )
        check(
            self.phase_steps()[0] >= 1,
            f"trainer.later_phases leave no step of trainer.train_steps={self.train_steps} to the first phase",
        )
        for number, (steps, phase) in enumerate(zip(self.phase_steps()[1:], self.later_phases, strict=True), start=2):
            key = f"trainer.later_phases[{number - 2}]"
            check(
                steps >= 1,
                f"{key}.step_fraction={phase.step_fraction} of trainer.train_steps={self.train_steps} is no step",
            )
            check(
                phase.warmup_steps is None or phase.warmup_steps <= steps,
                f"{key}.warmup_steps={phase.warmup_steps} must be within the phase's {steps} steps",
            )
        own_warmup = [i for i, phase in enumerate(self.later_phases) if phase.warmup_steps is not None]
        check(
            not (own_warmup and self.time_budget_minutes > 0),
            f"trainer.later_phases[{own_warmup[0] if own_warmup else 0}].warmup_steps must be null with "
            "trainer.time_budget_minutes: with a time budget the phases share one warm-up and decay over the budget",
        )
        if self.time_budget_minutes == 0:
            check(
                self.warmup_fraction == 0,
                f"trainer.warmup_fraction={self.warmup_fraction} needs trainer.time_budget_minutes; "
                "without a time budget warm-up is trainer.warmup_steps",
            )


@dataclasses.dataclass
class GlueConfig:
    """GLUE fine-tuning and gating (GlueExampleGen, GlueFineTune, Evaluator, Pusher).

    Attributes:
        tasks: GLUE task names, as in `configs.glue_tasks.TASKS`.
        max_seq_length: tokens per sentence (pair), [CLS] and [SEP]s included.
        batch_size: examples per step.
        train_steps: fine-tuning steps per run, or None (`null` on the command line) to train
            for `epochs` passes over the train split.
        epochs: passes over the train split when `train_steps` is None.
        learning_rates: peak learning rates to try; each is tried with every seed of `seeds`.
        seeds: fine-tuning trials per task and learning rate, one per seed: the report shows the median and
            range over the trials, and the trial best on dev (by the mean of the task's official metrics) is
            the task's model, as the BERT paper chose for small tasks.
        warmup_proportion: share of the steps spent warming up; the rate then decays linearly to 0.
        weight_decay: decoupled weight decay (not applied to biases and LayerNorm).
        clip_norm: global gradient-norm clip; 0 disables it.
        log_every_steps: steps between metric logs.
        dropout: dropout on the pooled output before the task head.
        constant_margin: the Evaluator blesses a model only where, for each official metric, the lower
            confidence bound (at `confidence`) of its lead over the best constant predictor on the same dev set
            (majority class; for STS-B's correlations 0) is at least this much.
        confidence: the one-sided level of that bound, from `bootstrap_samples` resamples of the dev examples.
        bootstrap_samples: resamples of the dev set behind the confidence bound.
        bootstrap_seed: seeds the resamples, so the same answers get the same bound.
        bounds: explicit lower bounds per task and official metric (`{"mrpc": {"f1": 0.85}}`), gated besides the
            evidence over the constant predictor (not instead of it).
        max_drop: how much lower than the task's last blessed model an official metric may be.
    """

    tasks: list[str] = dataclasses.field(default_factory=lambda: ["sst2", "mrpc"])
    max_seq_length: int = 128
    batch_size: int = 32
    train_steps: int | None = None
    epochs: int = 3
    learning_rates: list[float] = dataclasses.field(default_factory=lambda: [2e-5])
    seeds: list[int] = dataclasses.field(default_factory=lambda: [42])
    warmup_proportion: float = 0.1
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    log_every_steps: int = 100
    dropout: float = 0.1
    constant_margin: float = 0.01
    confidence: float = 0.95
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0
    bounds: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    max_drop: float = 0.01

    def validate(self) -> None:
        """Raises ValueError naming the first setting out of its range, an unknown task or metric."""
        unknown = [t for t in self.tasks if t not in glue_tasks.TASKS]
        check(not unknown, f"glue.tasks has unknown tasks {unknown}; known: {sorted(glue_tasks.TASKS)}")
        _check_positive(
            "glue", {"batch_size": self.batch_size, "log_every_steps": self.log_every_steps, "epochs": self.epochs}
        )
        _check_non_negative("glue", {"weight_decay": self.weight_decay, "clip_norm": self.clip_norm})
        _check_fractions("glue", {"dropout": self.dropout, "warmup_proportion": self.warmup_proportion})
        check(
            self.train_steps is None or self.train_steps > 0,
            f"glue.train_steps={self.train_steps} must be positive, or null to train for glue.epochs",
        )
        check(bool(self.seeds), "glue.seeds must name at least one seed")
        check(all(0 <= seed < 2**32 for seed in self.seeds), f"glue.seeds={self.seeds} must be in [0, 2**32)")
        check(len(set(self.seeds)) == len(self.seeds), f"glue.seeds={self.seeds} repeats a seed")
        check(bool(self.learning_rates), "glue.learning_rates must name at least one learning rate")
        check(
            all(rate > 0 for rate in self.learning_rates),
            f"glue.learning_rates={self.learning_rates} must be positive",
        )
        check(
            0 < self.constant_margin < 1,
            f"glue.constant_margin={self.constant_margin} must be in (0, 1): at 0 a constant model would pass",
        )
        check(self.max_drop >= 0, f"glue.max_drop={self.max_drop} must be 0 or more")
        check(0.5 <= self.confidence < 1, f"glue.confidence={self.confidence} must be in [0.5, 1)")
        check(self.bootstrap_samples >= 100, f"glue.bootstrap_samples={self.bootstrap_samples} must be 100 or more")
        for task, bounds in self.bounds.items():
            check(
                task in glue_tasks.TASKS, f"glue.bounds names unknown task {task!r}; known: {sorted(glue_tasks.TASKS)}"
            )
            metrics = glue_tasks.TASKS[task].metrics
            wrong = sorted(set(bounds) - set(metrics))
            check(not wrong, f"glue.bounds.{task} names {wrong}; the official metrics of {task} are {list(metrics)}")
            for metric, bound in bounds.items():
                low = glue_tasks.METRIC_RANGES[metric][0]
                check(
                    low < bound <= 1,
                    f"glue.bounds.{task}.{metric}={bound} must be in ({low}, 1]: {metric} never exceeds 1, so a bound "
                    "above it is a gate nothing passes",
                )


@dataclasses.dataclass
class StepResources:
    """What one Kubeflow Pipelines step asks its cluster for.

    Attributes:
        cpu: CPU cores requested.
        memory_gib: memory requested, in GiB.
        gpus: GPUs asked for (a Kubernetes limit); 0 for none.
    """

    cpu: float = 1.0
    memory_gib: float = 4.0
    gpus: int = 0

    def validate(self, name: str) -> None:
        """Raises ValueError naming the step `kubeflow.<name>` whose requests are out of range."""
        check(
            self.cpu > 0 and self.memory_gib > 0 and self.gpus >= 0,
            f"kubeflow.{name} asks for cpu={self.cpu}, memory_gib={self.memory_gib}, gpus={self.gpus}; "
            "cpu and memory_gib must be positive, gpus 0 or more",
        )


@dataclasses.dataclass
class KubeflowConfig:
    """Resources of the steps when the pipeline runs on Kubeflow Pipelines (the local runner ignores them).

    Attributes:
        default: every step not named below (RunConfigGen, GlueExampleGen, Evaluator, Pusher, ReportGen).
        data: the steps over the corpus (TextExampleGen, StatisticsGen, SchemaGen, Transform,
            InstanceStatisticsGen); with Beam on Dataflow, Flink or Spark they only drive the job.
        trainer: the pre-training Trainer.
        fine_tune: each GlueFineTune.
        gpu_resource: the extended resource that GPUs are scheduled by (`nvidia.com/gpu` with NVIDIA's
            device plugin, `amd.com/gpu` with AMD's).
    """

    default: StepResources = dataclasses.field(default_factory=StepResources)
    data: StepResources = dataclasses.field(default_factory=lambda: StepResources(cpu=2.0, memory_gib=8.0))
    trainer: StepResources = dataclasses.field(default_factory=lambda: StepResources(cpu=4.0, memory_gib=16.0))
    fine_tune: StepResources = dataclasses.field(default_factory=lambda: StepResources(cpu=2.0, memory_gib=8.0))
    gpu_resource: str = "nvidia.com/gpu"

    def validate(self) -> None:
        """Raises ValueError for a step's requests out of range or no GPU resource name."""
        for name in ("default", "data", "trainer", "fine_tune"):
            getattr(self, name).validate(name)
        check(bool(self.gpu_resource), "kubeflow.gpu_resource must name a resource, e.g. nvidia.com/gpu")


@dataclasses.dataclass
class RunConfig:
    """One pipeline run: what to read, what to build, where to write.

    Attributes:
        preset: name of the preset this config started from.
        pipeline_name: TFX pipeline name (also the ML Metadata context).
        corpus: ingestion settings.
        data: vocabulary and pre-training data settings.
        model: encoder shape.
        trainer: pre-training loop.
        glue: fine-tuning and gating.
        beam: Beam options of the data components.
        kubeflow: resources of the steps on Kubeflow Pipelines.
    """

    preset: str = "base"
    pipeline_name: str = "bert-pretraining"
    corpus: CorpusConfig = dataclasses.field(default_factory=CorpusConfig)
    data: PretrainingDataConfig = dataclasses.field(default_factory=PretrainingDataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    glue: GlueConfig = dataclasses.field(default_factory=GlueConfig)
    beam: BeamConfig = dataclasses.field(default_factory=BeamConfig)
    kubeflow: KubeflowConfig = dataclasses.field(default_factory=KubeflowConfig)

    def validate(self) -> RunConfig:
        """Validates every section, then what spans sections; returns self so calls chain. Raises ValueError."""
        check(
            re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.pipeline_name) is not None,
            f"pipeline_name={self.pipeline_name!r} must be a folder name: letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (it names the run's folder under --output-dir)",
        )
        for section in (self.corpus, self.data, self.model, self.trainer, self.glue, self.beam, self.kubeflow):
            section.validate()
        for section, value in (("data", self.data.max_seq_length), ("glue", self.glue.max_seq_length)):
            check(
                8 <= value <= self.model.max_position_embeddings,
                f"{section}.max_seq_length={value} must be within [8, model.max_position_embeddings="
                f"{self.model.max_position_embeddings}]",
            )
        previous = ("data", self.data.max_seq_length)
        for index, phase in enumerate(self.trainer.later_phases):
            key = f"trainer.later_phases[{index}]"
            check(
                previous[1] < phase.max_seq_length <= self.model.max_position_embeddings,
                f"{key}.max_seq_length={phase.max_seq_length} must be above the phase before's "
                f"({previous[0]}.max_seq_length={previous[1]}) and at most model.max_position_embeddings="
                f"{self.model.max_position_embeddings} (trainer.later_phases=[] trains one phase)",
            )
            previous = (key, phase.max_seq_length)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunConfig:
        """Builds a config from `to_dict()` output.

        Raises ValueError naming the key for an unknown, renamed or missing key, or a value of the wrong type.
        """
        return from_dict(cls, values, renamed=RENAMED_KEYS)


Section = TypeVar("Section")


def to_custom_config(config: RunConfig, *sections: str) -> dict[str, Any]:
    """The named sections of `config` as a component's `custom_config` (plain JSON values).

    `custom_config` is the one way our config crosses the TFX boundary; `section_from` rebuilds
    each section on the other side.
    """
    return {name: dataclasses.asdict(getattr(config, name)) for name in sections}


def section_from(custom_config: Mapping[str, Any] | str | None, key: str, cls: type[Section]) -> Section:
    """Rebuilds config section `key` (a `cls`) from a component's `custom_config`.

    Args:
        custom_config: the dict a user function receives, or the JSON string an executor's
            `exec_properties` holds.
        key: the section name (`corpus`, `data`, `model`, `trainer`, `glue`).
        cls: the section's dataclass.

    Raises ValueError when the section is missing, or a key in it is unknown, renamed, missing or of the
    wrong type (the messages name the key as `section.field`, as the command line does).
    """
    if isinstance(custom_config, str):
        custom_config = json.loads(custom_config)
    if not custom_config or key not in custom_config:
        present = sorted(custom_config or {})
        raise ValueError(f"missing config section {key!r} in custom_config (it has {present})")
    return from_dict(cls, custom_config[key], prefix=key + ".", renamed=RENAMED_KEYS)


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """Applies `section.key=value` overrides in place and validates (`configs.strict_dataclasses.apply_overrides`).

    Raises ValueError for a malformed override, an unknown or renamed key, a value of the wrong type, or a
    config that does not validate.
    """
    _apply_overrides(config, overrides, renamed=RENAMED_KEYS)
    return config.validate()
