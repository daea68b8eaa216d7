"""Named presets of the run configuration, from `smoke` (CI, minutes on 2 cores) to `large`.

A preset names a whole run; `load` applies `key=value` overrides on top and validates, which is
what the CLI, the local runner and the Kubeflow runner call.
"""

from __future__ import annotations

from collections.abc import Callable

from configs.glue_tasks import TASKS as ALL_TASKS
from configs.run_config import (
    CorpusConfig,
    GlueConfig,
    KubeflowConfig,
    ModelConfig,
    PhaseConfig,
    PretrainingDataConfig,
    RunConfig,
    StepResources,
    TrainerConfig,
    apply_overrides,
)

# Lower bounds for the shapes of the BERT paper, a few points under its dev results (BERT-Base: CoLA MCC
# 52.1 on test, SST-2 93.5, MRPC F1 88.9, STS-B 85.8, QQP F1 71.2 on test, MNLI 84.6, QNLI 90.5, RTE 66.4).
_BASE_BOUNDS = {
    "cola": {"matthews_corr": 0.45},
    "sst2": {"accuracy": 0.9},
    "mrpc": {"f1": 0.86, "accuracy": 0.8},
    "stsb": {"pearson": 0.8, "spearman": 0.8},
    "qqp": {"f1": 0.82, "accuracy": 0.88},
    "mnli": {"accuracy": 0.82},
    "qnli": {"accuracy": 0.88},
    "rte": {"accuracy": 0.62},
}
_LARGE_BOUNDS = {
    **_BASE_BOUNDS,
    "cola": {"matthews_corr": 0.55},
    "sst2": {"accuracy": 0.92},
    "mrpc": {"f1": 0.88, "accuracy": 0.82},
    "mnli": {"accuracy": 0.85},
    "qnli": {"accuracy": 0.9},
    "rte": {"accuracy": 0.68},
}


def _smoke() -> RunConfig:
    """Minutes on 2 CPU cores: proves every stage end to end; the numbers mean little."""
    return RunConfig(
        preset="smoke",
        pipeline_name="bert-smoke",
        corpus=CorpusConfig(documents_per_group=16),  # the bundled sample has about 130 documents
        data=PretrainingDataConfig(vocab_size=2000, max_alphabet=200, max_seq_length=64, max_predictions_per_seq=10),
        model=ModelConfig(
            num_layers=2, hidden_dim=64, num_heads=2, intermediate_dim=128, dropout=0.1, max_position_embeddings=128
        ),
        # Two phases, as real runs: 240 steps at 64 tokens, then 60 at 128 that train position embeddings 64-127.
        trainer=TrainerConfig(
            train_steps=300,
            eval_steps=10,
            batch_size=32,
            learning_rate=1e-3,
            warmup_steps=30,
            log_every_steps=50,
            later_phases=[PhaseConfig(step_fraction=0.2, max_seq_length=128, max_predictions_per_seq=20)],
        ),
        # 400 steps at 3e-4: the smoke encoder's SST-2 classifier leaves the constant answer after 200-300 steps
        # (seeds 42, 1, 7: dev accuracy 0.686, 0.667, 0.675; 150 steps at 1e-3 stayed at the constant 0.509 for 42).
        glue=GlueConfig(
            max_seq_length=64,
            batch_size=32,
            train_steps=400,
            learning_rates=[3e-4],
            max_drop=0.1,
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
        glue=GlueConfig(learning_rates=[1e-4], seeds=[1, 2, 3]),
    )


def _tiny_cpu_hour() -> RunConfig:
    """BERT-Tiny pre-trained for one hour of training steps on a few CPU cores, with the recipe that
    `bench/pretraining_quality.py` measures against random initialisation (docs/benchmarks.md, "A 15-minute screen
    of the recipe" and the 60-minute runs): 64-token instances (10 predictions) with masks redrawn every epoch,
    batch 64, no dropout, AdamW at 1e-3 warmed up over the first 5% of the hour and decayed linearly to zero at
    its end. The hour is the training clock's (`trainer.time_budget_minutes`), so a slower machine trains fewer
    steps of the same schedule; fine-tuning reads 64 tokens too."""
    config = _tiny()
    config.preset, config.pipeline_name = "tiny-cpu-hour", "bert-tiny-cpu-hour"
    config.data.max_seq_length, config.data.max_predictions_per_seq = 64, 10
    config.data.dynamic_masking = True
    config.model.dropout = 0.0
    config.trainer = TrainerConfig(
        train_steps=1_000_000,  # a cap: the budget ends the run (about 24,000 steps on the 2-core VM)
        time_budget_minutes=60.0,
        warmup_fraction=0.05,
        batch_size=64,
        learning_rate=1e-3,
        eval_steps=10,
        log_every_steps=500,
    )
    config.glue.max_seq_length = 64
    return config


def _mini() -> RunConfig:
    """BERT-Mini (4 layers, 256 wide)."""
    return RunConfig(
        preset="mini",
        pipeline_name="bert-mini",
        data=PretrainingDataConfig(vocab_size=16000),
        model=ModelConfig(num_layers=4, hidden_dim=256, num_heads=4, intermediate_dim=1024),
        trainer=TrainerConfig(train_steps=50000, batch_size=128, learning_rate=5e-4, warmup_steps=2000),
        glue=GlueConfig(learning_rates=[5e-5], seeds=[1, 2, 3]),
        kubeflow=_accelerated(),
    )


def _base() -> RunConfig:
    """BERT-Base (12 layers, 768 wide), the original recipe's shape; meant for accelerators: 90% of the steps at 128
    tokens (20 predictions), then 10% at 512 (80 predictions), one warm-up and decay over both, as in the paper."""
    return RunConfig(
        preset="base",
        pipeline_name="bert-base",
        trainer=TrainerConfig(
            train_steps=1_000_000,
            batch_size=256,
            learning_rate=1e-4,
            warmup_steps=10000,
            mixed_precision="mixed_bfloat16",
            log_every_steps=1000,
            later_phases=[PhaseConfig(step_fraction=0.1, max_seq_length=512, max_predictions_per_seq=80)],
        ),
        glue=GlueConfig(
            tasks=list(ALL_TASKS), learning_rates=[2e-5, 3e-5, 5e-5], seeds=[1, 2, 3, 4, 5], bounds=_BASE_BOUNDS
        ),
        kubeflow=_accelerated(),
    )


def _accelerated() -> KubeflowConfig:
    """Step resources of the presets meant for accelerators: one GPU for pre-training and for each fine-tuning."""
    return KubeflowConfig(
        data=StepResources(cpu=4.0, memory_gib=16.0),
        trainer=StepResources(cpu=8.0, memory_gib=32.0, gpus=1),
        fine_tune=StepResources(cpu=4.0, memory_gib=16.0, gpus=1),
    )


def _large() -> RunConfig:
    """BERT-Large (24 layers, 1024 wide), trained with LAMB as in the large-batch recipe."""
    config = _base()
    config.preset, config.pipeline_name = "large", "bert-large"
    config.model = ModelConfig(num_layers=24, hidden_dim=1024, num_heads=16, intermediate_dim=4096)
    config.trainer.optimizer = "lamb"
    config.trainer.learning_rate = 1e-3
    config.glue.bounds = _LARGE_BOUNDS
    return config


PRESETS: dict[str, Callable[[], RunConfig]] = {
    "smoke": _smoke,
    "tiny": _tiny,
    "tiny-cpu-hour": _tiny_cpu_hour,
    "mini": _mini,
    "base": _base,
    "large": _large,
}


def preset(name: str) -> RunConfig:
    """Returns a fresh config for a named preset. Raises ValueError naming the known presets."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]()


def load(preset_name: str, overrides: list[str] | None = None) -> RunConfig:
    """A preset with overrides applied, validated."""
    return apply_overrides(preset(preset_name), list(overrides or []))
