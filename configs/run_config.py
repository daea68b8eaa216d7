"""The typed run configuration: one tree of dataclasses, strict parsing, `key=value` overrides.

Overrides use dotted keys into the tree (`trainer.train_steps=500`); unknown keys and values of
the wrong type are rejected, and the result is validated. The resolved config travels with the
pipeline: each component gets the sections it needs through `to_custom_config` and rebuilds them
with `section_from`, which is as strict as the command line (a missing or unknown key fails with
the same message). Presets live in `configs.presets`.

This package is a leaf: it imports nothing of ours, so every layer (models, components,
pipeline) may import it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from configs import glue_tasks

# trainer.strategy values (TPUs: see README, "Distributed training").
STRATEGIES = ("default", "mirrored", "multi_worker")


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
        short_seq_prob: share of documents cut into shorter instances, as in the original BERT data.
        next_sentence_random_prob: share of instances whose second segment comes from another document.
        dupe_factor: times each document is used, each time packed and masked differently.
        whole_word_masking: choose masked-LM targets by whole words (a word and its `##` pieces).
        dynamic_masking: Transform writes unmasked instances and the Trainer draws new masks each time
            it reads one (RoBERTa); `dupe_factor` 1 is then enough.
        seed: seeds every random choice of the instances (hashed with each document's id and copy).
        groups_per_batch: TextExampleGen records (groups of documents) Transform processes together.
    """

    vocab_size: int = 30522
    max_alphabet: int = 1000
    lower_case: bool = True
    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
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


@dataclasses.dataclass
class BeamConfig:
    """Apache Beam options of the data components (TextExampleGen, StatisticsGen, SchemaGen, Transform,
    GlueExampleGen, Evaluator).

    Attributes:
        args: Beam pipeline options, added after the runner's own defaults (a later option wins), e.g.
            `["--runner=DataflowRunner", "--project=P", "--region=R", "--temp_location=gs://B/tmp"]`; README
            ("Beam beyond one machine") lists the options of Dataflow, Flink and Spark.
    """

    args: list[str] = dataclasses.field(default_factory=list)


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


@dataclasses.dataclass
class TrainerConfig:
    """Pre-training loop (Trainer).

    Attributes:
        train_steps: optimizer steps (updates of the weights).
        eval_steps: batches of the eval split evaluated every logging period; 0 disables evaluation.
        batch_size: instances per micro-batch, over all replicas; one optimizer step sees
            `batch_size * grad_accum_steps` instances.
        grad_accum_steps: micro-batches whose averaged gradients make one optimizer step (1: none).
        strategy: tf.distribute strategy: "default" (one device), "mirrored" (all local GPUs, or
            CPUs), "multi_worker" (MultiWorkerMirroredStrategy over the workers in TF_CONFIG).
        checkpoint_every_steps: optimizer steps between checkpoints of model, optimizer and input
            position; a re-run of the same Trainer (same config, same input data) resumes from the
            last one. 0 disables checkpoints.
        learning_rate: peak learning rate, reached at the end of warm-up.
        warmup_steps: linear warm-up steps; the rate then decays linearly to zero.
        optimizer: "adamw" or "lamb".
        weight_decay: decoupled weight decay (not applied to biases and LayerNorm).
        clip_norm: global gradient-norm clip; 0 disables it.
        mixed_precision: "" (float32), "mixed_float16" or "mixed_bfloat16".
        jit_compile: compile the train step with XLA.
        log_every_steps: steps between metric logs, validation and TensorBoard summaries.
        keep_checkpoints: how many of the latest checkpoints to keep.
        seed: random seed for initialisation and shuffling.
    """

    train_steps: int = 1000
    eval_steps: int = 20
    batch_size: int = 32
    grad_accum_steps: int = 1
    strategy: str = "default"
    checkpoint_every_steps: int = 1000
    learning_rate: float = 1e-4
    warmup_steps: int = 100
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    mixed_precision: str = ""
    jit_compile: bool = True
    log_every_steps: int = 100
    keep_checkpoints: int = 3
    seed: int = 42


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
        learning_rate: peak learning rate (when `learning_rates` is empty).
        learning_rates: peak learning rates to try; each is run with every seed of `seeds`.
        seeds: fine-tuning runs per task (and learning rate), one per seed: the report shows the median and
            range over them, and the run best on dev (by the mean of the task's official metrics) is the
            task's model, as the BERT paper chose for small tasks.
        warmup_proportion: share of the steps spent warming up; the rate then decays linearly to 0.
        weight_decay: decoupled weight decay (not applied to biases and LayerNorm).
        clip_norm: global gradient-norm clip; 0 disables it.
        log_every_steps: steps between metric logs.
        dropout: dropout on the pooled output before the task head.
        constant_margin: the Evaluator blesses a model only where each official metric beats the best
            constant predictor's score on the same dev set (majority class; for STS-B's correlations 0)
            by at least this much.
        bounds: explicit lower bounds per task and official metric (`{"mrpc": {"f1": 0.8}}`), used instead of
            the constant predictor's score plus `constant_margin` for the metrics named.
        max_drop: how much lower than the task's last blessed model an official metric may be.
    """

    tasks: list[str] = dataclasses.field(default_factory=lambda: ["sst2", "mrpc"])
    max_seq_length: int = 128
    batch_size: int = 32
    train_steps: int | None = None
    epochs: int = 3
    learning_rate: float = 2e-5
    learning_rates: list[float] = dataclasses.field(default_factory=list)
    seeds: list[int] = dataclasses.field(default_factory=lambda: [42])
    warmup_proportion: float = 0.1
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    log_every_steps: int = 100
    dropout: float = 0.1
    constant_margin: float = 0.01
    bounds: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    max_drop: float = 0.01

    def peak_learning_rates(self) -> list[float]:
        """The learning rates fine-tuning tries: `learning_rates`, or `learning_rate` alone."""
        return list(self.learning_rates) or [self.learning_rate]


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
        """Checks cross-field invariants; returns self so calls chain. Raises ValueError."""
        _check(
            self.model.hidden_dim % self.model.num_heads == 0,
            f"model.hidden_dim={self.model.hidden_dim} is not divisible by model.num_heads={self.model.num_heads}",
        )
        for section, value in (("data", self.data.max_seq_length), ("glue", self.glue.max_seq_length)):
            _check(
                8 <= value <= self.model.max_position_embeddings,
                f"{section}.max_seq_length={value} must be within [8, model.max_position_embeddings="
                f"{self.model.max_position_embeddings}]",
            )
        _check(0 < self.data.masked_lm_prob < 1, f"data.masked_lm_prob={self.data.masked_lm_prob} must be in (0, 1)")
        for key, value in (
            ("data.mask_token_rate", self.data.mask_token_rate),
            ("data.random_token_rate", self.data.random_token_rate),
            ("data.short_seq_prob", self.data.short_seq_prob),
            ("data.next_sentence_random_prob", self.data.next_sentence_random_prob),
            ("model.dropout", self.model.dropout),
            ("glue.dropout", self.glue.dropout),
            ("glue.warmup_proportion", self.glue.warmup_proportion),
        ):
            _check(0 <= value <= 1, f"{key}={value} must be in [0, 1]")
        for key, value in (
            ("trainer.train_steps", self.trainer.train_steps),
            ("trainer.batch_size", self.trainer.batch_size),
            ("trainer.learning_rate", self.trainer.learning_rate),
            ("trainer.log_every_steps", self.trainer.log_every_steps),
            ("glue.batch_size", self.glue.batch_size),
            ("glue.learning_rate", self.glue.learning_rate),
            ("glue.log_every_steps", self.glue.log_every_steps),
            ("glue.epochs", self.glue.epochs),
        ):
            _check(value > 0, f"{key}={value} must be positive")
        for key, value in (
            ("trainer.weight_decay", self.trainer.weight_decay),
            ("trainer.clip_norm", self.trainer.clip_norm),
            ("glue.weight_decay", self.glue.weight_decay),
            ("glue.clip_norm", self.glue.clip_norm),
        ):
            _check(value >= 0, f"{key}={value} must be 0 or more")
        _check(
            self.data.mask_token_rate + self.data.random_token_rate <= 1,
            "data.mask_token_rate + data.random_token_rate must be at most 1",
        )
        _check(
            0 < self.data.max_predictions_per_seq < self.data.max_seq_length,
            f"data.max_predictions_per_seq={self.data.max_predictions_per_seq} must be in "
            f"(0, data.max_seq_length={self.data.max_seq_length})",
        )
        _check(self.data.vocab_size > 100, f"data.vocab_size={self.data.vocab_size} must be above 100")
        _check(self.data.groups_per_batch >= 1, f"data.groups_per_batch={self.data.groups_per_batch} must be 1 or more")
        _check(
            self.corpus.documents_per_group >= 2,
            f"corpus.documents_per_group={self.corpus.documents_per_group} must be at least 2 (random next "
            "sentences come from the other documents of a group)",
        )
        _check(self.data.dupe_factor >= 1, f"data.dupe_factor={self.data.dupe_factor} must be at least 1")
        _check(
            self.trainer.optimizer in ("adamw", "lamb"),
            f"trainer.optimizer={self.trainer.optimizer!r} must be 'adamw' or 'lamb'",
        )
        _check(
            self.trainer.strategy in STRATEGIES,
            f"trainer.strategy={self.trainer.strategy!r} must be one of {', '.join(STRATEGIES)}",
        )
        _check(
            self.trainer.grad_accum_steps >= 1,
            f"trainer.grad_accum_steps={self.trainer.grad_accum_steps} must be 1 or more",
        )
        _check(
            self.trainer.checkpoint_every_steps >= 0,
            f"trainer.checkpoint_every_steps={self.trainer.checkpoint_every_steps} must be 0 (no checkpoints) or more",
        )
        _check(
            self.trainer.keep_checkpoints >= 1,
            f"trainer.keep_checkpoints={self.trainer.keep_checkpoints} must be 1 or more",
        )
        _check(
            self.trainer.mixed_precision in ("", "mixed_float16", "mixed_bfloat16"),
            f"trainer.mixed_precision={self.trainer.mixed_precision!r} must be '', 'mixed_float16' or 'mixed_bfloat16'",
        )
        _check(
            0 <= self.trainer.warmup_steps <= self.trainer.train_steps,
            f"trainer.warmup_steps={self.trainer.warmup_steps} must be within [0, trainer.train_steps="
            f"{self.trainer.train_steps}]",
        )
        _check(
            self.trainer.eval_steps >= 0,
            f"trainer.eval_steps={self.trainer.eval_steps} must be 0 (no evaluation) or more",
        )
        _check(
            self.glue.train_steps is None or self.glue.train_steps > 0,
            f"glue.train_steps={self.glue.train_steps} must be positive, or null to train for glue.epochs",
        )
        _check(
            self.corpus.train_buckets > 0 and self.corpus.eval_buckets > 0,
            "corpus.train_buckets and corpus.eval_buckets must be positive",
        )
        _check(
            self.corpus.on_bad_bytes in ("fail", "replace", "skip_line"),
            f"corpus.on_bad_bytes={self.corpus.on_bad_bytes!r} must be 'fail', 'replace' or 'skip_line'",
        )
        malformed = [a for a in self.beam.args if not a.startswith("--")]
        _check(not malformed, f"beam.args must be options of the form --name=value; got {malformed}")
        for name in ("default", "data", "trainer", "fine_tune"):
            step = getattr(self.kubeflow, name)
            _check(
                step.cpu > 0 and step.memory_gib > 0 and step.gpus >= 0,
                f"kubeflow.{name} asks for cpu={step.cpu}, memory_gib={step.memory_gib}, gpus={step.gpus}; "
                "cpu and memory_gib must be positive, gpus 0 or more",
            )
        _check(bool(self.kubeflow.gpu_resource), "kubeflow.gpu_resource must name a resource, e.g. nvidia.com/gpu")
        unknown = [t for t in self.glue.tasks if t not in glue_tasks.TASKS]
        _check(not unknown, f"glue.tasks has unknown tasks {unknown}; known: {sorted(glue_tasks.TASKS)}")
        self._validate_glue_runs_and_bounds()
        return self

    def _validate_glue_runs_and_bounds(self) -> None:
        glue = self.glue
        _check(bool(glue.seeds), "glue.seeds must name at least one seed")
        _check(len(set(glue.seeds)) == len(glue.seeds), f"glue.seeds={glue.seeds} repeats a seed")
        _check(
            all(rate > 0 for rate in glue.learning_rates), f"glue.learning_rates={glue.learning_rates} must be positive"
        )
        _check(
            0 < glue.constant_margin < 1,
            f"glue.constant_margin={glue.constant_margin} must be in (0, 1): at 0 a constant model would pass",
        )
        _check(glue.max_drop >= 0, f"glue.max_drop={glue.max_drop} must be 0 or more")
        for task, bounds in glue.bounds.items():
            _check(
                task in glue_tasks.TASKS, f"glue.bounds names unknown task {task!r}; known: {sorted(glue_tasks.TASKS)}"
            )
            metrics = glue_tasks.TASKS[task].metrics
            wrong = sorted(set(bounds) - set(metrics))
            _check(not wrong, f"glue.bounds.{task} names {wrong}; the official metrics of {task} are {list(metrics)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunConfig:
        """Builds a config from `to_dict()` output.

        Raises ValueError naming the key for an unknown key, a missing one or a value of the wrong type.
        """
        return _from_dict(cls, values, prefix="")


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
        key: the section name (`data`, `model`, `trainer`, `glue`).
        cls: the section's dataclass.

    Raises ValueError when the section is missing, or a key in it is unknown, missing or of the
    wrong type (the messages name the key as `section.field`, as the command line does).
    """
    if isinstance(custom_config, str):
        custom_config = json.loads(custom_config)
    if not custom_config or key not in custom_config:
        present = sorted(custom_config or {})
        raise ValueError(f"missing config section {key!r} in custom_config (it has {present})")
    return _from_dict(cls, custom_config[key], prefix=key + ".")


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """Applies `section.key=value` overrides in place and validates.

    Values are parsed as JSON where they parse (numbers, booleans, null, lists, objects) and kept
    as strings otherwise, then checked against the field's type. Raises ValueError for a malformed
    override, an unknown key or a value of the wrong type.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not of the form section.key=value")
        target: Any = config
        parts = key.split(".")
        for part in parts[:-1]:
            if not dataclasses.is_dataclass(target) or not hasattr(target, part):
                raise ValueError(f"unknown config key {key!r}")
            target = getattr(target, part)
        leaf = parts[-1]
        if not dataclasses.is_dataclass(target) or leaf not in _field_types(type(target)):
            raise ValueError(f"unknown config key {key!r}")
        if dataclasses.is_dataclass(getattr(target, leaf)):
            raise ValueError(f"config key {key!r} is a section; set one of its fields")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        setattr(target, leaf, _typed(key, value, _field_types(type(target))[leaf]))
    return config.validate()


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _typed(key: str, value: Any, hint: Any) -> Any:
    """`value` as the type `hint` asks (an int where a float is asked becomes a float); raises ValueError."""
    try:
        return _coerce(value, hint)
    except TypeError:
        expected = hint.__name__ if isinstance(hint, type) else str(hint)
        raise ValueError(f"config key {key!r} expects {expected}, got {value!r}") from None


def _coerce(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        for arg in args:
            try:
                return _coerce(value, arg)
            except TypeError:
                continue
        raise TypeError(hint)
    if hint is type(None):
        if value is None:
            return None
        raise TypeError(hint)
    if origin is list and isinstance(value, list):
        return [_coerce(item, args[0]) for item in value]
    if origin is dict and isinstance(value, dict):
        return {_coerce(k, args[0]): _coerce(v, args[1]) for k, v in value.items()}
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise TypeError(hint)


def _from_dict(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(values, Mapping):
        raise ValueError(f"config key {prefix.rstrip('.')!r} is a section; expected an object, got {values!r}")
    hints = _field_types(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ValueError(
            f"unknown config key {prefix + unknown[0]!r}" + (f" (and {unknown[1:]})" if unknown[1:] else "")
        )
    missing = sorted(set(hints) - set(values))
    if missing:
        raise ValueError(
            f"missing config key {prefix + missing[0]!r}" + (f" (and {missing[1:]})" if missing[1:] else "")
        )
    kwargs = {}
    for name, hint in hints.items():
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _from_dict(hint, values[name], prefix + name + ".")
        else:
            kwargs[name] = _typed(prefix + name, values[name], hint)
    return cls(**kwargs)
