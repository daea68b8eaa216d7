"""Probe for issue 26: TextExampleGen's Beam stages as a bare pipeline, counting the elements after each stage,
under one runner mode, to find where and when Beam's multi-threaded FnApiRunner loses elements.

    .venv/bin/python bench/beam_loss_probe.py MODE [VARIANT] [--corpus DIR]

MODE: `multi_threading` (the FnApiRunner with a worker thread per core) or `in_memory` (one thread).
VARIANT: `plain` (the stages as TextExampleGen runs them), `inspect` (a Map between the content GroupByKey and the
de-duplication that counts the grouped elements and keys), `second_consumer` (the de-duplicated documents also
written to text files, counted on disk). Prints one JSON line of counts (Beam counters; `ids_written` from disk).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.text_example_gen import executor  # noqa: E402


def counted(name: str):
    counter = Metrics.counter("probe", name)

    def count(element):
        counter.inc()
        return element

    return count


def inspect_group(keyed):
    """Counts what a content group holds; passes it on unchanged."""
    _, copies = keyed
    copies = list(copies)
    Metrics.counter("probe", "2a_grouped_elements").inc(len(copies))
    Metrics.counter("probe", "2b_groups").inc()
    return keyed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["multi_threading", "in_memory"])
    parser.add_argument("variant", nargs="?", default="plain", choices=["plain", "inspect", "second_consumer"])
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared/data/corpus"))
    args = parser.parse_args()
    paths = sorted(glob.glob(f"{args.corpus}/*/wiki_*"))
    workers = "0" if args.mode == "multi_threading" else "1"
    options = PipelineOptions(
        ["--runner=FnApiRunner", f"--direct_running_mode={args.mode}", f"--direct_num_workers={workers}"]
    )
    start = time.time()
    pipeline = beam.Pipeline(options=options)
    read = (
        pipeline
        | beam.Create(paths)
        | beam.Reshuffle()
        | beam.FlatMap(executor._read_file, 200, "replace").with_outputs(executor._COUNTS, main="documents")
    )
    grouped = (
        read.documents
        | "CountRead" >> beam.Map(counted("1_read"))
        | beam.Map(executor._keyed_by_content)
        | "GroupByContent" >> beam.GroupByKey()
    )
    if args.variant == "inspect":
        grouped = grouped | beam.Map(inspect_group)
    unique = grouped | beam.MapTuple(executor._first_by_id) | "CountUnique" >> beam.Map(counted("3_unique"))
    out = tempfile.mkdtemp(prefix="beam-probe-")
    if args.variant == "second_consumer":
        unique | beam.Map(lambda kept: kept[1]) | beam.io.WriteToText(os.path.join(out, "ids"))
    shards = sum(os.path.getsize(p) for p in paths) // (64 * (8 << 10))
    (
        unique
        | beam.Map(executor._keyed_by_shard, [9, 10], shards)
        | "GroupShards" >> beam.GroupByKey()
        | beam.Map(lambda keyed: Metrics.counter("probe", "4_after_shard_grouping").inc(len(list(keyed[1]))))
    )
    result = pipeline.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_namespace("probe"))["counters"]
    counts = dict(sorted((m.key.metric.name, m.committed) for m in counters))
    if args.variant == "second_consumer":
        counts["ids_written"] = sum(1 for f in glob.glob(os.path.join(out, "ids*")) for _ in open(f))
    print(json.dumps({"mode": args.mode, "variant": args.variant, "seconds": round(time.time() - start, 1), **counts}))


if __name__ == "__main__":
    main()
