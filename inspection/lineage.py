"""Lineage of artifacts: walk ML Metadata events up and down, print a tree, draw a graph.

ML Metadata 1.21 dropped `filter_query`, so `get_lineage_subgraph` no longer works; lineage is
walked through events, as TFX itself does: artifact <-OUTPUT- execution <-INPUT- artifact ...
Upstream follows each artifact's original producer (a cached execution only re-uses outputs);
downstream follows the executions that consumed it and ran (cached ones made nothing new).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

from ml_metadata.proto import metadata_store_pb2

from inspection import store
from inspection.records import ArtifactRecord, ExecutionRecord, MetadataReader, RunRecord, without_node

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
_INPUT = metadata_store_pb2.Event.INPUT
_OUTPUT = metadata_store_pb2.Event.OUTPUT


@dataclasses.dataclass
class LineageGraph:
    """Artifacts and executions joined by edges: (artifact id, execution id) for an input,
    (execution id, artifact id) for an output."""

    artifacts: dict[int, ArtifactRecord] = dataclasses.field(default_factory=dict)
    executions: dict[int, ExecutionRecord] = dataclasses.field(default_factory=dict)
    inputs: set[tuple[int, int]] = dataclasses.field(default_factory=set)
    outputs: set[tuple[int, int]] = dataclasses.field(default_factory=set)
    root: int | None = None

    def producers_of(self, artifact_id: int) -> list[int]:
        return sorted(e for e, a in self.outputs if a == artifact_id)

    def inputs_of(self, execution_id: int) -> list[int]:
        return sorted(a for a, e in self.inputs if e == execution_id)

    def consumers_of(self, artifact_id: int) -> list[int]:
        return sorted(e for a, e in self.inputs if a == artifact_id)

    def outputs_of(self, execution_id: int) -> list[int]:
        return sorted(a for e, a in self.outputs if e == execution_id)


def _events_of_executions(reader: MetadataReader, execution_ids, kind):
    return [e for e in reader.store.get_events_by_execution_ids(list(execution_ids)) if e.type == kind]


def _add_artifacts(reader: MetadataReader, graph: LineageGraph, ids) -> None:
    missing = sorted(set(ids) - set(graph.artifacts))
    for artifact in reader.store.get_artifacts_by_id(missing) if missing else []:
        graph.artifacts[artifact.id] = reader.artifact_record(artifact)


def artifact_lineage(reader: MetadataReader, artifact_id: int, directions=(UPSTREAM, DOWNSTREAM)) -> LineageGraph:
    """Everything an artifact came from and/or everything made from it, transitively."""
    graph = LineageGraph(root=artifact_id)
    _add_artifacts(reader, graph, [artifact_id])
    if not graph.artifacts:
        raise LookupError(f"no artifact with id {artifact_id}")
    if UPSTREAM in directions:
        frontier = [artifact_id]
        while frontier:
            next_frontier = []
            for current in frontier:
                producer = reader.producer(current)
                if producer is None:
                    continue
                graph.outputs.add((producer.id, current))
                if producer.id in graph.executions:
                    continue
                graph.executions[producer.id] = producer
                parents = [e.artifact_id for e in _events_of_executions(reader, [producer.id], _INPUT)]
                _add_artifacts(reader, graph, parents)
                graph.inputs |= {(parent, producer.id) for parent in parents}
                next_frontier += parents
            frontier = next_frontier
    if DOWNSTREAM in directions:
        frontier, seen = [artifact_id], set()
        while frontier:
            events = reader.store.get_events_by_artifact_ids(frontier)
            consumers = {e.execution_id for e in events if e.type == _INPUT} - seen
            ran = [r for r in reader.executions(consumers) if r.state != "CACHED"]
            seen |= consumers
            for record in ran:
                graph.executions[record.id] = record
            ran_ids = {r.id for r in ran}
            graph.inputs |= {
                (e.artifact_id, e.execution_id) for e in events if e.type == _INPUT and e.execution_id in ran_ids
            }
            outputs = _events_of_executions(reader, ran_ids, _OUTPUT) if ran_ids else []
            _add_artifacts(reader, graph, [e.artifact_id for e in outputs])
            graph.outputs |= {(e.execution_id, e.artifact_id) for e in outputs}
            frontier = sorted({e.artifact_id for e in outputs})
    return graph


def run_lineage(reader: MetadataReader, run: RunRecord) -> LineageGraph:
    """A run's executions with their input and output artifacts."""
    graph = LineageGraph()
    for record in run.executions:
        graph.executions[record.id] = record
    events = reader.store.get_events_by_execution_ids(list(graph.executions)) if graph.executions else []
    _add_artifacts(reader, graph, [e.artifact_id for e in events])
    graph.inputs = {(e.artifact_id, e.execution_id) for e in events if e.type == _INPUT}
    graph.outputs = {(e.execution_id, e.artifact_id) for e in events if e.type == _OUTPUT}
    return graph


def run_with_lineage(connection_text: str, run_name: str, reporting_node: str) -> tuple[RunRecord, str]:
    """A run read from the store `connection_text` (an `ml_metadata.ConnectionConfig` in text format; a MySQL
    password comes from the environment), and its lineage picture's Graphviz source.

    `reporting_node` is the node asking from inside the run: it is still running, so it is left out of the
    run's components, state and lineage."""
    reader = MetadataReader(store.open_store(store.config_from_text(connection_text)))
    run = without_node(reader.run(run_name), reporting_node)
    return run, to_dot(run_lineage(reader, run))


def upstream_artifacts(reader: MetadataReader, artifact_id: int) -> list[ArtifactRecord]:
    """Every artifact the given one was derived from, transitively (itself excluded)."""
    graph = artifact_lineage(reader, artifact_id, (UPSTREAM,))
    return [a for i, a in sorted(graph.artifacts.items()) if i != artifact_id]


def artifact_label(artifact: ArtifactRecord) -> str:
    return f"{artifact.type} #{artifact.id}"


def execution_label(execution: ExecutionRecord) -> str:
    return f"{execution.node_id} (execution #{execution.id}, {execution.state})"


INPUT_BASE_PROPERTY = "input_base"  # ExampleGens record the folder they read as this execution property


def source_files(execution: ExecutionRecord) -> str | None:
    """`<folder> (<fingerprint>)` for an ExampleGen execution: the files at the root of the lineage."""
    folder = execution.properties.get(INPUT_BASE_PROPERTY)
    if not folder:
        return None
    fingerprint = str(execution.properties.get("input_fingerprint", ""))
    summary = "; ".join(
        ", ".join(part for part in line.split(",") if part.split(":")[0] in ("split", "num_files", "total_bytes"))
        for line in fingerprint.splitlines()
    )
    return f"{folder} ({summary})" if summary else str(folder)


def tree_lines(graph: LineageGraph) -> list[str]:
    """The graph around its root artifact as an indented tree: upstream first, then downstream.

    A subtree already printed is shown once and then referred to as `(see above)`.
    """
    root = graph.artifacts[graph.root]
    lines = [f"{artifact_label(root)}  {root.uri}"]
    printed: set[tuple[str, int]] = set()

    def walk(artifact_id: int, depth: int, upward: bool) -> None:
        executions = graph.producers_of(artifact_id) if upward else graph.consumers_of(artifact_id)
        for execution_id in executions:
            execution = graph.executions[execution_id]
            arrow = "<- made by" if upward else "-> used by"
            seen = ("e", execution_id) in printed
            lines.append(f"{'  ' * depth}{arrow} {execution_label(execution)}{'  (see above)' if seen else ''}")
            if seen:
                continue
            printed.add(("e", execution_id))
            if upward and (files := source_files(execution)):
                lines.append(f"{'  ' * (depth + 1)}<- files {files}")
            children = graph.inputs_of(execution_id) if upward else graph.outputs_of(execution_id)
            for child in children:
                artifact = graph.artifacts[child]
                lines.append(
                    f"{'  ' * (depth + 1)}{'<-' if upward else '->'} {artifact_label(artifact)}  {artifact.uri}"
                )
                walk(child, depth + 2, upward)

    if graph.producers_of(graph.root):
        lines.append("upstream:")
        walk(graph.root, 1, upward=True)
    printed.clear()
    if graph.consumers_of(graph.root):
        lines.append("downstream:")
        walk(graph.root, 1, upward=False)
    return lines


def to_json(graph: LineageGraph) -> dict:
    return {
        "root": graph.root,
        "artifacts": [dataclasses.asdict(a) for _, a in sorted(graph.artifacts.items())],
        "executions": [dataclasses.asdict(e) | {"node_id": e.node_id} for _, e in sorted(graph.executions.items())],
        "inputs": [{"artifact": a, "execution": e} for a, e in sorted(graph.inputs)],
        "outputs": [{"execution": e, "artifact": a} for e, a in sorted(graph.outputs)],
    }


# Pictures (Graphviz).

_TYPE_COLOURS = {
    "Examples": "#cfe2f3",
    "ExampleStatistics": "#d9ead3",
    "Schema": "#d9ead3",
    "TransformGraph": "#fff2cc",
    "TransformCache": "#fff2cc",
    "Model": "#f4cccc",
    "ModelRun": "#fce5cd",
    "ModelEvaluation": "#ead1dc",
    "ModelBlessing": "#ead1dc",
    "PushedModel": "#d0e0e3",
    "bert_tfx.RunConfiguration": "#eeeeee",
    "bert_tfx.RunReport": "#eeeeee",
}
_STATE_COLOURS = {"COMPLETE": "#6aa84f", "CACHED": "#3c78d8", "FAILED": "#cc0000", "RUNNING": "#e69138"}


def _quote(text: str) -> str:
    """A DOT string; `\\n` in `text` stays a line break."""
    return '"' + text.replace('"', '\\"') + '"'


def to_dot(graph: LineageGraph) -> str:
    """Graphviz source: artifacts as notes coloured by type, executions as boxes coloured by state."""
    lines = [
        "digraph lineage {",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [color="#666666"];',
    ]
    for artifact_id, artifact in sorted(graph.artifacts.items()):
        tail = Path(artifact.uri.rstrip("/"))
        where = "/".join(tail.parts[-3:])
        pen = 3 if artifact_id == graph.root else 1
        label = f"{artifact.type} #{artifact_id}\\n{where}"
        fill = _TYPE_COLOURS.get(artifact.type, "#ffffff")
        lines.append(
            f'  a{artifact_id} [shape=note, style=filled, fillcolor="{fill}", penwidth={pen}, label={_quote(label)}];'
        )
    for execution_id, execution in sorted(graph.executions.items()):
        colour = _STATE_COLOURS.get(execution.state, "#999999")
        label = f"{execution.node_id}\\n#{execution_id} {execution.state} {execution.duration_s:.0f} s"
        lines.append(
            f'  e{execution_id} [shape=box, style="rounded,filled", fillcolor="{colour}", fontcolor=white, '
            f"label={_quote(label)}];"
        )
        if files := source_files(execution):
            label = _quote(files.replace(" (", "\\n("))
            lines.append(f"  f{execution_id} [shape=folder, label={label}];")
            lines.append(f"  f{execution_id} -> e{execution_id};")
    for artifact_id, execution_id in sorted(graph.inputs):
        lines.append(f"  a{artifact_id} -> e{execution_id};")
    for execution_id, artifact_id in sorted(graph.outputs):
        lines.append(f"  e{execution_id} -> a{artifact_id};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_source: str, path: str | Path) -> Path:
    """Draws Graphviz source into `path`; the format follows its suffix (.svg, .png, .pdf, .dot)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower()
    if fmt == "dot":
        path.write_text(dot_source)
        return path
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"{path}: cannot draw a .{fmt} file; use .svg, .png, .pdf or .dot")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "drawing lineage needs Graphviz's `dot` (Debian: apt-get install graphviz; `make setup` installs it)"
        )
    result = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=dot_source, text=True, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"dot failed drawing {path}: {result.stderr.strip()}")
    return path
