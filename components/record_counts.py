"""Counts of the records each data step wrote, and the checks that the steps after it read them all.

A step that writes examples (TextExampleGen: groups of documents; Transform: instances) counts, per split, the
records it hands to its writer, inside its own Beam pipeline, and records them as its Examples artifact's custom
properties `records_<split>` (`set_written`). Transform also counts every record it reads and fails when a read
has fewer or more than its input's `records_<split>`. `CountingStatisticsGen` (the pipeline's StatisticsGen and
InstanceStatisticsGen) compares the examples its statistics counted in each split, read from the files, with the
same property, and fails naming both steps and both counts. So a record lost anywhere between one step's count and
the next step's (in a writer, a reader, or a runner that drops elements at a shuffle, as Beam's multi-threaded
FnApiRunner does: docs/benchmarks.md) stops the run at the step that saw it; an artifact without the properties (an
older run's) is not checked.

The counts travel as small JSON files written by the Beam pipelines themselves (not Beam metrics, which some runners
report only as attempted), into a folder of the output artifact.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import apache_beam as beam
from tfx.components import StatisticsGen
from tfx.components.statistics_gen import executor as statistics_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.types.artifact import Artifact

from configs.pipeline_contract import RECORD_COUNT_PREFIX
from inspection import statistics

_SPLIT_FOLDER = re.compile(r"Split-([^/\\]+)")


class RecordsLostError(RuntimeError):
    """A step read or counted a different number of records than the step before it wrote."""


def split_of(path: str) -> str:
    """The split a path inside an Examples artifact belongs to (`.../Split-train/...` -> `train`)."""
    found = _SPLIT_FOLDER.search(path)
    if not found:
        raise ValueError(f"{path} is not inside a Split-<name> folder of an Examples artifact")
    return found.group(1)


def _write_count(count: int, path: str) -> None:
    with fileio.open(path, "w") as f:
        f.write(json.dumps({"records": count}) + "\n")


@beam.ptransform_fn
def CountInto(pcoll: beam.PCollection, path: str, size=None) -> beam.pvalue.PDone:  # noqa: N802 (Beam's style)
    """Writes `{"records": n}` to `path`: the number of elements of `pcoll`, or the sum of `size(element)` (rows of
    record batches)."""
    sizes = pcoll | "Size" >> beam.Map(size) if size else pcoll | "One" >> beam.Map(lambda _: 1)
    return sizes | "Sum" >> beam.CombineGlobally(sum) | "Write" >> beam.Map(_write_count, path)


def read_counts(directory: str) -> dict[str, int]:
    """The counts `CountInto` wrote into `directory`, by file name without `.json`."""
    if not fileio.exists(directory):
        return {}
    counts = {}
    for name in sorted(fileio.listdir(directory)):
        with fileio.open(os.path.join(directory, name)) as f:
            counts[name.removesuffix(".json")] = json.load(f)["records"]
    return counts


def set_written(examples: Artifact, counts: dict[str, int]) -> None:
    """Records the records written per split as `examples`' custom properties `records_<split>`."""
    for split, count in counts.items():
        examples.set_int_custom_property(RECORD_COUNT_PREFIX + split, count)


def written(examples: Artifact) -> dict[str, int]:
    """The records per split the step that made `examples` wrote ({} when it did not record them)."""
    return {
        name.removeprefix(RECORD_COUNT_PREFIX): int(examples.get_int_custom_property(name))
        for name in examples.mlmd_artifact.custom_properties
        if name.startswith(RECORD_COUNT_PREFIX)
    }


def producer_of(examples: Artifact) -> str:
    """The node that made `examples`: its recorded producer, else the node folder of a local pipeline root's
    `<root>/<node>/<output>/<execution id>`."""
    if examples.producer_component:
        return examples.producer_component
    parts = examples.uri.rstrip("/").split("/")
    return parts[-3] if len(parts) >= 3 and parts[-1].isdigit() else "the step before"


def check_read(step: str, examples: Artifact, split: str, count: int, beam_args: list[str]) -> None:
    """Raises RecordsLostError naming both steps and both counts when `count` records of `split` were read or
    counted in `step` and the step that made `examples` wrote another number."""
    expected = written(examples).get(split)
    if expected is not None and count != expected:
        raise RecordsLostError(
            f"{step}: {count:,} records of split {split} reached it, but {producer_of(examples)} wrote {expected:,} "
            f"({examples.uri}): {'lost' if count < expected else 'added'} between {producer_of(examples)}'s count and "
            f"{step}'s, with Beam options {beam_args}. Nothing is published; run it again with a runner that keeps "
            "every element (the FnApiRunner's multi-threaded mode does not; see pipeline/beam_options.py)"
        )


def node_id(executor, default: str) -> str:
    """The id of the pipeline node an executor runs for (`InstanceStatisticsGen`), or `default` when not known."""
    context = getattr(executor, "_context", None)
    node = context.pipeline_node if context else None
    return node.node_info.id if node else default


class _CountingStatisticsExecutor(statistics_executor.Executor):
    """TFX's StatisticsGen executor, then the check of each split's example count against what was written."""

    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        stats_uri = artifact_utils.get_single_uri(output_dict[standard_component_specs.STATISTICS_KEY])
        for split, count in statistics.split_counts(stats_uri).items():
            check_read(node_id(self, "StatisticsGen"), examples, split, count, self._beam_pipeline_args)


class CountingStatisticsGen(StatisticsGen):
    """`tfx.components.StatisticsGen` (same arguments) that fails when its statistics count another number of
    examples in a split than the step that wrote them recorded (`records_<split>`)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(_CountingStatisticsExecutor)
