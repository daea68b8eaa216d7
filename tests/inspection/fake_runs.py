"""A real ML Metadata store (SQLite) holding runs shaped as TFX records them, built in milliseconds.

Contexts `pipeline`, `pipeline_run` and `node` (named `<pipeline>.<node>`), executions with their
state and execution properties, and INPUT/OUTPUT events whose path names the output key.
"""

from __future__ import annotations

import json

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from inspection import store as store_lib

State = metadata_store_pb2.Execution.State


class StoreBuilder:
    def __init__(self, path):
        self.path = path
        self.store = metadata_store.MetadataStore(store_lib.sqlite_config(path))
        self._types: dict[tuple[str, str], int] = {}
        self._contexts: dict[tuple[str, str], int] = {}

    def _type_id(self, kind: str, name: str) -> int:
        if (kind, name) not in self._types:
            put = {
                "artifact": (self.store.put_artifact_type, metadata_store_pb2.ArtifactType),
                "execution": (self.store.put_execution_type, metadata_store_pb2.ExecutionType),
                "context": (self.store.put_context_type, metadata_store_pb2.ContextType),
            }[kind]
            self._types[(kind, name)] = put[0](put[1](name=name))
        return self._types[(kind, name)]

    def _context(self, type_name: str, name: str) -> metadata_store_pb2.Context:
        if (type_name, name) not in self._contexts:
            context = metadata_store_pb2.Context(type_id=self._type_id("context", type_name), name=name)
            [self._contexts[(type_name, name)]] = self.store.put_contexts([context])
        context_id = self._contexts[(type_name, name)]
        return self.store.get_contexts_by_id([context_id])[0]

    def artifact(self, type_name: str, uri: str, **properties) -> metadata_store_pb2.Artifact:
        artifact = metadata_store_pb2.Artifact(type_id=self._type_id("artifact", type_name), uri=uri)
        for key, value in properties.items():
            field = "int_value" if isinstance(value, int) else "string_value"
            setattr(artifact.custom_properties[key], field, value)
        artifact.state = metadata_store_pb2.Artifact.LIVE
        [artifact.id] = self.store.put_artifacts([artifact])
        return artifact

    def execution(
        self,
        pipeline: str,
        run: str,
        node: str,
        state=State.COMPLETE,
        inputs: dict[str, list] | None = None,
        outputs: dict[str, list] | None = None,
        properties: dict | None = None,
    ) -> int:
        execution = metadata_store_pb2.Execution(
            type_id=self._type_id("execution", node.split("_")[0]), last_known_state=state
        )
        for key, value in (properties or {}).items():
            execution.custom_properties[key].string_value = value if isinstance(value, str) else json.dumps(value)
        pairs = []
        for kind, by_key in ((metadata_store_pb2.Event.INPUT, inputs), (metadata_store_pb2.Event.OUTPUT, outputs)):
            for key, artifacts in (by_key or {}).items():
                for index, artifact in enumerate(artifacts):
                    event = metadata_store_pb2.Event(type=kind)
                    event.path.steps.add().key = key
                    event.path.steps.add().index = index
                    pairs.append((artifact, event))
        contexts = [
            self._context("pipeline", pipeline),
            self._context("pipeline_run", run),
            self._context("node", f"{pipeline}.{node}"),
        ]
        execution_id, _, _ = self.store.put_execution(execution, pairs, contexts, reuse_context_if_already_exist=True)
        return execution_id
