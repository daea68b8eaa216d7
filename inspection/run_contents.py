"""What a pipeline run made, read from its artifacts: the report's inputs and the figures they hold.

The inputs are found by the keys of `configs.pipeline_contract.REPORT_SOURCES` (and `REPORT_TASK_SOURCES` per
GLUE task): ReportGen receives its artifacts under those keys (`inputs_from_artifacts`), and a run recorded in
a store gives the same artifacts by node id and output key (`inputs_from_store`). Rendering them is
`inspection.report`'s job; nothing here draws or writes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from configs import pipeline_contract as contract
from configs.run_config import OBJECTIVES, PretrainingDataConfig, TrainerConfig, section_from
from configs.training_phases import describe, training_phases
from inspection import statistics
from inspection.artifact_files import glob, read_bytes, read_json
from inspection.records import MetadataReader, RunRecord, run_config_of
from models import features


@dataclasses.dataclass(frozen=True)
class ArtifactRef:
    """What a report needs of an artifact: where it is and its custom properties."""

    uri: str
    properties: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TaskArtifacts:
    """A GLUE task's artifacts, named as the keys of `contract.REPORT_TASK_SOURCES`."""

    fine_tuning_model_run: ArtifactRef | None = None
    blessing: ArtifactRef | None = None
    pushed_model: ArtifactRef | None = None

    @property
    def blessed(self) -> bool | None:
        """The Evaluator's decision, or None when the task was not evaluated."""
        return bool(self.blessing.properties.get("blessed", 0)) if self.blessing else None

    @property
    def pushed_to(self) -> str | None:
        """Where the Pusher put the model, or None when it pushed nothing."""
        if not self.pushed_model or not self.pushed_model.properties.get("pushed", 0):
            return None
        return str(self.pushed_model.properties.get("pushed_destination", self.pushed_model.uri))


@dataclasses.dataclass
class ReportInputs:
    """The artifacts a report is built from, named as the keys of `contract.REPORT_SOURCES` (any may be missing:
    the report says what it lacks).

    Attributes:
        config: the resolved run config (`RunConfig.to_dict()`), from the `run_configuration` artifact.
        corpus_examples: TextExampleGen's Examples (its counts of documents read, dropped and kept).
        statistics: StatisticsGen's ExampleStatistics of the corpus (documents per split).
        instance_statistics: InstanceStatisticsGen's ExampleStatistics of the pre-training instances.
        transform_graph: Transform's graph (the learned vocabulary).
        pretraining_model_run: the Trainer's ModelRun (`history.json`), the last phase's.
        phases: the sources of the pre-training phases' own nodes, by key of `contract.REPORT_PHASE_SOURCES` and phase
            number: the earlier phases' Trainers' ModelRuns, the later phases' instance statistics.
        exported_encoder: EncoderExport's ExportedEncoder (a folder per format).
        pushed_encoder: EncoderPusher's PushedModel.
        tasks: per GLUE task, its fine-tuning ModelRun, blessing and pushed model.
    """

    config: dict[str, Any] | None = None
    corpus_examples: ArtifactRef | None = None
    statistics: ArtifactRef | None = None
    instance_statistics: ArtifactRef | None = None
    transform_graph: ArtifactRef | None = None
    pretraining_model_run: ArtifactRef | None = None
    exported_encoder: ArtifactRef | None = None
    pushed_encoder: ArtifactRef | None = None
    tasks: dict[str, TaskArtifacts] = dataclasses.field(default_factory=dict)
    phases: dict[str, dict[int, ArtifactRef]] = dataclasses.field(default_factory=dict)

    def uri(self, key: str) -> str | None:
        ref = getattr(self, key)
        return ref.uri if ref else None

    def glue_tasks(self) -> list[str]:
        """The run's GLUE tasks, in the config's order."""
        return list((self.config or {}).get("glue", {}).get("tasks") or sorted(self.tasks))


def inputs_from_artifacts(config: dict[str, Any] | None, refs: Mapping[str, ArtifactRef]) -> ReportInputs:
    """ReportInputs from artifacts by ReportGen's input keys (`contract.REPORT_SOURCES`, `report_task_key`)."""
    single = {key: refs.get(key) for key in contract.REPORT_SOURCES if key != contract.RUN_CONFIGURATION}
    inputs = ReportInputs(config=config, **single)
    for name, ref in refs.items():  # `report_phase_key`: `<key>_phase<number>`
        key, _, number = name.rpartition("_phase")
        if key in contract.REPORT_PHASE_SOURCES and number.isdigit():
            inputs.phases.setdefault(key, {})[int(number)] = ref
    for task in inputs.glue_tasks():
        per_task = {key: refs.get(contract.report_task_key(key, task)) for key in contract.REPORT_TASK_SOURCES}
        inputs.tasks[task] = TaskArtifacts(**per_task)
    return inputs


def inputs_from_store(reader: MetadataReader, run: RunRecord) -> ReportInputs:
    """ReportInputs for a run recorded in a store: each source's artifact by node id and output key."""
    outputs = reader.run_artifacts(run)
    config = run_config_of(run.executions)
    refs = {}
    for key, source in contract.REPORT_SOURCES.items():
        refs[key] = _latest(outputs, source)
    tasks = (config or {}).get("glue", {}).get("tasks", [])
    for task in tasks:
        for key, source in contract.REPORT_TASK_SOURCES.items():
            refs[contract.report_task_key(key, task)] = _latest(outputs, source, task)
    phases = len((config or {}).get("trainer", {}).get("later_phases", [])) + 1
    for number in range(1, phases + 1):
        for key, source in contract.REPORT_PHASE_SOURCES.items():
            node_id = contract.phase_node_id(source.node, number, phases)
            if node_id != source.node:
                refs[contract.report_phase_key(key, number)] = _latest(
                    outputs, dataclasses.replace(source, node=node_id)
                )
    return inputs_from_artifacts(config, {key: ref for key, ref in refs.items() if ref})


def _latest(outputs, source: contract.ArtifactSource, task: str | None = None) -> ArtifactRef | None:
    found = outputs.get(f"{source.node_id(task)}.{source.output}")
    return ArtifactRef(found[-1].uri, found[-1].properties) if found else None


# Data.


def corpus_counts(examples: ArtifactRef | None) -> dict[str, int]:
    """TextExampleGen's counts from its Examples artifact: the properties, else the JSON file beside the splits."""
    if examples is None:
        return {}
    counts = {
        name.removeprefix(contract.CORPUS_COUNT_PREFIX): int(value)
        for name, value in examples.properties.items()
        if name.startswith(contract.CORPUS_COUNT_PREFIX)
    }
    return counts or read_json(f"{examples.uri}/{contract.CORPUS_COUNTS_FILE}") or {}


def data_summary(inputs: ReportInputs) -> dict[str, Any]:
    """What the data steps read, dropped and made: the corpus counts, documents, instances and real tokens."""
    return {
        **corpus_counts(inputs.corpus_examples),
        "documents": statistics.split_counts(inputs.uri("statistics"), values_of=features.DOC_ID),
        "instances": statistics.split_counts(inputs.uri("instance_statistics")),
        "real_tokens": statistics.real_tokens(inputs.uri("instance_statistics")),
        "unknown_tokens": statistics.unknown_tokens(inputs.uri("instance_statistics")),
        "max_alphabet": (inputs.config or {}).get("data", {}).get("max_alphabet"),
        "later_phases": {
            number: {
                "instances": statistics.split_counts(ref.uri),
                "real_tokens": statistics.real_tokens(ref.uri),
            }
            for number, ref in sorted(inputs.phases.get("instance_statistics", {}).items())
        },
    }


def data_lines(summary: dict[str, Any]) -> list[str]:
    """The data summary as short lines of text (the run summary, the report)."""
    lines = []
    if "documents_read" in summary:
        lines.append(
            f"corpus: {summary['documents_read']:,} documents read, {summary['dropped_short']:,} too short, "
            f"{summary['dropped_duplicates']:,} duplicates, {summary['bad_lines']:,} lines with bad bytes; "
            f"{summary['documents_kept']:,} kept"
        )
    for split in sorted(summary.get("instances", {})):
        documents = summary.get("documents", {}).get(split)
        tokens = summary.get("real_tokens", {}).get(split)
        unknown = summary.get("unknown_tokens", {}).get(split)
        lines.append(
            f"{split}: "
            + (f"{documents:,} documents -> " if documents is not None else "")
            + f"{summary['instances'][split]:,} instances"
            + (f", {tokens:,} real tokens" if tokens is not None else "")
            + (f", {unknown / tokens:.1%} of them [UNK]" if unknown is not None and tokens else "")
        )
    for number, phase in summary.get("later_phases", {}).items():
        for split in sorted(phase["instances"]):
            tokens = phase["real_tokens"].get(split)
            lines.append(
                f"phase {number} {split}: {phase['instances'][split]:,} instances"
                + (f", {tokens:,} real tokens" if tokens is not None else "")
            )
    return lines


# A share of [UNK] tokens above which the run summary and the report warn: English Wikipedia under the smoke preset
# (an alphabet of 200 characters) has 0.1-0.3%; a Chinese or Japanese corpus under it about half.
UNKNOWN_SHARE_WARNING = 0.02


def data_warnings(summary: dict[str, Any]) -> list[str]:
    """What the data figures say is wrong enough to read before anything else."""
    unknown, tokens = sum(summary.get("unknown_tokens", {}).values()), sum(summary.get("real_tokens", {}).values())
    if not tokens or unknown / tokens <= UNKNOWN_SHARE_WARNING:
        return []
    alphabet = summary.get("max_alphabet")
    return [
        f"warning: {unknown / tokens:.1%} of the instances' tokens are [UNK]: the vocabulary cannot spell that share "
        f"of the corpus. Its alphabet keeps the data.max_alphabet={alphabet} most frequent characters; a corpus with "
        "more (Chinese, Japanese, many scripts) needs a larger one (--set data.max_alphabet=..., and data.vocab_size "
        "to match)"
    ]


def vocabulary(inputs: ReportInputs) -> list[str]:
    """The learned vocabulary (the transform graph's `vocab.txt` asset)."""
    uri = inputs.uri("transform_graph")
    if not uri:
        return []
    for candidate in glob(f"{uri}/transform_fn/assets/{features.VOCAB_FILE}*"):
        return read_bytes(candidate).decode("utf-8").splitlines()
    return []


# Pre-training.


def exported_encoder_dirs(inputs: ReportInputs) -> dict[str, str]:
    """The exported encoder's folder per format (`contract.EXPORT_FORMAT_DIRS`), those that exist."""
    uri = inputs.uri("exported_encoder")
    if not uri:
        return {}
    folders = {name: f"{uri}/{folder}" for name, folder in contract.EXPORT_FORMAT_DIRS.items()}
    return {name: folder for name, folder in folders.items() if glob(f"{folder}/*")}


def encoder_push(inputs: ReportInputs) -> str | None:
    """Where EncoderPusher put the encoder and which tasks' blessings carried it, or why it did not; None when no
    EncoderPusher ran."""
    pushed = inputs.pushed_encoder
    if pushed is None:
        return None
    if not pushed.properties.get("pushed"):
        return "not pushed: no GLUE task's Evaluator blessed the model fine-tuned from it"
    blessed_by = str(pushed.properties.get("blessed_by", "")).replace(",", ", ")
    return f"pushed to {pushed.properties.get('pushed_destination', pushed.uri)} (blessed on {blessed_by})"


def pretraining_history(inputs: ReportInputs) -> dict[str, list[float]] | None:
    """The Trainer's `history.json` (every metric of every logging period), if the run has one; with phases, the
    earlier phases' periods first (a metric the last phase logs, over every phase that logged it)."""
    uri = inputs.uri("pretraining_model_run")
    last = read_json(os.path.join(uri, contract.HISTORY_FILE)) if uri else None
    if not last:
        return last
    earlier = [
        read_json(os.path.join(run.uri, contract.HISTORY_FILE)) or {}
        for _, run in sorted(inputs.phases.get("pretraining_model_run", {}).items())
    ]
    return {name: [v for history in [*earlier, last] for v in history.get(name, [])] for name in last}


HEADLINE_PRETRAINING_METRICS = (
    "loss",
    "masked_lm_accuracy",
    "next_sentence_accuracy",
    "perplexity",
    "val_masked_lm_accuracy",
    "val_perplexity",
    "sequences_per_second",
)


def pretraining_recipe(config: Mapping[str, Any] | None) -> str | None:
    """One line naming the run's pre-training recipe: objective, sequence length, optimizer and learning-rate
    schedule over the steps or the time budget (settings a config recorded before they existed take their
    defaults)."""
    if not config or "trainer" not in config:
        return None
    trainer = {**dataclasses.asdict(TrainerConfig()), **config["trainer"]}
    data = config.get("data", {})
    shape = {
        "linear": "linear decay",
        "cosine": "cosine decay",
        "polynomial": f"polynomial decay (power {trainer['decay_power']:g})",
        "constant_then_decay": f"constant, then linear decay over the last {trainer['decay_fraction']:.0%}",
    }.get(trainer["schedule"], trainer["schedule"])
    if trainer["time_budget_minutes"] > 0:
        span = (
            f"warm-up over {trainer['warmup_fraction']:.0%} of a {trainer['time_budget_minutes']:g}-minute time "
            f"budget (at most {trainer['train_steps']:,} steps)"
        )
    else:
        span = f"{trainer['warmup_steps']:,} warm-up steps of {trainer['train_steps']:,}"
    objective = OBJECTIVES.get(data.get("objective", "mlm_nsp"), data.get("objective"))
    length = f"at {data.get('max_seq_length', '?')} tokens"
    if trainer["later_phases"]:
        sections = {"data": {**dataclasses.asdict(PretrainingDataConfig()), **data}, "trainer": trainer}
        phases = training_phases(
            section_from(sections, "data", PretrainingDataConfig), section_from(sections, "trainer", TrainerConfig)
        )
        length = f"in {len(phases)} phases: {describe(phases)}"
    optimizer = f"{trainer['optimizer']}, peak learning rate {trainer['learning_rate']:g}"
    return f"{objective} {length}; {optimizer}, {shape}; {span}"


def pretraining_summary(history: dict[str, list[float]] | None) -> dict[str, float]:
    """The last logged value of the pre-training metrics worth a headline."""
    return {k: history[k][-1] for k in HEADLINE_PRETRAINING_METRICS if history and history.get(k)}


# GLUE.


def fine_tuning_metrics(artifacts: TaskArtifacts | None) -> dict[str, Any] | None:
    """GlueFineTune's `dev_metrics.json` of a task, if it has one."""
    if not artifacts or not artifacts.fine_tuning_model_run:
        return None
    return read_json(os.path.join(artifacts.fine_tuning_model_run.uri, contract.GLUE_METRICS_FILE))


@dataclasses.dataclass
class TaskResult:
    """One GLUE task: dev metrics, the best constant predictor's, the Evaluator's decision, where the Pusher put it."""

    task: str
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    constant: dict[str, float] = dataclasses.field(default_factory=dict)
    train_steps: int | None = None
    blessed: bool | None = None
    pushed_to: str | None = None


def task_results(inputs: ReportInputs) -> list[TaskResult]:
    results = []
    for task in inputs.glue_tasks():
        artifacts = inputs.tasks.get(task, TaskArtifacts())
        result = TaskResult(task, blessed=artifacts.blessed, pushed_to=artifacts.pushed_to)
        metrics = fine_tuning_metrics(artifacts)
        if metrics:
            result.metrics = {k: float(v) for k, v in metrics.get("dev", {}).items() if k != "loss"}
            result.constant = {k: float(v) for k, v in metrics.get("constant_baseline", {}).get("eval", {}).items()}
            result.train_steps = metrics.get("train_steps")
        results.append(result)
    return results
