"""Beam options of the data components when Beam runs inside one process: on this machine (the local runner)
and inside each Kubeflow step. The config's `beam.args` come after them, so a later option wins (a cluster
runner, `--runner=DataflowRunner`, replaces them).

Beam's FnApiRunner (the Python direct runner's batch engine) is named explicitly: Beam 2.77's `DirectRunner`
first tries the Prism runner on every pipeline Prism supports, and downloads its binary from GitHub to do so
(offline: a failed download, then a fallback; online: a different engine than the one we test). One thread
(`in_memory`): its multi-threaded mode loses elements. On the 100 MB corpus (docs/benchmarks.md, "Beam's
multi-threaded mode loses data") the GroupByKey that cuts TextExampleGen's 5,907 documents into shards handed
on 5,888, 5,656, 5,847 and 5,602 of them in four runs (a CombinePerKey had lost documents before); in one
thread each run kept all 5,907. One thread makes Transform about a quarter slower on 2 cores (200 s against
158 s on 100 MB); a larger corpus belongs on a distributed runner (`beam.args`).
"""

from __future__ import annotations

from configs.run_config import BeamConfig

IN_PROCESS_BEAM_ARGS = ("--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1")


def beam_args(beam: BeamConfig) -> list[str]:
    """The in-process defaults, then the config's `beam.args` (which win where they repeat one)."""
    return [*IN_PROCESS_BEAM_ARGS, *beam.args]
