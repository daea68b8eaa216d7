"""ReportGen component: a run's report (HTML and Markdown with pictures) as the DAG's last artifact.

Its inputs are everything the report shows, so it runs after every other node and re-runs when any of
them changes. Per GLUE task it takes three inputs, `glue_run_<task>`, `blessing_<task>` and
`pushed_model_<task>`: the spec is made for the run's task list (`report_gen_spec`), because Kubeflow
Pipelines v2 compiles one channel per input key and no union of channels.

With `metadata_connection` (the store the run is recorded in) the report also shows the run's components,
their times and the lineage picture; without it (a cluster whose store the containers cannot reach) it
shows what the artifacts hold, and `bert-tfx report RUN` adds the rest.
"""

from __future__ import annotations

import json
import os
from typing import Any

from google.protobuf import json_format
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, channel, component_spec, standard_artifacts

from components.run_artifacts import RUN_CONFIG_FILE, RunConfiguration, RunReport
from inspection import report as report_lib

RUN_CONFIGURATION_KEY = "run_configuration"
STATISTICS_KEY = "statistics"
CORPUS_EXAMPLES_KEY = "corpus_examples"
POST_TRANSFORM_STATISTICS_KEY = "post_transform_statistics"
TRANSFORM_GRAPH_KEY = "transform_graph"
PRETRAINING_RUN_KEY = "pretraining_run"
GLUE_RUN_PREFIX = "glue_run_"
BLESSING_PREFIX = "blessing_"
PUSHED_MODEL_PREFIX = "pushed_model_"
REPORT_KEY = "report"
METADATA_CONNECTION_KEY = "metadata_connection"


def _refs(input_dict, key: str) -> list[report_lib.ArtifactRef]:
    return [report_lib.ArtifactRef(a.uri, dict(_custom_properties(a))) for a in input_dict.get(key, [])]


def _refs_with_prefix(input_dict, prefix: str) -> list[report_lib.ArtifactRef]:
    return [ref for key in sorted(input_dict) if key.startswith(prefix) for ref in _refs(input_dict, key)]


def _custom_properties(artifact) -> dict[str, Any]:
    """An artifact's custom properties as plain values.

    In a Kubeflow step they arrive as struct values (`{"__value__": x}`) built from the producer's reported
    metadata, and TFX's getter decodes a zero among them as None; those are read here directly.
    """
    values = {}
    for name, value in artifact.mlmd_artifact.custom_properties.items():
        if value.HasField("struct_value") and "__value__" in value.struct_value.fields:
            values[name] = json_format.MessageToDict(value.struct_value)["__value__"]
        else:
            values[name] = artifact.get_custom_property(name)
    return values


class Executor(base_executor.BaseExecutor):
    """Writes the report of the current pipeline run into the `report` artifact."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        config_uri = artifact_utils.get_single_uri(input_dict[RUN_CONFIGURATION_KEY])
        with open(os.path.join(config_uri, RUN_CONFIG_FILE)) as f:
            config = json.load(f)

        def single(key):
            refs = _refs(input_dict, key)
            return refs[0] if refs else None

        inputs = report_lib.collect_inputs(
            config=config,
            statistics=single(STATISTICS_KEY),
            corpus_examples=single(CORPUS_EXAMPLES_KEY),
            post_transform_statistics=single(POST_TRANSFORM_STATISTICS_KEY),
            transform_graph=single(TRANSFORM_GRAPH_KEY),
            pretraining_run=single(PRETRAINING_RUN_KEY),
            glue_runs=_refs_with_prefix(input_dict, GLUE_RUN_PREFIX),
            blessings=_refs_with_prefix(input_dict, BLESSING_PREFIX),
            pushed_models=_refs_with_prefix(input_dict, PUSHED_MODEL_PREFIX),
        )
        run, lineage_dot = None, None
        connection = exec_properties.get(METADATA_CONNECTION_KEY) or ""
        if connection and self._context and self._context.pipeline_run_id:
            node = self._context.pipeline_node
            run, lineage_dot = report_lib.run_and_lineage(
                connection, self._context.pipeline_run_id, reporting_node=node.node_info.id if node else "ReportGen"
            )
        report_lib.write_report(inputs, artifact_utils.get_single_uri(output_dict[REPORT_KEY]), run, lineage_dot)


class ReportGenSpec(component_spec.ComponentSpec):
    PARAMETERS = {METADATA_CONNECTION_KEY: component_spec.ExecutionParameter(type=str, optional=True)}
    INPUTS = {
        RUN_CONFIGURATION_KEY: component_spec.ChannelParameter(type=RunConfiguration),
        STATISTICS_KEY: component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics),
        CORPUS_EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples, optional=True),
        POST_TRANSFORM_STATISTICS_KEY: component_spec.ChannelParameter(
            type=standard_artifacts.ExampleStatistics, optional=True
        ),
        TRANSFORM_GRAPH_KEY: component_spec.ChannelParameter(type=standard_artifacts.TransformGraph),
        PRETRAINING_RUN_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelRun),
    }
    OUTPUTS = {REPORT_KEY: component_spec.ChannelParameter(type=RunReport)}


def report_gen_spec(tasks: list[str]) -> type[ReportGenSpec]:
    """ReportGenSpec with the three per-task inputs of each GLUE task."""
    per_task = {}
    for task in tasks:
        per_task[GLUE_RUN_PREFIX + task] = component_spec.ChannelParameter(type=standard_artifacts.ModelRun)
        per_task[BLESSING_PREFIX + task] = component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing)
        per_task[PUSHED_MODEL_PREFIX + task] = component_spec.ChannelParameter(type=standard_artifacts.PushedModel)
    return type("ReportGenSpec", (ReportGenSpec,), {"INPUTS": {**ReportGenSpec.INPUTS, **per_task}})


class ReportGen(base_component.BaseComponent):
    """The run report.

    Args:
        run_configuration: RunConfigGen's output.
        statistics: StatisticsGen's output (documents per split).
        corpus_examples: TextExampleGen's output (its counts of documents read, dropped and kept).
        transform_graph: Transform's graph (vocabulary).
        pretraining_run: the Trainer's `model_run`.
        post_transform_statistics: statistics of the pre-training instances (InstanceStatisticsGen's).
        task_outputs: per GLUE task, its GlueFineTune `model_run`, Evaluator `blessing` and Pusher
            `pushed_model` channels: `{"sst2": {"glue_run": ..., "blessing": ..., "pushed_model": ...}}`.
        metadata_connection: the run's ML Metadata store as `ml_metadata.ConnectionConfig` text (no password:
            the executor takes a MySQL password from `BERT_TFX_MYSQL_PASSWORD`); "" leaves out the run's
            components and lineage.
    """

    SPEC_CLASS = ReportGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        run_configuration: channel.BaseChannel,
        statistics: channel.BaseChannel,
        transform_graph: channel.BaseChannel,
        pretraining_run: channel.BaseChannel,
        post_transform_statistics: channel.BaseChannel | None = None,
        corpus_examples: channel.BaseChannel | None = None,
        task_outputs: dict[str, dict[str, channel.BaseChannel]] | None = None,
        metadata_connection: str = "",
    ):
        task_outputs = task_outputs or {}
        per_task = {
            f"{kind}_{task}": channels[kind]
            for task, channels in task_outputs.items()
            for kind in ("glue_run", "blessing", "pushed_model")
        }
        spec_class = report_gen_spec(list(task_outputs))
        super().__init__(
            spec=spec_class(
                run_configuration=run_configuration,
                statistics=statistics,
                corpus_examples=corpus_examples,
                post_transform_statistics=post_transform_statistics,
                transform_graph=transform_graph,
                pretraining_run=pretraining_run,
                metadata_connection=metadata_connection,
                report=channel.Channel(type=RunReport),
                **per_task,
            )
        )
