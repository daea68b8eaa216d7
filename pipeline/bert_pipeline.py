"""`create_pipeline`: the whole DAG, from a typed run config and paths. Reads no environment.

RunConfigGen (records the resolved config), TextExampleGen -> StatisticsGen -> SchemaGen -> Transform
(PretrainingTransform) -> InstanceStatisticsGen and Trainer (BERT pre-training), then per GLUE task:
GlueExampleGen -> GlueFineTune -> Evaluator (baseline: the task's last blessed model) -> Pusher; last,
ReportGen (the run report).
"""

from __future__ import annotations

import dataclasses
import os

from tfx import v1 as tfx
from tfx.orchestration import data_types
from tfx.types import standard_artifacts

from components.glue_example_gen.component import GlueExampleGen
from components.glue_fine_tune.component import GlueFineTune
from components.pretraining_transform.component import PretrainingTransform
from components.report_gen.component import ReportGen
from components.run_config_gen.component import RunConfigGen
from components.text_example_gen.component import TextExampleGen
from configs import glue_tasks
from configs.run_config import RunConfig, to_custom_config
from pipeline.evaluation import glue_eval_config

PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "models.trainer_module.run_fn"


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


def component_id(kind: str, task: str) -> str:
    """Id of a per-task component, e.g. `GlueFineTune_sst2`."""
    return f"{kind}_{task}"


@dataclasses.dataclass(frozen=True)
class DataNodes:
    """The pre-training data part of the DAG: corpus -> statistics -> schema -> instances -> their statistics."""

    corpus: TextExampleGen
    statistics: tfx.components.StatisticsGen
    schema: tfx.components.SchemaGen
    transform: PretrainingTransform
    instance_statistics: tfx.components.StatisticsGen

    def components(self) -> list:
        return [self.corpus, self.statistics, self.schema, self.transform, self.instance_statistics]


def data_nodes(config: RunConfig, paths: PipelinePaths) -> DataNodes:
    """TextExampleGen -> StatisticsGen -> SchemaGen -> Transform -> InstanceStatisticsGen.

    Transform computes no statistics itself: TFX's Transform holds every transformed instance in memory
    until its write completes before computing them, so memory would grow with the corpus. A
    StatisticsGen reading the written instances streams instead.
    """
    corpus = TextExampleGen(
        input_base=paths.corpus_dir,
        input_pattern=config.corpus.input_pattern,
        train_buckets=config.corpus.train_buckets,
        eval_buckets=config.corpus.eval_buckets,
        min_document_chars=config.corpus.min_document_chars,
        on_bad_bytes=config.corpus.on_bad_bytes,
        documents_per_group=config.corpus.documents_per_group,
    ).with_id("TextExampleGen")
    statistics = tfx.components.StatisticsGen(examples=corpus.outputs["examples"])
    schema = tfx.components.SchemaGen(statistics=statistics.outputs["statistics"], infer_feature_shape=False)
    transform = PretrainingTransform(
        examples=corpus.outputs["examples"],
        schema=schema.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
        custom_config=to_custom_config(config, "data"),
        disable_statistics=True,
    ).with_id("Transform")
    instance_statistics = tfx.components.StatisticsGen(examples=transform.outputs["transformed_examples"]).with_id(
        "InstanceStatisticsGen"
    )
    return DataNodes(corpus, statistics, schema, transform, instance_statistics)


def pretraining_trainer(config: RunConfig, transform: PretrainingTransform) -> tfx.components.Trainer:
    """The Trainer that pre-trains BERT on the Transform's instances."""
    return tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        custom_config=to_custom_config(config, "data", "model", "trainer"),
    )


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
    run_config = RunConfigGen(run_config=config.to_dict()).with_id("RunConfigGen")
    data = data_nodes(config, paths)
    statistics, transform = data.statistics, data.transform
    trainer = pretraining_trainer(config, transform)
    components = [run_config, *data.components(), trainer]
    task_outputs = {}

    for task_name in config.glue.tasks:
        task = glue_tasks.get_task(task_name)
        glue_examples = GlueExampleGen(glue_dir=paths.glue_dir, task=task_name).with_id(
            component_id("GlueExampleGen", task_name)
        )
        fine_tune = GlueFineTune(
            examples=glue_examples.outputs["examples"],
            pretrained_model=trainer.outputs["model"],
            task=task_name,
            custom_config=to_custom_config(config, "glue"),
        ).with_id(component_id("GlueFineTune", task_name))
        evaluator_id = component_id("Evaluator", task_name)
        baseline = None
        if baseline_models:
            baseline = tfx.dsl.Resolver(
                strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
                model=tfx.dsl.Channel(
                    type=standard_artifacts.Model,
                    producer_component_id=fine_tune.id,
                    output_key="model",
                ),
                model_blessing=tfx.dsl.Channel(
                    type=standard_artifacts.ModelBlessing,
                    producer_component_id=evaluator_id,
                    output_key="blessing",
                ),
            ).with_id(component_id("LatestBlessedModelResolver", task_name))
        evaluator = tfx.components.Evaluator(
            examples=glue_examples.outputs["examples"],
            model=fine_tune.outputs["model"],
            baseline_model=baseline.outputs["model"] if baseline else None,
            example_splits=["eval"],
            eval_config=glue_eval_config(
                task,
                bounds=config.glue.bounds.get(task_name, {}),
                constant_margin=config.glue.constant_margin,
                max_drop=config.glue.max_drop,
            ),
        ).with_id(evaluator_id)
        pusher = tfx.components.Pusher(
            model=fine_tune.outputs["model"],
            model_blessing=evaluator.outputs["blessing"],
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(
                    base_directory=os.path.join(paths.serving_dir, task_name)
                )
            ),
        ).with_id(component_id("Pusher", task_name))
        components += [glue_examples, fine_tune, *([baseline] if baseline else []), evaluator, pusher]
        task_outputs[task_name] = {
            "glue_run": fine_tune.outputs["model_run"],
            "blessing": evaluator.outputs["blessing"],
            "pushed_model": pusher.outputs["pushed_model"],
        }

    report = ReportGen(
        run_configuration=run_config.outputs["run_configuration"],
        statistics=statistics.outputs["statistics"],
        post_transform_statistics=data.instance_statistics.outputs["statistics"],
        corpus_examples=data.corpus.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        pretraining_run=trainer.outputs["model_run"],
        task_outputs=task_outputs,
        metadata_connection=report_metadata_connection,
    ).with_id("ReportGen")
    components.append(report)

    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=paths.pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )
