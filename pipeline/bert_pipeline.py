"""`create_pipeline`: the whole DAG, from a typed run config and paths. Reads no environment.

RunConfigGen (records the resolved config), TextExampleGen -> StatisticsGen -> SchemaGen -> Transform
(PretrainingTransform) -> InstanceStatisticsGen and Trainer (BERT pre-training), then per GLUE task:
GlueExampleGen -> GlueFineTune -> Evaluator (baseline: the task's last blessed model) -> Pusher; last,
ReportGen (the run report). Node ids and output keys come from `configs.pipeline_contract`, and the report's
inputs are wired from its table, so a node the report reads cannot be renamed here alone.
"""

from __future__ import annotations

import dataclasses
import os

from tfx import v1 as tfx
from tfx.dsl.components.base import base_node
from tfx.orchestration import data_types
from tfx.types import channel, standard_artifacts

from components.encoder_export.component import EncoderExport
from components.encoder_pusher.component import EncoderPusher
from components.glue_example_gen.component import GlueExampleGen
from components.glue_fine_tune.component import GlueFineTune
from components.pretraining_transform.component import PretrainingTransform
from components.report_gen.component import ReportGen
from components.run_config_gen.component import RunConfigGen
from components.text_example_gen.component import TextExampleGen
from configs import glue_tasks
from configs import pipeline_contract as contract
from configs.run_config import RunConfig, to_custom_config
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
    statistics: tfx.components.StatisticsGen
    schema: tfx.components.SchemaGen
    transform: PretrainingTransform
    instance_statistics: tfx.components.StatisticsGen

    def components(self) -> list[base_node.BaseNode]:
        return [self.corpus, self.statistics, self.schema, self.transform, self.instance_statistics]


def data_nodes(config: RunConfig, paths: PipelinePaths) -> DataNodes:
    """TextExampleGen -> StatisticsGen -> SchemaGen -> Transform -> InstanceStatisticsGen.

    Transform computes no statistics itself: TFX's Transform holds every transformed instance in memory
    until its write completes before computing them, so memory would grow with the corpus. A
    StatisticsGen reading the written instances streams instead.
    """
    corpus = TextExampleGen(input_base=paths.corpus_dir, custom_config=to_custom_config(config, "corpus")).with_id(
        contract.TEXT_EXAMPLE_GEN
    )
    statistics = tfx.components.StatisticsGen(examples=corpus.outputs[contract.EXAMPLES]).with_id(
        contract.STATISTICS_GEN
    )
    schema = tfx.components.SchemaGen(
        statistics=statistics.outputs[contract.STATISTICS], infer_feature_shape=False
    ).with_id(contract.SCHEMA_GEN)
    transform = PretrainingTransform(
        examples=corpus.outputs[contract.EXAMPLES],
        schema=schema.outputs[contract.SCHEMA],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
        custom_config=to_custom_config(config, "data"),
        disable_statistics=True,
    ).with_id(contract.TRANSFORM)
    instance_statistics = tfx.components.StatisticsGen(
        examples=transform.outputs[contract.TRANSFORMED_EXAMPLES]
    ).with_id(contract.INSTANCE_STATISTICS_GEN)
    return DataNodes(corpus, statistics, schema, transform, instance_statistics)


def pretraining_trainer(config: RunConfig, transform: PretrainingTransform) -> tfx.components.Trainer:
    """The Trainer that pre-trains BERT on the Transform's instances."""
    return tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs[contract.TRANSFORMED_EXAMPLES],
        transform_graph=transform.outputs[contract.TRANSFORM_GRAPH],
        custom_config=to_custom_config(config, "data", "model", "trainer"),
    ).with_id(contract.TRAINER)


def _baseline_resolver(task_name: str) -> tfx.dsl.Resolver:
    """The task's last blessed fine-tuned model, the Evaluator's baseline."""
    return tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(
            type=standard_artifacts.Model,
            producer_component_id=contract.task_node_id(contract.GLUE_FINE_TUNE, task_name),
            output_key=contract.MODEL,
        ),
        model_blessing=tfx.dsl.Channel(
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
    evaluator = tfx.components.Evaluator(
        examples=examples.outputs[contract.EXAMPLES],
        model=fine_tune.outputs[contract.MODEL],
        baseline_model=resolver.outputs[contract.MODEL] if resolver else None,
        example_splits=[glue_tasks.EVAL_SPLIT],
        eval_config=glue_eval_config(task, config.glue),
    ).with_id(contract.task_node_id(contract.EVALUATOR, task_name))
    pusher = tfx.components.Pusher(
        model=fine_tune.outputs[contract.MODEL],
        model_blessing=evaluator.outputs[contract.BLESSING],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=os.path.join(paths.serving_dir, task_name))
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


def report_channels(nodes: list[base_node.BaseNode], tasks: list[str]) -> dict[str, channel.BaseChannel]:
    """ReportGen's inputs, found by the contract's table (`REPORT_SOURCES`, and `REPORT_TASK_SOURCES` per task).

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
    return inputs


def create_pipeline(
    config: RunConfig,
    paths: PipelinePaths,
    metadata_connection_config=None,
    beam_pipeline_args: list[str] | None = None,
    enable_cache: bool = True,
    report_metadata_connection: str = "",
    baseline_models: bool = True,
) -> tfx.dsl.Pipeline:
    """The BERT pre-training and GLUE evaluation pipeline for `config`.

    `report_metadata_connection` (an `ml_metadata.ConnectionConfig` in text format, without password) lets
    the run report read the run's components and lineage from the store; "" leaves them out of it.
    `baseline_models=False` leaves out each task's resolver of its last blessed model, so the Evaluators
    gate on absolute bounds only (the Kubeflow runner does: see `kubeflow/README.md`).
    """
    config.validate()
    run_config = RunConfigGen(run_config=config.to_dict()).with_id(contract.RUN_CONFIG_GEN)
    data = data_nodes(config, paths)
    trainer = pretraining_trainer(config, data.transform)
    encoder_export = EncoderExport(
        model=trainer.outputs[contract.MODEL], custom_config=to_custom_config(config, "data")
    ).with_id(contract.ENCODER_EXPORT)
    nodes = [run_config, *data.components(), trainer, encoder_export]
    for task_name in config.glue.tasks:
        nodes += task_nodes(config, paths, task_name, trainer.outputs[contract.MODEL], baseline_models)
    nodes.append(encoder_pusher(nodes, config.glue.tasks, encoder_export, paths))
    report = ReportGen(
        inputs=report_channels(nodes, config.glue.tasks), metadata_connection=report_metadata_connection
    ).with_id(contract.REPORT_GEN)
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=paths.pipeline_root,
        components=[*nodes, report],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )
