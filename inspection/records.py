"""What a pipeline run recorded in ML Metadata, as plain records: runs, executions, artifacts.

TFX files every execution under three contexts: the pipeline (`pipeline`, named after it), the run
(`pipeline_run`, named by the run id) and the node (`node`, named `<pipeline>.<node id>`). A cached
execution is an execution of its own (state CACHED) whose outputs are the earlier run's artifacts.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from configs.pipeline_contract import RUN_CONFIG_PROPERTY

PIPELINE_CONTEXT = "pipeline"
PIPELINE_RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"

_State = metadata_store_pb2.Execution.State


@dataclasses.dataclass(frozen=True)
class ExecutionRecord:
    """One execution of a pipeline node.

    Attributes:
        id: ML Metadata execution id.
        node_id: the pipeline node (`Trainer`, `Evaluator_sst2`, ...).
        state: COMPLETE, CACHED, FAILED, RUNNING, NEW, CANCELED.
        started: seconds since the epoch when the execution was registered.
        duration_s: from registration to its last update.
        properties: its execution properties (strings, numbers), as TFX recorded them.
    """

    id: int
    node_id: str
    state: str
    started: float
    duration_s: float
    properties: dict[str, Any]

    @property
    def cached(self) -> bool:
        return self.state == "CACHED"


@dataclasses.dataclass(frozen=True)
class ArtifactRecord:
    """One artifact: id, type name, URI, the node that produced it, and its custom properties."""

    id: int
    type: str
    uri: str
    producer: str
    created: float
    properties: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One pipeline run.

    Attributes:
        id: ML Metadata context id of the run.
        name: the run id TFX gave it (a timestamp on the local orchestrator).
        pipeline: pipeline name.
        started: seconds since the epoch of its first execution.
        duration_s: from its first execution's start to its last execution's last update.
        state: FAILED if any execution failed, RUNNING if any has not finished, else COMPLETE.
        preset: the config preset, from the RunConfigGen node ("" when the run did not record one).
        executions: its executions in the order they started.
    """

    id: int
    name: str
    pipeline: str
    started: float
    duration_s: float
    state: str
    preset: str
    executions: tuple[ExecutionRecord, ...]

    def execution(self, node_id: str) -> ExecutionRecord | None:
        matches = [e for e in self.executions if e.node_id == node_id]
        return matches[-1] if matches else None


def _value(value: metadata_store_pb2.Value) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("int_value", "double_value", "string_value", "bool_value") else str(value)


def _properties(message) -> dict[str, Any]:
    values = {k: _value(v) for k, v in message.properties.items()}
    values.update({k: _value(v) for k, v in message.custom_properties.items()})
    return values


class MetadataReader:
    """Reads runs, executions, artifacts and events of one store (with small caches of the lookups)."""

    def __init__(self, store: metadata_store.MetadataStore):
        self.store = store
        self._context_types: dict[int, str] = {}
        self._artifact_types: dict[int, str] = {}
        self._contexts_of_execution: dict[int, dict[str, list[metadata_store_pb2.Context]]] = {}

    def _context_type_name(self, type_id: int) -> str:
        if type_id not in self._context_types:
            self._context_types[type_id] = self.store.get_context_types_by_id([type_id])[0].name
        return self._context_types[type_id]

    def artifact_type_name(self, type_id: int) -> str:
        if type_id not in self._artifact_types:
            self._artifact_types[type_id] = self.store.get_artifact_types_by_id([type_id])[0].name
        return self._artifact_types[type_id]

    def _execution_contexts(self, execution_id: int) -> dict[str, list[metadata_store_pb2.Context]]:
        if execution_id not in self._contexts_of_execution:
            by_type: dict[str, list[metadata_store_pb2.Context]] = {}
            for context in self.store.get_contexts_by_execution(execution_id):
                by_type.setdefault(self._context_type_name(context.type_id), []).append(context)
            self._contexts_of_execution[execution_id] = by_type
        return self._contexts_of_execution[execution_id]

    def node_id(self, execution: metadata_store_pb2.Execution) -> str:
        nodes = self._execution_contexts(execution.id).get(NODE_CONTEXT, [])
        return nodes[0].name.split(".", 1)[-1] if nodes else f"execution {execution.id}"

    def execution_record(self, execution: metadata_store_pb2.Execution) -> ExecutionRecord:
        started = execution.create_time_since_epoch / 1000
        return ExecutionRecord(
            id=execution.id,
            node_id=self.node_id(execution),
            state=_State.Name(execution.last_known_state),
            started=started,
            duration_s=max(0.0, execution.last_update_time_since_epoch / 1000 - started),
            properties=_properties(execution),
        )

    def executions(self, execution_ids) -> list[ExecutionRecord]:
        ids = sorted(set(execution_ids))
        return [self.execution_record(e) for e in self.store.get_executions_by_id(ids)] if ids else []

    # Runs.

    def _run_record(self, context: metadata_store_pb2.Context) -> RunRecord:
        executions = sorted(
            (self.execution_record(e) for e in self.store.get_executions_by_context(context.id)),
            key=lambda e: (e.started, e.id),
        )
        pipelines = {c.name for e in executions for c in self._execution_contexts(e.id).get(PIPELINE_CONTEXT, [])}
        state = run_state(executions)
        started = executions[0].started if executions else context.create_time_since_epoch / 1000
        ended = max((e.started + e.duration_s for e in executions), default=started)
        config = run_config_of(executions)
        return RunRecord(
            id=context.id,
            name=context.name,
            pipeline=", ".join(sorted(pipelines)) or "?",
            started=started,
            duration_s=ended - started,
            state=state,
            preset=str(config.get("preset", "")) if config else "",
            executions=tuple(executions),
        )

    def runs(self, pipeline: str | None = None) -> list[RunRecord]:
        """Every pipeline run in the store (of one pipeline if given), oldest first."""
        records = [self._run_record(c) for c in self.store.get_contexts_by_type(PIPELINE_RUN_CONTEXT)]
        if pipeline:
            records = [r for r in records if pipeline in r.pipeline.split(", ")]
        return sorted(records, key=lambda r: (r.started, r.id))

    def run(self, ref: str) -> RunRecord:
        """A run by its name, its context id, `latest`, or a part of its name found in one run only."""
        contexts = self.store.get_contexts_by_type(PIPELINE_RUN_CONTEXT)
        if not contexts:
            raise LookupError("the store records no pipeline runs")
        if ref == "latest":
            return self.runs()[-1]
        exact = [c for c in contexts if c.name == ref or (ref.isdigit() and c.id == int(ref))]
        matches = exact or [c for c in contexts if ref in c.name]
        if len(matches) == 1:
            return self._run_record(matches[0])
        known = ", ".join(c.name for c in sorted(contexts, key=lambda c: c.id)[-5:])
        reason = "matches several runs" if matches else "matches no run"
        raise LookupError(f"run {ref!r} {reason}; recent runs: {known} (see `bert-tfx runs`)")

    # Artifacts and events.

    def producer(self, artifact_id: int) -> ExecutionRecord | None:
        """The execution that made the artifact: its first COMPLETE producer (cached ones only re-use it)."""
        producing = [
            e.execution_id
            for e in self.store.get_events_by_artifact_ids([artifact_id])
            if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
        ]
        records = self.executions(producing)
        complete = [r for r in records if r.state == "COMPLETE"]
        return (complete or records or [None])[0]

    def artifact_record(self, artifact: metadata_store_pb2.Artifact) -> ArtifactRecord:
        producer = self.producer(artifact.id)
        return ArtifactRecord(
            id=artifact.id,
            type=self.artifact_type_name(artifact.type_id),
            uri=artifact.uri,
            producer=producer.node_id if producer else "",
            created=artifact.create_time_since_epoch / 1000,
            properties=_properties(artifact),
        )

    def artifacts(self, type_name: str | None = None, run: RunRecord | None = None) -> list[ArtifactRecord]:
        """Artifacts of one type and/or those a run's executions produced (cached ones included)."""
        if run is not None:
            ids = {
                event.artifact_id
                for event in self.store.get_events_by_execution_ids([e.id for e in run.executions])
                if event.type == metadata_store_pb2.Event.OUTPUT
            }
            artifacts = self.store.get_artifacts_by_id(sorted(ids)) if ids else []
        elif type_name:
            artifacts = self.store.get_artifacts_by_type(type_name)
        else:
            artifacts = self.store.get_artifacts()
        records = [self.artifact_record(a) for a in artifacts]
        if type_name:
            records = [r for r in records if r.type == type_name]
        return sorted(records, key=lambda r: r.id)

    def artifact(self, ref: str) -> ArtifactRecord:
        """An artifact by id or by URI (a trailing slash is ignored)."""
        if ref.isdigit():
            found = self.store.get_artifacts_by_id([int(ref)])
        else:
            found = self.store.get_artifacts_by_uri(ref.rstrip("/"))
        if not found:
            raise LookupError(f"no artifact with {'id' if ref.isdigit() else 'URI'} {ref} (see `bert-tfx artifacts`)")
        return self.artifact_record(found[0])

    def run_artifacts(self, run: RunRecord) -> dict[str, list[ArtifactRecord]]:
        """A run's output artifacts by `<node id>.<output key>` (cached outputs included)."""
        by_key: dict[str, list[ArtifactRecord]] = {}
        executions = {e.id: e for e in run.executions}
        events = self.store.get_events_by_execution_ids(list(executions)) if executions else []
        outputs = [e for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
        artifacts = {a.id: a for a in self.store.get_artifacts_by_id(sorted({e.artifact_id for e in outputs}))}
        for event in outputs:
            key = event.path.steps[0].key if event.path.steps else "?"
            record = self.artifact_record(artifacts[event.artifact_id])
            by_key.setdefault(f"{executions[event.execution_id].node_id}.{key}", []).append(record)
        return by_key


def unfinished_executions(reader: MetadataReader, pipeline: str) -> list[ExecutionRecord]:
    """The pipeline's executions that did not finish (RUNNING or NEW in the store), oldest first: those of runs that
    died, when no run of the pipeline is running."""
    return [
        execution
        for run in reader.runs(pipeline)
        for execution in run.executions
        if execution.state in ("RUNNING", "NEW")
    ]


def run_state(executions) -> str:
    """FAILED if any execution failed, RUNNING if any has not finished, else COMPLETE."""
    states = {e.state for e in executions}
    if "FAILED" in states:
        return "FAILED"
    if states & {"NEW", "RUNNING", "UNKNOWN"}:
        return "RUNNING"
    return "COMPLETE"


def without_node(run: RunRecord, node_id: str) -> RunRecord:
    """The run as it stands apart from one node's executions (the node reading its own run)."""
    executions = tuple(e for e in run.executions if e.node_id != node_id)
    ended = max((e.started + e.duration_s for e in executions), default=run.started)
    return dataclasses.replace(run, executions=executions, state=run_state(executions), duration_s=ended - run.started)


def run_config_of(executions) -> dict[str, Any] | None:
    """The resolved run config the run's RunConfigGen execution recorded, if any."""
    for execution in executions:
        text = execution.properties.get(RUN_CONFIG_PROPERTY)
        if isinstance(text, str) and text.startswith("{"):
            return json.loads(text)
    return None
