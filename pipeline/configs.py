"""The typed run configuration: one tree of dataclasses, named presets, `key=value` overrides.

A preset names a whole run (`smoke` for CI, `tiny`, `mini`, `base`, `large`). Overrides use dotted
keys into the tree (`trainer.train_steps=500`); unknown keys are rejected, and the result is
validated. The resolved config travels with the pipeline (component parameters) and is written
next to the outputs, so a run can be reproduced from its artifacts.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class CorpusConfig:
    """Raw corpus ingestion (TextExampleGen).

    Attributes:
        input_pattern: glob, relative to the corpus directory, of the files to read. Plain text,
            `.gz` and WikiExtractor `<doc>` dumps are recognised per file.
        eval_buckets: hash buckets (out of `train_buckets + eval_buckets`) that go to the eval split.
        train_buckets: hash buckets that go to the train split.
        min_document_chars: documents shorter than this after cleaning are dropped.
    """

    input_pattern: str = "*"
    train_buckets: int = 19
    eval_buckets: int = 1
    min_document_chars: int = 200


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
        dupe_factor: times each document is used, each time with a different masking.
        documents_per_batch: documents Transform processes together; random next sentences are
            drawn from the other documents of a batch.
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
    documents_per_batch: int = 64


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
        train_steps: optimizer steps.
        eval_steps: batches of the eval split evaluated after training.
        batch_size: instances per step.
        learning_rate: peak learning rate, reached at the end of warm-up.
        warmup_steps: linear warm-up steps; the rate then decays linearly to zero.
        optimizer: "adamw" or "lamb".
        weight_decay: decoupled weight decay (not applied to biases and LayerNorm).
        clip_norm: global gradient-norm clip; 0 disables it.
        mixed_precision: "" (float32), "mixed_float16" or "mixed_bfloat16".
        jit_compile: compile the train step with XLA.
        steps_per_epoch: steps between metric logs and TensorBoard summaries.
        seed: random seed for initialisation and shuffling.
    """

    train_steps: int = 1000
    eval_steps: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_steps: int = 100
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    mixed_precision: str = ""
    jit_compile: bool = True
    steps_per_epoch: int = 100
    seed: int = 42


@dataclasses.dataclass
class GlueConfig:
    """GLUE fine-tuning and gating (GlueExampleGen, GlueFineTune, Evaluator, Pusher).

    Attributes:
        tasks: GLUE task names, as in `models.glue_tasks.TASKS`.
        max_seq_length: tokens per sentence (pair), [CLS] and [SEP]s included.
        batch_size: examples per step.
        train_steps: fine-tuning steps per task; 0 means `epochs` passes over the train split.
        epochs: passes over the train split when `train_steps` is 0.
        learning_rate: peak learning rate.
        warmup_proportion: share of the steps spent warming up; the rate then decays linearly to 0.
        weight_decay: decoupled weight decay (not applied to biases and LayerNorm).
        clip_norm: global gradient-norm clip; 0 disables it.
        steps_per_epoch: steps between metric logs.
        dropout: dropout on the pooled output before the task head.
        min_accuracy: accuracy below which the Evaluator does not bless a model, per task;
            tasks not listed use `default_min_accuracy`.
        default_min_accuracy: accuracy bound for tasks missing from `min_accuracy`.
        min_f1: F1 (of class 1) below which a model is not blessed, for the tasks listed (MRPC's
            official metrics are accuracy and F1).
        max_accuracy_drop: how much worse than the last blessed model a candidate may be.
    """

    tasks: list[str] = dataclasses.field(default_factory=lambda: ["sst2", "mrpc"])
    max_seq_length: int = 128
    batch_size: int = 32
    train_steps: int = 0
    epochs: int = 3
    learning_rate: float = 2e-5
    warmup_proportion: float = 0.1
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    steps_per_epoch: int = 100
    dropout: float = 0.1
    min_accuracy: dict[str, float] = dataclasses.field(default_factory=dict)
    default_min_accuracy: float = 0.5
    min_f1: dict[str, float] = dataclasses.field(default_factory=dict)
    max_accuracy_drop: float = 0.01


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
    """

    preset: str = "base"
    pipeline_name: str = "bert-pretraining"
    corpus: CorpusConfig = dataclasses.field(default_factory=CorpusConfig)
    data: PretrainingDataConfig = dataclasses.field(default_factory=PretrainingDataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    glue: GlueConfig = dataclasses.field(default_factory=GlueConfig)

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
        _check(
            self.data.documents_per_batch >= 2,
            f"data.documents_per_batch={self.data.documents_per_batch} must be at least 2 (negatives come "
            "from other documents of a batch)",
        )
        _check(self.data.dupe_factor >= 1, f"data.dupe_factor={self.data.dupe_factor} must be at least 1")
        _check(
            self.trainer.optimizer in ("adamw", "lamb"),
            f"trainer.optimizer={self.trainer.optimizer!r} must be 'adamw' or 'lamb'",
        )
        _check(
            self.trainer.mixed_precision in ("", "mixed_float16", "mixed_bfloat16"),
            f"trainer.mixed_precision={self.trainer.mixed_precision!r} must be '', 'mixed_float16' or 'mixed_bfloat16'",
        )
        _check(self.trainer.train_steps > 0, f"trainer.train_steps={self.trainer.train_steps} must be positive")
        _check(
            self.corpus.train_buckets > 0 and self.corpus.eval_buckets > 0,
            "corpus.train_buckets and corpus.eval_buckets must be positive",
        )
        from models import glue_tasks  # a leaf module with no TensorFlow import

        unknown = [t for t in self.glue.tasks if t not in glue_tasks.TASKS]
        _check(not unknown, f"glue.tasks has unknown tasks {unknown}; known: {sorted(glue_tasks.TASKS)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Builds a config from `to_dict()` output; unknown keys raise ValueError."""
        return _from_dict(cls, values, prefix="")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _from_dict(cls: type, values: dict[str, Any], prefix: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown config keys {[prefix + k for k in unknown]}")
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _from_dict(type(default), value, prefix + name + ".")
        else:
            kwargs[name] = value
    return cls(**kwargs)


# ---------------------------------------------------------------- presets


def _smoke() -> RunConfig:
    """Minutes on 2 CPU cores: proves every stage end to end; the numbers mean little."""
    return RunConfig(
        preset="smoke",
        pipeline_name="bert-smoke",
        data=PretrainingDataConfig(vocab_size=2000, max_alphabet=200, max_seq_length=64, max_predictions_per_seq=10),
        model=ModelConfig(
            num_layers=2, hidden_dim=64, num_heads=2, intermediate_dim=128, dropout=0.1, max_position_embeddings=128
        ),
        trainer=TrainerConfig(
            train_steps=300, eval_steps=10, batch_size=32, learning_rate=1e-3, warmup_steps=30, steps_per_epoch=50
        ),
        glue=GlueConfig(
            max_seq_length=64,
            batch_size=32,
            train_steps=150,
            learning_rate=1e-3,
            default_min_accuracy=0.5,
            min_accuracy={"mrpc": 0.6},
            min_f1={"mrpc": 0.6},
            max_accuracy_drop=0.1,
        ),
    )


def _tiny() -> RunConfig:
    """BERT-Tiny (2 layers, 128 wide): a real model that trains on a CPU in hours."""
    return RunConfig(
        preset="tiny",
        pipeline_name="bert-tiny",
        data=PretrainingDataConfig(vocab_size=8000),
        model=ModelConfig(num_layers=2, hidden_dim=128, num_heads=2, intermediate_dim=512),
        trainer=TrainerConfig(train_steps=10000, batch_size=64, learning_rate=5e-4, warmup_steps=500),
        glue=GlueConfig(learning_rate=1e-4, min_accuracy={"sst2": 0.7, "mrpc": 0.68}, min_f1={"mrpc": 0.78}),
    )


def _mini() -> RunConfig:
    """BERT-Mini (4 layers, 256 wide)."""
    return RunConfig(
        preset="mini",
        pipeline_name="bert-mini",
        data=PretrainingDataConfig(vocab_size=16000),
        model=ModelConfig(num_layers=4, hidden_dim=256, num_heads=4, intermediate_dim=1024),
        trainer=TrainerConfig(train_steps=50000, batch_size=128, learning_rate=5e-4, warmup_steps=2000),
        glue=GlueConfig(learning_rate=5e-5, min_accuracy={"sst2": 0.8, "mrpc": 0.7}, min_f1={"mrpc": 0.8}),
    )


def _base() -> RunConfig:
    """BERT-Base (12 layers, 768 wide), the original recipe's shape; meant for accelerators."""
    return RunConfig(
        preset="base",
        pipeline_name="bert-base",
        trainer=TrainerConfig(
            train_steps=1_000_000,
            batch_size=256,
            learning_rate=1e-4,
            warmup_steps=10000,
            mixed_precision="mixed_bfloat16",
            steps_per_epoch=1000,
        ),
        glue=GlueConfig(min_accuracy={"sst2": 0.9, "mrpc": 0.8}, min_f1={"mrpc": 0.86}),
    )


def _large() -> RunConfig:
    """BERT-Large (24 layers, 1024 wide), trained with LAMB as in the large-batch recipe."""
    config = _base()
    config.preset, config.pipeline_name = "large", "bert-large"
    config.model = ModelConfig(num_layers=24, hidden_dim=1024, num_heads=16, intermediate_dim=4096)
    config.trainer.optimizer = "lamb"
    config.trainer.learning_rate = 1e-3
    config.glue.min_accuracy = {"sst2": 0.92, "mrpc": 0.82}
    config.glue.min_f1 = {"mrpc": 0.88}
    return config


PRESETS: dict[str, Callable[[], RunConfig]] = {
    "smoke": _smoke,
    "tiny": _tiny,
    "mini": _mini,
    "base": _base,
    "large": _large,
}


def preset(name: str) -> RunConfig:
    """Returns a fresh config for a named preset. Raises ValueError naming the known presets."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]()


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """Applies `section.key=value` overrides in place and validates.

    Values are parsed as JSON where they parse (numbers, booleans, lists, objects) and kept as
    strings otherwise. Raises ValueError for a malformed override or an unknown key.
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
        if not dataclasses.is_dataclass(target) or leaf not in {f.name for f in dataclasses.fields(target)}:
            raise ValueError(f"unknown config key {key!r}")
        if dataclasses.is_dataclass(getattr(target, leaf)):
            raise ValueError(f"config key {key!r} is a section; set one of its fields")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        current = getattr(target, leaf)
        if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(current):
            raise ValueError(f"config key {key!r} expects {type(current).__name__}, got {raw!r}")
        setattr(target, leaf, value)
    return config.validate()


def load(preset_name: str, overrides: list[str] | None = None) -> RunConfig:
    """A preset with overrides applied, validated."""
    return apply_overrides(preset(preset_name), list(overrides or []))
