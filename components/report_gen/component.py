"""ReportGen component: a run's report (HTML and Markdown with pictures) as the DAG's last artifact.

Its inputs are everything the report shows, so it runs after every other node and re-runs when any of
them changes. With `metadata_connection` (the store the run is recorded in) the report also shows the
run's components, their times and the lineage picture; without it (a cluster whose store the
containers cannot reach) it shows what the artifacts hold, and `bert-tfx report RUN` adds the rest.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, channel, component_spec, standard_artifacts

from components.run_artifacts import RUN_CONFIG_FILE, RunConfiguration, RunReport
from inspection import report as report_lib

RUN_CONFIGURATION_KEY = "run_configuration"
STATISTICS_KEY = "statistics"
POST_TRANSFORM_STATISTICS_KEY = "post_transform_statistics"
TRANSFORM_GRAPH_KEY = "transform_graph"
PRETRAINING_RUN_KEY = "pretraining_run"
GLUE_RUNS_KEY = "glue_runs"
BLESSINGS_KEY = "blessings"
PUSHED_MODELS_KEY = "pushed_models"
REPORT_KEY = "report"
METADATA_CONNECTION_KEY = "metadata_connection"


def _refs(input_dict, key: str) -> list[report_lib.ArtifactRef]:
    return [report_lib.ArtifactRef(a.uri, dict(_custom_properties(a))) for a in input_dict.get(key, [])]


def _custom_properties(artifact) -> dict[str, Any]:
    return {name: artifact.get_custom_property(name) for name in artifact.mlmd_artifact.custom_properties}


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
            post_transform_statistics=single(POST_TRANSFORM_STATISTICS_KEY),
            transform_graph=single(TRANSFORM_GRAPH_KEY),
            pretraining_run=single(PRETRAINING_RUN_KEY),
            glue_runs=_refs(input_dict, GLUE_RUNS_KEY),
            blessings=_refs(input_dict, BLESSINGS_KEY),
            pushed_models=_refs(input_dict, PUSHED_MODELS_KEY),
        )
        run, lineage_dot = None, None
        connection = exec_properties.get(METADATA_CONNECTION_KEY) or ""
        if connection and self._context and self._context.pipeline_run_id:
            run, lineage_dot = report_lib.run_and_lineage(connection, self._context.pipeline_run_id)
        report_lib.write_report(inputs, artifact_utils.get_single_uri(output_dict[REPORT_KEY]), run, lineage_dot)


class ReportGenSpec(component_spec.ComponentSpec):
    PARAMETERS = {METADATA_CONNECTION_KEY: component_spec.ExecutionParameter(type=str, optional=True)}
    INPUTS = {
        RUN_CONFIGURATION_KEY: component_spec.ChannelParameter(type=RunConfiguration),
        STATISTICS_KEY: component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics),
        POST_TRANSFORM_STATISTICS_KEY: component_spec.ChannelParameter(
            type=standard_artifacts.ExampleStatistics, optional=True
        ),
        TRANSFORM_GRAPH_KEY: component_spec.ChannelParameter(type=standard_artifacts.TransformGraph),
        PRETRAINING_RUN_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelRun),
        GLUE_RUNS_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelRun, optional=True),
        BLESSINGS_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing, optional=True),
        PUSHED_MODELS_KEY: component_spec.ChannelParameter(type=standard_artifacts.PushedModel, optional=True),
    }
    OUTPUTS = {REPORT_KEY: component_spec.ChannelParameter(type=RunReport)}


class ReportGen(base_component.BaseComponent):
    """The run report.

    Args:
        run_configuration: RunConfigGen's output.
        statistics: StatisticsGen's output (documents per split).
        transform_graph: Transform's graph (vocabulary).
        pretraining_run: the Trainer's `model_run`.
        post_transform_statistics: Transform's `post_transform_stats` (pre-training instances).
        glue_runs, blessings, pushed_models: the per-task GlueFineTune `model_run`s, Evaluator `blessing`s and
            Pusher `pushed_model`s, each a union of the tasks' channels (`tfx.types.channel.union`).
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
        glue_runs: channel.BaseChannel | None = None,
        blessings: channel.BaseChannel | None = None,
        pushed_models: channel.BaseChannel | None = None,
        metadata_connection: str = "",
    ):
        super().__init__(
            spec=ReportGenSpec(
                run_configuration=run_configuration,
                statistics=statistics,
                post_transform_statistics=post_transform_statistics,
                transform_graph=transform_graph,
                pretraining_run=pretraining_run,
                glue_runs=glue_runs,
                blessings=blessings,
                pushed_models=pushed_models,
                metadata_connection=metadata_connection,
                report=channel.Channel(type=RunReport),
            )
        )
