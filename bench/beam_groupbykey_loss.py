"""A reproduction of the element loss in Beam's multi-threaded FnApiRunner (issue 26), with no code of ours.

    .venv/bin/python bench/beam_groupbykey_loss.py [--runs 10] [--mode multi_threading|multi_processing|in_memory]

The pipeline has the shape of TextExampleGen's reading: 100 inputs, each expanded by a CPU-bound FlatMap into 59
elements of 12 kB with unique keys (5,900 in all), then a GroupByKey, then a count of the grouped elements (Beam
counters). Each run is a new pipeline; the script prints every run's count and how many runs lost elements.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

INPUTS, PER_INPUT, SIZE, HASHES = 100, 59, 12_000, 60


def expand(index: int):
    """An input's elements: unique keys, 12 kB values, each after some CPU work (as parsing a document is)."""
    for i in range(PER_INPUT):
        value = b"x" * SIZE
        for _ in range(HASHES):
            value = hashlib.sha256(value).digest() + value[32:]
        yield hashlib.sha1(f"{index}:{i}".encode()).hexdigest(), value


def count_group(keyed) -> None:
    Metrics.counter("reproduction", "grouped").inc(len(list(keyed[1])))


def one_run(mode: str) -> int:
    workers = {"multi_threading": "0", "multi_processing": "2"}.get(mode, "1")  # 0: a thread per core
    runner = ["--runner=FnApiRunner", f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"]
    options = PipelineOptions(runner)
    pipeline = beam.Pipeline(options=options)
    (
        pipeline
        | beam.Create(range(INPUTS))
        | beam.Reshuffle()
        | beam.FlatMap(expand)
        | beam.GroupByKey()
        | beam.Map(count_group)
    )
    result = pipeline.run()
    result.wait_until_finish()
    [counter] = result.metrics().query(MetricsFilter().with_namespace("reproduction"))["counters"]
    return counter.committed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--mode", default="multi_threading", choices=["multi_threading", "multi_processing", "in_memory"]
    )
    args = parser.parse_args()
    expected, counts, start = INPUTS * PER_INPUT, [], time.time()
    for _ in range(args.runs):
        counts.append(one_run(args.mode))
        print(json.dumps({"mode": args.mode, "expected": expected, "grouped": counts[-1]}), flush=True)
    lossy = sum(count != expected for count in counts)
    seconds = time.time() - start
    print(f"{args.mode}: {lossy} of {args.runs} runs lost elements ({seconds:.0f} s, beam {beam.__version__})")


if __name__ == "__main__":
    main()
