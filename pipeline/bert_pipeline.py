"""`create_pipeline`: the whole DAG, from a typed run config and paths. Reads no environment.

RunConfigGen (records the resolved config), TextExampleGen -> StatisticsGen -> SchemaGen -> Transform
(PretrainingTransform) -> InstanceStatisticsGen and Trainer (BERT pre-training; with `trainer.later_phases`, a
Transform and a Trainer per phase, each later Trainer starting from the one before), then per GLUE task:
GlueExampleGen -> GlueFineTune -> Evaluator (baseline: the task's last blessed model) -> Pusher; last,
ReportGen (the run report). Node ids and output keys come from `configs.pipeline_contract`, and the report's
inputs are wired from its table, so a node the report reads cannot be renamed here alone.
"""

from __future__ import annotations

import dataclasses
import os

from tfx.components import Evaluator, Pusher, SchemaGen, Trainer
from tfx.dsl.components.base import base_node
from tfx.dsl.components.base.base_beam_component import BaseBeamComponent
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration import data_types
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import pusher_pb2, transform_pb2
from tfx.types import channel, standard_artifacts

from components.encoder_export.component import EncoderExport
from components.encoder_pusher.component import EncoderPusher
from components.glue_example_gen.component import GlueExampleGen
from components.glue_fine_tune.component import GlueFineTune
from components.pretraining_transform.component import PretrainingTransform
from components.record_counts import CountingStatisticsGen
from components.report_gen.component import ReportGen
from components.run_config_gen.component import RunConfigGen
from components.text_example_gen.component import TextExampleGen
from configs import glue_tasks
from configs import pipeline_contract as contract
from configs.run_config import BeamConfig, RunConfig, to_custom_config
from configs.training_phases import training_phases
from pipeline.evaluation import glue_eval_config

PREPROCESSING_FN = "models.pretraining_data.preprocessing.preprocessing_fn"
RUN_FN = "models.pretraining.trainer_module.run_fn"


@dataclasses.dataclass(frozen=True)
class PipelinePaths:
    """Where a run reads and writes.

    Attributes:
        corpus_dir: folder of raw text files for pre-training (or a RuntimeParameter, in a compiled pipeline).
        glue_dir: GLUE data root, one folder per task (or a RuntimeParameter).
        pipeline_root: TFX artifacts.
        serving_dir: Pusher destination; blessed models land in `<serving_dir>/<task>/<version>`.
    """

    corpus_dir: str | data_types.RuntimeParameter
    glue_dir: str | data_types.RuntimeParameter
    pipeline_root: str
    serving_dir: str


@dataclasses.dataclass(frozen=True)
class DataNodes:
    """The pre-training data part of the DAG: corpus -> statistics -> schema -> instances -> their statistics."""

    corpus: TextExampleGen
    statistics: CountingStatisticsGen
    schema: SchemaGen
    transform: PretrainingTransform
    instance_statistics: CountingStatisticsGen

    def components(self) -> list[base_node.BaseNode]:
        return [self.corpus, self.statistics, self.schema, self.transform, self.instance_statistics]


def data_nodes(config: RunConfig, paths: PipelinePaths) -> DataNodes:
    """TextExampleGen -> StatisticsGen -> SchemaGen -> Transform -> InstanceStatisticsGen.

    Each step checks that it read every record the step before wrote (`components.record_counts`).

    Transform computes no statistics itself: TFX's Transform holds every transformed instance in memory
    until its write completes before computing them, so memory would grow with the corpus. A
    StatisticsGen reading the written instances streams instead.
    """
    corpus = TextExampleGen(input_base=paths.corpus_dir, custom_config=to_custom_config(config, "corpus")).with_id(
        contract.TEXT_EXAMPLE_GEN
    )
    statistics = CountingStatisticsGen(examples=corpus.outputs[contract.EXAMPLES]).with_id(contract.STATISTICS_GEN)
    schema = SchemaGen(statistics=statistics.outputs[contract.STATISTICS], infer_feature_shape=False).with_id(
        contract.SCHEMA_GEN
    )
    transform = PretrainingTransform(
        examples=corpus.outputs[contract.EXAMPLES],
        schema=schema.outputs[contract.SCHEMA],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=transform_pb2.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
        custom_config=to_custom_config(config, "data"),
    ).with_id(contract.TRANSFORM)
    instance_statistics = CountingStatisticsGen(examples=transform.outputs[contract.TRANSFORMED_EXAMPLES]).with_id(
        contract.INSTANCE_STATISTICS_GEN
    )
    return DataNodes(corpus, statistics, schema, transform, instance_statistics)


@dataclasses.dataclass(frozen=True)
class PretrainingNodes:
    """The pre-training phases' nodes (`configs.training_phases`): the later phases' Transforms and the statistics
    of their instances (the first phase's are `DataNodes.transform` and `instance_statistics`) and every phase's
    Trainer, first to last; the last Trainer's model is the run's."""

    later_transforms: list[PretrainingTransform]
    later_statistics: list[CountingStatisticsGen]
    trainers: list[Trainer]

    @property
    def final_trainer(self) -> Trainer:
        return self.trainers[-1]

    def components(self) -> list[base_node.BaseNode]:
        return [*self.later_transforms, *self.later_statistics, *self.trainers]


def pretraining_nodes(config: RunConfig, data: DataNodes) -> PretrainingNodes:
    """A Trainer per phase, each later one with a Transform of its own.

    A later phase's Transform makes instances of its length from the same corpus examples and the first Transform's
    vocabulary (its `vocabulary` input): TFX's Transform writes one set of examples with one schema, and the
    phases' instances differ in length and packing, so one Transform per length. It needs no Trainer, so it runs
    beside the first phase's training where the orchestrator runs nodes in parallel (Kubeflow). A later Trainer
    takes the Trainer before as its `base_model` (`models.pretraining.phase_state`), which ML Metadata records.
    """
    phases = training_phases(config.data, config.trainer)
    count = len(phases)
    custom_config = to_custom_config(config, "data", "model", "trainer")
    later_transforms, later_statistics, trainers = [], [], []
    transform = data.transform
    for phase in phases:
        if phase.number > 1:
            transform = PretrainingTransform(
                examples=data.corpus.outputs[contract.EXAMPLES],
                schema=data.schema.outputs[contract.SCHEMA],
                preprocessing_fn=PREPROCESSING_FN,
                splits_config=transform_pb2.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
                custom_config={"data": dataclasses.asdict(phase.data)},
                vocabulary=data.transform.outputs[contract.TRANSFORM_GRAPH],
            ).with_id(contract.phase_node_id(contract.TRANSFORM, phase.number, count))
            later_transforms.append(transform)
            later_statistics.append(  # checks that every instance written is there (`components.record_counts`)
                CountingStatisticsGen(examples=transform.outputs[contract.TRANSFORMED_EXAMPLES]).with_id(
                    contract.phase_node_id(contract.INSTANCE_STATISTICS_GEN, phase.number, count)
                )
            )
        trainer = Trainer(
            run_fn=RUN_FN,
            examples=transform.outputs[contract.TRANSFORMED_EXAMPLES],
            transform_graph=transform.outputs[contract.TRANSFORM_GRAPH],
            base_model=trainers[-1].outputs[contract.MODEL] if trainers else None,
            # A run of one phase names none, so its Trainer's config (and its checkpoints' fingerprint) stay as
            # they were before phases existed.
            custom_config={**custom_config, contract.TRAINER_PHASE_KEY: phase.number} if count > 1 else custom_config,
        ).with_id(contract.phase_node_id(contract.TRAINER, phase.number, count))
        trainers.append(trainer)
    return PretrainingNodes(later_transforms, later_statistics, trainers)


def _baseline_resolver(task_name: str) -> Resolver:
    """The task's last blessed fine-tuned model, the Evaluator's baseline."""
    return Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=channel.Channel(
            type=standard_artifacts.Model,
            producer_component_id=contract.task_node_id(contract.GLUE_FINE_TUNE, task_name),
            output_key=contract.MODEL,
        ),
        model_blessing=channel.Channel(
            type=standard_artifacts.ModelBlessing,
            producer_component_id=contract.task_node_id(contract.EVALUATOR, task_name),
            output_key=contract.BLESSING,
        ),
    ).with_id(contract.task_node_id(contract.BASELINE_RESOLVER, task_name))


def task_nodes(
    config: RunConfig, paths: PipelinePaths, task_name: str, pretrained_model: channel.BaseChannel, baseline: bool
) -> list[base_node.BaseNode]:
    """One GLUE task's nodes: GlueExampleGen -> GlueFineTune -> Evaluator (-> its baseline resolver) -> Pusher."""
    task = glue_tasks.get_task(task_name)
    examples = GlueExampleGen(glue_dir=paths.glue_dir, task=task_name).with_id(
        contract.task_node_id(contract.GLUE_EXAMPLE_GEN, task_name)
    )
    fine_tune = GlueFineTune(
        examples=examples.outputs[contract.EXAMPLES],
        pretrained_model=pretrained_model,
        task=task_name,
        custom_config=to_custom_config(config, "glue"),
    ).with_id(contract.task_node_id(contract.GLUE_FINE_TUNE, task_name))
    resolver = _baseline_resolver(task_name) if baseline else None
    evaluator = Evaluator(
        examples=examples.outputs[contract.EXAMPLES],
        model=fine_tune.outputs[contract.MODEL],
        baseline_model=resolver.outputs[contract.MODEL] if resolver else None,
        example_splits=[glue_tasks.EVAL_SPLIT],
        eval_config=glue_eval_config(task, config.glue),
    ).with_id(contract.task_node_id(contract.EVALUATOR, task_name))
    pusher = Pusher(
        model=fine_tune.outputs[contract.MODEL],
        model_blessing=evaluator.outputs[contract.BLESSING],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=os.path.join(paths.serving_dir, task_name))
        ),
    ).with_id(contract.task_node_id(contract.PUSHER, task_name))
    return [examples, fine_tune, *([resolver] if resolver else []), evaluator, pusher]


def encoder_pusher(
    nodes: list[base_node.BaseNode], tasks: list[str], encoder_export: EncoderExport, paths: PipelinePaths
) -> EncoderPusher:
    """Pushes the exported encoder to `serving/encoder/` when a task's Evaluator blessed its fine-tuned model."""
    by_id = {node.id: node for node in nodes}
    blessings = {
        task: by_id[contract.task_node_id(contract.EVALUATOR, task)].outputs[contract.BLESSING] for task in tasks
    }
    return EncoderPusher(
        exported_encoder=encoder_export.outputs[contract.EXPORTED_ENCODER],
        blessings=blessings,
        push_destination=os.path.join(paths.serving_dir, contract.ENCODER_SERVING_DIR),
    ).with_id(contract.ENCODER_PUSHER)


def with_step_beam_args(nodes: list[base_node.BaseNode], beam: BeamConfig) -> None:
    """Adds `beam.step_args` to the Beam steps they name (after the pipeline's options, so they win); raises
    ValueError for a name that is not a Beam step of `nodes`."""
    beam_nodes = {node.id: node for node in nodes if isinstance(node, BaseBeamComponent)}
    unknown = sorted(set(beam.step_args) - set(beam_nodes))
    if unknown:
        raise ValueError(f"beam.step_args names {unknown}, which are not Beam steps of this run: {sorted(beam_nodes)}")
    for node_id, args in beam.step_args.items():
        beam_nodes[node_id].with_beam_pipeline_args(args)


def report_channels(nodes: list[base_node.BaseNode], tasks: list[str]) -> dict[str, channel.BaseChannel]:
    """ReportGen's inputs, found by the contract's table (`REPORT_SOURCES`, and `REPORT_TASK_SOURCES` per task), and
    the phases' sources (`REPORT_PHASE_SOURCES` of each node with a `_phase<N>` id, under `report_phase_key`).

    Raises LookupError naming the node or output the report reads and the DAG lacks.
    """
    by_id = {node.id: node for node in nodes}

    def output(source: contract.ArtifactSource, task: str | None = None) -> channel.BaseChannel:
        node_id = source.node_id(task)
        if node_id not in by_id:
            raise LookupError(f"the run report reads {node_id}.{source.output}, but the pipeline has no node {node_id}")
        if source.output not in by_id[node_id].outputs:
            raise LookupError(f"the run report reads {node_id}.{source.output}, but {node_id} has no such output")
        return by_id[node_id].outputs[source.output]

    inputs = {key: output(source) for key, source in contract.REPORT_SOURCES.items()}
    for task in tasks:
        for key, source in contract.REPORT_TASK_SOURCES.items():
            inputs[contract.report_task_key(key, task)] = output(source, task)
    for node_id, node in by_id.items():
        kind = contract.node_kind(node_id)
        for key, source in contract.REPORT_PHASE_SOURCES.items():
            if kind == source.node and node_id != kind:
                inputs[contract.report_phase_key(key, int(node_id.rsplit("_phase", 1)[1]))] = node.outputs[
                    source.output
                ]
    return inputs


def create_pipeline(
    config: RunConfig,
    paths: PipelinePaths,
    metadata_connection_config=None,
    beam_pipeline_args: list[str] | None = None,
    enable_cache: bool = True,
    report_metadata_connection: str = "",
    baseline_models: bool = True,
) -> Pipeline:
    """The BERT pre-training and GLUE evaluation pipeline for `config`.

    `report_metadata_connection` (an `ml_metadata.ConnectionConfig` in text format, without password) lets
    the run report read the run's components and lineage from the store; "" leaves them out of it.
    `baseline_models=False` leaves out each task's resolver of its last blessed model, so the Evaluators
    gate on absolute bounds only (the Kubeflow runner does: see `kubeflow/README.md`).
    """
    config.validate()
    run_config = RunConfigGen(run_config=config.to_dict()).with_id(contract.RUN_CONFIG_GEN)
    data = data_nodes(config, paths)
    pretraining = pretraining_nodes(config, data)
    trainer = pretraining.final_trainer
    final_data = training_phases(config.data, config.trainer)[-1].data
    encoder_export = EncoderExport(
        model=trainer.outputs[contract.MODEL], custom_config={"data": dataclasses.asdict(final_data)}
    ).with_id(contract.ENCODER_EXPORT)
    nodes = [run_config, *data.components(), *pretraining.components(), encoder_export]
    for task_name in config.glue.tasks:
        nodes += task_nodes(config, paths, task_name, trainer.outputs[contract.MODEL], baseline_models)
    nodes.append(encoder_pusher(nodes, config.glue.tasks, encoder_export, paths))
    report = ReportGen(
        inputs=report_channels(nodes, config.glue.tasks), metadata_connection=report_metadata_connection
    ).with_id(contract.REPORT_GEN)
    with_step_beam_args(nodes, config.beam)
    return Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=paths.pipeline_root,
        components=[*nodes, report],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )
