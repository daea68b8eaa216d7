"""The pipeline's contract: node ids, output keys, the files inside artifacts, and what the run report reads.

Everything that finds a node or an artifact of a run by name imports it from here: the DAG
(`pipeline.bert_pipeline`), the run report (`inspection`, `components.report_gen`), the metadata commands,
the Kubeflow runner and the benchmarks. A node renamed here is renamed everywhere; a node renamed in one
place only fails `create_pipeline` (`report_channels` finds no such node) and the contract test.

This module is a leaf (no imports of ours, no TensorFlow): the metadata commands read runs without
TensorFlow.
"""

from __future__ import annotations

import dataclasses

# Node ids of the nodes that run once per pipeline run.
RUN_CONFIG_GEN = "RunConfigGen"
TEXT_EXAMPLE_GEN = "TextExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "SchemaGen"
TRANSFORM = "Transform"
INSTANCE_STATISTICS_GEN = "InstanceStatisticsGen"
TRAINER = "Trainer"
ENCODER_EXPORT = "EncoderExport"
ENCODER_PUSHER = "EncoderPusher"
REPORT_GEN = "ReportGen"

# Kinds of the nodes that run once per GLUE task; a node's id is `task_node_id(kind, task)`.
GLUE_EXAMPLE_GEN = "GlueExampleGen"
GLUE_FINE_TUNE = "GlueFineTune"
BASELINE_RESOLVER = "LatestBlessedModelResolver"
EVALUATOR = "Evaluator"
PUSHER = "Pusher"
TASK_NODE_KINDS = (GLUE_EXAMPLE_GEN, GLUE_FINE_TUNE, BASELINE_RESOLVER, EVALUATOR, PUSHER)

# The nodes that read the whole corpus or its instances (Kubeflow gives them the `kubeflow.data` resources).
DATA_NODES = (TEXT_EXAMPLE_GEN, STATISTICS_GEN, SCHEMA_GEN, TRANSFORM, INSTANCE_STATISTICS_GEN)

# Output keys (TFX's standard ones where a standard component makes the artifact).
EXAMPLES = "examples"
STATISTICS = "statistics"
SCHEMA = "schema"
TRANSFORMED_EXAMPLES = "transformed_examples"
TRANSFORM_GRAPH = "transform_graph"
MODEL = "model"
MODEL_RUN = "model_run"  # a ModelRun artifact: logs and figures of one training (pre-training or fine-tuning)
BLESSING = "blessing"
PUSHED_MODEL = "pushed_model"
RUN_CONFIGURATION = "run_configuration"
EXPORTED_ENCODER = "exported_encoder"
REPORT = "report"

# Files and folders inside artifacts (and beside them), by the artifact that holds them.
RUN_CONFIG_PROPERTY = "run_config"  # RunConfigGen's execution property: the resolved config as JSON
RUN_CONFIG_FILE = "run_config.json"  # RunConfiguration; also `<output dir>/<pipeline>/run_config.json`
CORPUS_COUNTS_FILE = "corpus_counts.json"  # TextExampleGen's Examples: what it read, dropped and kept
# Examples of TextExampleGen and Transform: the records written per split as custom properties (`records_train`),
# counted inside the step's Beam pipeline (`components.record_counts`), and the folder of those counts.
RECORD_COUNT_PREFIX = "records_"
RECORD_COUNTS_DIR = "record_counts"
CORPUS_COUNT_PREFIX = "corpus_"  # ... the same counts as the artifact's custom properties (`corpus_documents_kept`)
ENCODER_CHECKPOINT_DIR = "checkpoint"  # Trainer's Model: the encoder checkpoint fine-tuning loads
TRAINER_PHASE_KEY = "phase"  # a Trainer's custom_config: the number of the phase it trains (1 when absent)
TRAINING_STATE_DIR = "training_state"  # Trainer's Model of a phase with a later one: the state the next starts from
TRAINER_CHECKPOINTS_DIR = "checkpoints"  # `<pipeline root>/Trainer/checkpoints/<fingerprint>/`: resumable state
ENCODER_SERVING_DIR = "encoder"  # `<serving dir>/encoder/<version>/`: EncoderPusher's pushes, a folder per format
TRAINER_INPUTS_FILE = "trainer_inputs.json"  # ... beside them: the Trainer's custom_config and Transform graph
# EncoderExport's ExportedEncoder (and `bert-tfx export --output`): a folder per format of the pre-trained model,
# keyed by the format's name.
EXPORT_FORMAT_DIRS = {"hf": "huggingface", "keras-hub": "keras_hub", "saved-model": "saved_model"}
HISTORY_FILE = "history.json"  # Trainer's ModelRun: every metric of every logging period ({"loss": [...]})
TRAINING_FILE = "training.json"  # Trainer's ModelRun: steps run, where training resumed from, the checkpoints
TENSORBOARD_DIR = "tensorboard"  # Trainer's ModelRun: TensorBoard logs
# GlueFineTune's ModelRun: {"task", "train_steps", "dev": {metric: value} of the model kept, "trials": [...],
# "spread", "constant_baseline", "test_predictions"}; test predictions in the leaderboard's format in the folder.
GLUE_METRICS_FILE = "dev_metrics.json"
GLUE_PREDICTIONS_DIR = "predictions"
# RunReport: the page, its Markdown, its pictures, and the GLUE report beside them.
REPORT_HTML_FILE = "index.html"
REPORT_MARKDOWN_FILE = "report.md"
REPORT_CURVES_FILE = "pretraining_curves.png"
REPORT_LINEAGE_FILE = "lineage.svg"
GLUE_REPORT_JSON_FILE = "glue_report.json"
GLUE_REPORT_MARKDOWN_FILE = "glue_report.md"
GLUE_REPORT_CHART_FILE = "glue_report.png"
GLUE_SUBMISSION_FILE = "glue_submission.zip"


# The nodes a pre-training phase has of its own.
PHASE_NODE_KINDS = (TRANSFORM, INSTANCE_STATISTICS_GEN, TRAINER)


def phase_node_id(kind: str, number: int, count: int) -> str:
    """The id of a pre-training phase's node of a kind in PHASE_NODE_KINDS (`configs.training_phases`). The first
    phase's Transform is `Transform` (it learns the vocabulary) and a later one's `Transform_phase2` (likewise its
    InstanceStatisticsGen); the last phase's Trainer is `Trainer` (its model is the run's: export and fine-tuning read
    it) and an earlier one's `Trainer_phase1`. A run of one phase has none with a `_phase` suffix."""
    plain = number == count if kind == TRAINER else number == 1
    return kind if plain else f"{kind}_phase{number}"


def node_kind(node_id: str) -> str:
    """The kind of a phase's node (`Trainer_phase1` -> `Trainer`); other ids unchanged."""
    kind = node_id.split("_phase", 1)[0]
    return kind if kind in PHASE_NODE_KINDS else node_id


def task_node_id(kind: str, task: str) -> str:
    """The id of a per-task node, e.g. `task_node_id(GLUE_FINE_TUNE, "sst2")` -> `GlueFineTune_sst2`."""
    return f"{kind}_{task}"


@dataclasses.dataclass(frozen=True)
class ArtifactSource:
    """Where an input of the run report comes from: a node's output.

    Attributes:
        node: the node id, or for a per-task source the node kind (`task_node_id` makes the id).
        output: the node's output key.
    """

    node: str
    output: str

    def node_id(self, task: str | None = None) -> str:
        return task_node_id(self.node, task) if task else self.node


# What the run report reads, by its input key: ReportGen takes these channels under these keys, and
# `bert-tfx report` finds the same artifacts in the store by node id and output key.
REPORT_SOURCES = {
    RUN_CONFIGURATION: ArtifactSource(RUN_CONFIG_GEN, RUN_CONFIGURATION),
    "corpus_examples": ArtifactSource(TEXT_EXAMPLE_GEN, EXAMPLES),
    "statistics": ArtifactSource(STATISTICS_GEN, STATISTICS),
    "instance_statistics": ArtifactSource(INSTANCE_STATISTICS_GEN, STATISTICS),
    "transform_graph": ArtifactSource(TRANSFORM, TRANSFORM_GRAPH),
    "pretraining_model_run": ArtifactSource(TRAINER, MODEL_RUN),
    "exported_encoder": ArtifactSource(ENCODER_EXPORT, EXPORTED_ENCODER),
    "pushed_encoder": ArtifactSource(ENCODER_PUSHER, PUSHED_MODEL),
}
# ... and per GLUE task, under `report_task_key(key, task)`.
REPORT_TASK_SOURCES = {
    "fine_tuning_model_run": ArtifactSource(GLUE_FINE_TUNE, MODEL_RUN),
    "blessing": ArtifactSource(EVALUATOR, BLESSING),
    "pushed_model": ArtifactSource(PUSHER, PUSHED_MODEL),
}


def report_task_key(key: str, task: str) -> str:
    """ReportGen's input key of a per-task source, e.g. `blessing_sst2`."""
    return f"{key}_{task}"


# ... and of the nodes of a pre-training phase with a `_phase<N>` id (`phase_node_id`), under `report_phase_key`:
# the curves of the earlier phases' Trainers, the instance statistics of the later phases.
REPORT_PHASE_SOURCES = {
    "pretraining_model_run": ArtifactSource(TRAINER, MODEL_RUN),
    "instance_statistics": ArtifactSource(INSTANCE_STATISTICS_GEN, STATISTICS),
}


def report_phase_key(key: str, number: int) -> str:
    """ReportGen's input key of a phase's source, e.g. `pretraining_model_run_phase1` (from `Trainer_phase1`)."""
    return f"{key}_phase{number}"
