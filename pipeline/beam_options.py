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

Before every Beam component TFX packages its own installed source as an sdist for remote workers
(`tfx.utils.dependency_utils.make_beam_dependency_flags`: a copy of the tfx package and a `setup.py sdist` in a
subprocess; the data part's four Beam components took 15 s less on the 10 MB slice without it) unless the options
already name the workers' dependencies. Beam running in this process has no workers to ship it to, so while the
runner stays in-process the options name the SDK container as `IN_PROCESS_SDK_IMAGE`, an option the FnApiRunner
never reads. A cluster runner in `beam.args` gets TFX's behaviour back, or the dependencies the user names there.
"""

from __future__ import annotations

from configs.run_config import BeamConfig

IN_PROCESS_BEAM_ARGS = ("--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1")
IN_PROCESS_RUNNERS = frozenset({"FnApiRunner", "DirectRunner", "BundleBasedDirectRunner"})
IN_PROCESS_SDK_IMAGE = "--sdk_container_image=in-process"  # never pulled: see the module's docstring
# The options after which TFX builds no package of itself (`make_beam_dependency_flags` reads the same names).
_DEPENDENCY_OPTIONS = (
    "extra_packages",
    "setup_file",
    "requirements_file",
    "worker_harness_container_image",
    "sdk_container_image",
)


def beam_args(beam: BeamConfig) -> list[str]:
    """The in-process defaults, then the config's `beam.args` (which win where they repeat one). While the runner
    stays in-process and no option names the workers' dependencies, `IN_PROCESS_SDK_IMAGE` comes between them."""
    args = [*IN_PROCESS_BEAM_ARGS, *beam.args]
    if _runs_in_process(args):
        return [*IN_PROCESS_BEAM_ARGS, IN_PROCESS_SDK_IMAGE, *beam.args]
    return args


def _runs_in_process(args: list[str]) -> bool:
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(flags=args).get_all_options(retain_unknown_options=True)
    runner = str(options.get("runner") or "DirectRunner").rsplit(".", 1)[-1]
    return runner in IN_PROCESS_RUNNERS and not any(options.get(name) for name in _DEPENDENCY_OPTIONS)
