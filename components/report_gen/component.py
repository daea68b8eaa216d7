"""ReportGen component: a run's report (HTML and Markdown with pictures) as the DAG's last artifact.

Its inputs are everything the report shows, so it runs after every other node and re-runs when any of them
changes. They arrive under the keys of `configs.pipeline_contract.REPORT_SOURCES`, and per GLUE task under
`report_task_key(key, task)` for each key of `REPORT_TASK_SOURCES` (`blessing_sst2`, ...): the pipeline wires
them from that table (`pipeline.bert_pipeline`), and the spec is made for the channels given, because Kubeflow
Pipelines v2 compiles one channel per input key and no union of channels.

With `metadata_connection` (the store the run is recorded in) the report also shows the run's components,
their times and the lineage picture; without it (a cluster whose store the containers cannot reach) it
shows what the artifacts hold, and `bert-tfx report RUN` adds the rest.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from google.protobuf import json_format
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, channel, component_spec

from components.run_artifacts import RunReport
from configs import pipeline_contract as contract
from inspection import lineage, report
from inspection.run_contents import ArtifactRef, inputs_from_artifacts

METADATA_CONNECTION_KEY = "metadata_connection"


def artifact_ref(artifact: types.Artifact) -> ArtifactRef:
    """What the report reads of an input artifact: its URI and its custom properties as plain values.

    In a Kubeflow step the properties arrive as struct values (`{"__value__": x}`) built from the producer's reported
    metadata, and TFX's getter decodes a zero among them as None; those are read here directly.
    """
    values = {}
    for name, value in artifact.mlmd_artifact.custom_properties.items():
        if value.HasField("struct_value") and "__value__" in value.struct_value.fields:
            values[name] = json_format.MessageToDict(value.struct_value)["__value__"]
        else:
            values[name] = artifact.get_custom_property(name)
    return ArtifactRef(artifact.uri, values)


def _copy_tree(local_dir: str, uri: str) -> None:
    """Copies the files of `local_dir` into the folder `uri` (any file system TFX's `fileio` knows)."""
    fileio.makedirs(uri)
    for name in sorted(os.listdir(local_dir)):
        fileio.copy(os.path.join(local_dir, name), os.path.join(uri, name), overwrite=True)


class Executor(base_executor.BaseExecutor):
    """Writes the report of the current pipeline run into the `report` artifact."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        config_uri = artifact_utils.get_single_uri(input_dict[contract.RUN_CONFIGURATION])
        with fileio.open(os.path.join(config_uri, contract.RUN_CONFIG_FILE)) as f:
            config = json.load(f)
        refs = {key: artifact_ref(found[0]) for key, found in input_dict.items() if found}
        inputs = inputs_from_artifacts(config, refs)
        run, lineage_dot = None, None
        connection = exec_properties.get(METADATA_CONNECTION_KEY) or ""
        if connection and self._context and self._context.pipeline_run_id:
            node = self._context.pipeline_node
            reporting_node = node.node_info.id if node else contract.REPORT_GEN
            run, lineage_dot = lineage.run_with_lineage(connection, self._context.pipeline_run_id, reporting_node)
        uri = artifact_utils.get_single_uri(output_dict[contract.REPORT])
        # The report is drawn into a local folder (matplotlib and Graphviz write local files), then copied where
        # the artifact lives, which on Kubeflow is a bucket.
        with tempfile.TemporaryDirectory() as local_dir:
            report.write_report(inputs, local_dir, run, lineage_dot)
            _copy_tree(local_dir, uri)


class ReportGenSpec(component_spec.ComponentSpec):
    """ReportGen's parameters and output; `report_gen_spec` adds the inputs of a pipeline's channels."""

    PARAMETERS = {METADATA_CONNECTION_KEY: component_spec.ExecutionParameter(type=str, optional=True)}
    INPUTS: dict[str, component_spec.ChannelParameter] = {}
    OUTPUTS = {contract.REPORT: component_spec.ChannelParameter(type=RunReport)}


def report_gen_spec(inputs: dict[str, channel.BaseChannel]) -> type[ReportGenSpec]:
    """ReportGenSpec with one input per channel, typed as the channel is."""
    spec_inputs = {key: component_spec.ChannelParameter(type=ch.type) for key, ch in inputs.items()}
    return type("ReportGenSpec", (ReportGenSpec,), {"INPUTS": spec_inputs})


class ReportGen(base_component.BaseComponent):
    """The run report.

    Args:
        inputs: the channels the report reads, by the keys of `configs.pipeline_contract.REPORT_SOURCES` and, per
            GLUE task, `report_task_key(key, task)` for each key of `REPORT_TASK_SOURCES`.
        metadata_connection: the run's ML Metadata store as `ml_metadata.ConnectionConfig` text (no password:
            the executor takes a MySQL password from `BERT_TFX_MYSQL_PASSWORD`); "" leaves out the run's
            components and lineage.
    """

    SPEC_CLASS = ReportGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, inputs: dict[str, channel.BaseChannel], metadata_connection: str = ""):
        missing = sorted(set(contract.REPORT_SOURCES) - set(inputs))
        if missing:
            raise ValueError(f"ReportGen needs the inputs {missing} (configs.pipeline_contract.REPORT_SOURCES)")
        spec_class = report_gen_spec(inputs)
        super().__init__(
            spec=spec_class(metadata_connection=metadata_connection, report=channel.Channel(type=RunReport), **inputs)
        )
