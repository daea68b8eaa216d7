"""Reads a pipeline's ML Metadata store: runs, executions per node, and artifact lineage.

ML Metadata 1.21 dropped `filter_query`, so `get_lineage_subgraph` no longer works; lineage is
walked through events, as TFX itself does: artifact <-OUTPUT- execution <-INPUT- artifact ...
"""

from __future__ import annotations

import dataclasses

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

PIPELINE_RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"


def open_store(sqlite_path: str) -> metadata_store.MetadataStore:
    """A read-only handle on an existing SQLite ML Metadata store."""
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = sqlite_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


@dataclasses.dataclass(frozen=True)
class NodeExecution:
    """One execution of a pipeline node: its id, the node, and its final state name (COMPLETE, CACHED, ...)."""

    execution_id: int
    node_id: str
    state: str


def latest_run_executions(store: metadata_store.MetadataStore) -> list[NodeExecution]:
    """The executions of the most recent pipeline run, one per node that ran or was cached."""
    runs = store.get_contexts_by_type(PIPELINE_RUN_CONTEXT)
    if not runs:
        return []
    latest = max(runs, key=lambda context: (context.create_time_since_epoch, context.id))
    results = []
    for execution in store.get_executions_by_context(latest.id):
        nodes = [c for c in store.get_contexts_by_execution(execution.id) if _context_type(store, c) == NODE_CONTEXT]
        node_id = nodes[0].name.split(".", 1)[-1] if nodes else "?"
        state = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
        results.append(NodeExecution(execution.id, node_id, state))
    return results


def _context_type(store: metadata_store.MetadataStore, context: metadata_store_pb2.Context) -> str:
    return store.get_context_types_by_id([context.type_id])[0].name


def upstream_artifacts(store: metadata_store.MetadataStore, artifact_id: int) -> list[metadata_store_pb2.Artifact]:
    """Every artifact the given one was derived from, transitively (the artifact itself excluded)."""
    seen_artifacts = {artifact_id}
    seen_executions: set[int] = set()
    frontier = [artifact_id]
    while frontier:
        producing = {
            event.execution_id
            for event in store.get_events_by_artifact_ids(frontier)
            if event.type == metadata_store_pb2.Event.OUTPUT and event.execution_id not in seen_executions
        }
        seen_executions |= producing
        inputs = (
            {
                event.artifact_id
                for event in store.get_events_by_execution_ids(list(producing))
                if event.type == metadata_store_pb2.Event.INPUT and event.artifact_id not in seen_artifacts
            }
            if producing
            else set()
        )
        seen_artifacts |= inputs
        frontier = list(inputs)
    seen_artifacts.discard(artifact_id)
    return store.get_artifacts_by_id(sorted(seen_artifacts)) if seen_artifacts else []


def artifact_type_name(store: metadata_store.MetadataStore, artifact: metadata_store_pb2.Artifact) -> str:
    return store.get_artifact_types_by_id([artifact.type_id])[0].name
