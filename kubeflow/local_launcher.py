"""Runs a compiled Kubeflow Pipelines v2 spec on this machine: each task's container, in DAG order.

This executes the deployment artifact itself (the YAML that `kfp.Client` uploads), not our Python:
every task runs its spec's image, command and arguments under podman, with the `{{$}}` placeholder
replaced by the task's ExecutorInput as KFP's v2 launcher builds it (parameter values, input artifacts
with the metadata their producers reported, output artifacts under the pipeline root, the path of the
executor output file). After a task, its ExecutorOutput file gives its output artifacts' metadata to the
tasks downstream. A FileBasedExampleGen's `lifecycle.preCacheCheck` driver runs first, in the same
container image, as Vertex AI runs it.

Supported: container executors, constant parameters, runtime parameters (`--param`, else the spec's
default), artifacts passed between tasks. Not supported, with an error naming the task: resolver and
importer executors, output parameters, conditions and loops. Not emulated: caching, retries, resource
limits (requests are printed; a GPU request runs on the CPU here).

A run is recorded in `<pipeline root>/<run id>/launcher_run.json`; `--run-id` of an interrupted run
runs only the tasks that did not finish.

    python kubeflow/local_launcher.py --spec bert.yaml --pipeline-root /abs/root \
        [--param corpus_dir=/abs/data/corpus] [--mount /abs/data] [--run-id ID]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
RUN_RECORD_FILE = "launcher_run.json"
SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
FAILED_LOG_LINES = 40

# podman as this machine runs it: runc (crun is not installed) and ulimits the sandbox allows (podman's
# defaults are refused: "setrlimit RLIMIT_NOFILE: Operation not permitted"); kubeflow/podman_settings.sh
# gives the shell scripts the same.
PODMAN = ["podman", "--runtime", os.environ.get("PODMAN_RUNTIME", "runc")]
PODMAN_RUN_FLAGS = ["--ulimit", "nofile=1024:4096", "--ulimit", "nproc=1024:4096"]


class SpecError(ValueError):
    """The spec asks for something this launcher does not do, or is malformed."""


@dataclasses.dataclass
class TaskRun:
    """What one task did: its state, seconds, log and output artifacts (RuntimeArtifact JSON)."""

    state: str
    seconds: float
    log: str
    outputs: dict[str, list[dict[str, Any]]]


def load_spec(path: str | Path) -> dict[str, Any]:
    """The PipelineSpec of a compiled YAML (or the `pipelineSpec` of a Vertex PipelineJob JSON)."""
    text = Path(path).read_text()
    spec = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    spec = spec.get("pipelineSpec", spec)
    for key in ("root", "components", "deploymentSpec", "pipelineInfo"):
        if key not in spec:
            raise SpecError(f"{path}: not a KFP pipeline spec (no {key!r})")
    return spec


def task_order(spec: Mapping[str, Any]) -> list[str]:
    """Task names in an order where every task comes after the tasks it depends on (ties by name)."""
    tasks = spec["root"]["dag"]["tasks"]
    needs = {}
    for name, task in tasks.items():
        if "triggerPolicy" in task or "iteratorPolicy" in task or "parameterIterator" in task:
            raise SpecError(f"task {name}: conditions and loops are not supported")
        producers = {
            a["taskOutputArtifact"]["producerTask"]
            for a in task.get("inputs", {}).get("artifacts", {}).values()
            if "taskOutputArtifact" in a
        }
        needs[name] = set(task.get("dependentTasks", [])) | producers
    order: list[str] = []
    while len(order) < len(tasks):
        ready = sorted(n for n in tasks if n not in order and needs[n] <= set(order))
        if not ready:
            raise SpecError(f"the tasks {sorted(set(tasks) - set(order))} depend on each other in a cycle")
        order.extend(ready)
    return order


def pipeline_parameters(spec: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """Runtime parameter values: `given`, else the spec's defaults. Raises SpecError for unknown or missing ones."""
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise SpecError(f"unknown pipeline parameters {unknown}; the spec declares {sorted(declared)}")
    values = {}
    for name, definition in declared.items():
        if name in given:
            values[name] = given[name]
        elif "defaultValue" in definition:
            values[name] = definition["defaultValue"]
        else:
            raise SpecError(f"pipeline parameter {name!r} has no default; pass --param {name}=VALUE")
    return values


def executor_input(
    spec: Mapping[str, Any],
    task_name: str,
    parameters: Mapping[str, Any],
    finished: Mapping[str, TaskRun],
    task_dir: str,
    artifact_prefix: str,
) -> dict[str, Any]:
    """The ExecutorInput (JSON) KFP's v2 launcher gives a task: inputs, output artifacts and output file."""
    task = spec["root"]["dag"]["tasks"][task_name]
    component = spec["components"][task["componentRef"]["name"]]
    inputs = task.get("inputs", {})
    parameter_values = {}
    for name, source in inputs.get("parameters", {}).items():
        if "runtimeValue" in source:
            parameter_values[name] = source["runtimeValue"]["constant"]
        elif "componentInputParameter" in source:
            parameter_values[name] = parameters[source["componentInputParameter"]]
        else:
            raise SpecError(f"task {task_name}: parameter {name} comes from {sorted(source)}, which is not supported")
    input_types = component.get("inputDefinitions", {}).get("artifacts", {})
    artifacts = {}
    for name, source in inputs.get("artifacts", {}).items():
        if "taskOutputArtifact" not in source:
            raise SpecError(f"task {task_name}: artifact {name} comes from {sorted(source)}, which is not supported")
        producer = source["taskOutputArtifact"]
        produced = finished[producer["producerTask"]].outputs.get(producer["outputArtifactKey"])
        if produced is None:
            raise SpecError(
                f"task {task_name}: input {name} is output {producer['outputArtifactKey']!r} of "
                f"{producer['producerTask']}, which produced no such artifact"
            )
        artifacts[name] = {"artifacts": [dict(a, type=input_types[name]["artifactType"]) for a in produced]}
    outputs = {}
    for name, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
        outputs[name] = {
            "artifacts": [
                {
                    "name": f"{artifact_prefix}/{name}",
                    "type": definition["artifactType"],
                    "uri": os.path.join(task_dir, name),
                    "metadata": {},
                }
            ]
        }
    if component.get("outputDefinitions", {}).get("parameters"):
        raise SpecError(f"task {task_name}: output parameters are not supported")
    return {
        "inputs": {"parameterValues": parameter_values, "artifacts": artifacts},
        "outputs": {"artifacts": outputs, "outputFile": os.path.join(task_dir, "executor_output.json")},
    }


def container_of(spec: Mapping[str, Any], task_name: str) -> dict[str, Any]:
    """The task's container executor. Raises SpecError for any other kind of executor."""
    task = spec["root"]["dag"]["tasks"][task_name]
    label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    executor = spec["deploymentSpec"]["executors"][label]
    if "container" not in executor:
        raise SpecError(f"task {task_name}: executor kind {sorted(executor)} is not supported (only containers)")
    return executor["container"]


def substitute(arguments: list[str], invocation: dict[str, Any]) -> list[str]:
    """The arguments with `{{$}}` replaced by the ExecutorInput JSON; other placeholders are refused."""
    serialized = json.dumps(invocation, sort_keys=True)
    result = []
    for argument in arguments:
        if argument == EXECUTOR_INPUT_PLACEHOLDER:
            result.append(serialized)
        elif "{{$" in argument:
            raise SpecError(f"placeholder in {argument[:80]!r} is not supported (only {EXECUTOR_INPUT_PLACEHOLDER})")
        else:
            result.append(argument)
    return result


def merge_executor_output(invocation: dict[str, Any], output_file: str) -> dict[str, list[dict[str, Any]]]:
    """The task's output artifacts, updated with the metadata (and uri) its ExecutorOutput file reports."""
    reported = {}
    if os.path.exists(output_file):
        with open(output_file) as f:
            reported = json.load(f).get("artifacts", {})
    outputs = {}
    for name, declared in invocation["outputs"]["artifacts"].items():
        artifacts = []
        for i, artifact in enumerate(declared["artifacts"]):
            artifact = {k: v for k, v in artifact.items() if k != "type"}
            written = reported.get(name, {}).get("artifacts", [])
            if i < len(written):
                artifact["metadata"] = {**artifact.get("metadata", {}), **written[i].get("metadata", {})}
                artifact["uri"] = written[i].get("uri") or artifact["uri"]
            artifacts.append(artifact)
        outputs[name] = artifacts
    return outputs


def describe_resources(container: Mapping[str, Any]) -> str:
    resources = container.get("resources", {})
    parts = []
    if "resourceCpuRequest" in resources:
        parts.append(f"cpu {resources['resourceCpuRequest']}")
    if "resourceMemoryRequest" in resources:
        parts.append(f"memory {resources['resourceMemoryRequest']}")
    accelerator = resources.get("accelerator", {})
    if accelerator:
        count = accelerator.get("resourceCount") or accelerator.get("count")
        kind = accelerator.get("resourceType") or accelerator.get("type")
        parts.append(f"{count} x {kind} (runs on the CPU here)")
    return ", ".join(parts) or "no requests"


def podman_command(
    container: Mapping[str, Any],
    arguments: list[str],
    pipeline_root: str,
    data_folders: list[str],
    command: list[str] | None = None,
) -> list[str]:
    """`podman run` of the container, with no network, the pipeline root mounted at its own path and the data
    folders read-only at theirs."""
    volumes = ["--volume", f"{pipeline_root}:{pipeline_root}"]
    for folder in data_folders:
        volumes += ["--volume", f"{folder}:{folder}:ro"]
    return [
        *PODMAN,
        "run",
        "--rm",
        *PODMAN_RUN_FLAGS,
        "--network",
        "none",
        *volumes,
        container["image"],
        *(command if command is not None else container.get("command", [])),
        *arguments,
    ]


def log_tail(path: str, lines: int = FAILED_LOG_LINES) -> list[str]:
    """The last `lines` lines of a task's log (what says why it failed), or a note that it has none."""
    try:
        with open(path, errors="replace") as f:
            return [line.rstrip("\n") for line in collections.deque(f, maxlen=lines)]
    except OSError as error:
        return [f"(no log: {error})"]


class Launcher:
    """Runs the tasks of one spec, one after another, recording each in the run record."""

    def __init__(
        self,
        spec: dict[str, Any],
        pipeline_root: str,
        run_id: str,
        parameters: Mapping[str, str],
        mounts: list[str],
        say: Callable[[str], None] = print,
    ):
        self.spec = spec
        self.run_dir = os.path.join(os.path.abspath(pipeline_root), run_id)
        self.run_id = run_id
        self.parameters = pipeline_parameters(spec, parameters)
        self.pipeline_root = os.path.abspath(pipeline_root)
        self.data_folders = sorted({os.path.abspath(m) for m in mounts} - {self.pipeline_root})
        self.say = say
        self.record_path = os.path.join(self.run_dir, RUN_RECORD_FILE)
        self.finished: dict[str, TaskRun] = {}
        if os.path.exists(self.record_path):
            with open(self.record_path) as f:
                recorded = json.load(f)["tasks"]
            self.finished = {n: TaskRun(**t) for n, t in recorded.items() if t["state"] == SUCCEEDED}

    def run(self) -> bool:
        """Runs every task not yet finished; stops at the first failure. Returns True when all succeeded."""
        os.makedirs(self.run_dir, exist_ok=True)
        order = task_order(self.spec)
        for name in order:
            container_of(self.spec, name)  # refuse an unsupported spec before running anything
        for name in order:
            if name in self.finished:
                self.say(f"{name}: done in an earlier attempt of {self.run_id}")
                continue
            result = self._run_task(name)
            self.finished[name] = result
            self._write_record()
            if result.state != SUCCEEDED:
                self.say(f"{name}: FAILED after {result.seconds:.1f} s; log: {result.log}; its last lines:")
                for line in log_tail(result.log):
                    self.say(f"  {line}")
                return False
        return True

    def _run_task(self, name: str) -> TaskRun:
        container = container_of(self.spec, name)
        task_dir = os.path.join(self.run_dir, name)
        os.makedirs(task_dir, exist_ok=True)
        invocation = executor_input(self.spec, name, self.parameters, self.finished, task_dir, f"{self.run_id}/{name}")
        output_file = invocation["outputs"]["outputFile"]
        if os.path.exists(output_file):
            os.remove(output_file)  # left by an interrupted attempt; the executor would read it as a driver's
        log_path = os.path.join(task_dir, "log.txt")
        self.say(f"{name}: {container['image']} ({describe_resources(container)})")
        start = time.monotonic()
        with open(log_path, "w") as log:
            driver = container.get("lifecycle", {}).get("preCacheCheck")
            ok = True
            if driver:
                ok = self._exec(container, substitute(driver.get("args", []), invocation), log, driver["command"])
                if ok:  # the driver's output artifacts (span, fingerprint) become the executor's outputs
                    for key, artifacts in merge_executor_output(invocation, output_file).items():
                        declared = invocation["outputs"]["artifacts"][key]["artifacts"]
                        for artifact, reported in zip(declared, artifacts, strict=True):
                            artifact["metadata"] = reported["metadata"]
            if ok:
                ok = self._exec(container, substitute(container.get("args", []), invocation), log)
        seconds = time.monotonic() - start
        outputs = merge_executor_output(invocation, output_file) if ok else {}
        self.say(f"{name}: {'succeeded' if ok else 'failed'} in {seconds:.1f} s")
        return TaskRun(SUCCEEDED if ok else FAILED, round(seconds, 1), log_path, outputs)

    def _exec(self, container, arguments, log, command=None) -> bool:
        argv = podman_command(container, arguments, self.pipeline_root, self.data_folders, command)
        return subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT).returncode == 0

    def _write_record(self) -> None:
        record = {
            "pipeline": self.spec["pipelineInfo"]["name"],
            "run_id": self.run_id,
            "parameters": self.parameters,
            "tasks": {n: dataclasses.asdict(t) for n, t in self.finished.items()},
        }
        tmp = self.record_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
        os.replace(tmp, self.record_path)


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{item!r} is not NAME=VALUE")
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="compiled pipeline (.yaml, or a Vertex .json)")
    parser.add_argument("--pipeline-root", required=True, help="local folder for the artifacts (mounted as is)")
    parser.add_argument("--param", type=_key_value, action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--mount", action="append", default=[], help="a folder the tasks read (mounted read-only)")
    parser.add_argument("--run-id", default=None, help="a new id, or an interrupted run's to finish it")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        run_id = args.run_id or (f"{spec['pipelineInfo']['name']}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}")
        launcher = Launcher(
            spec, args.pipeline_root, run_id, dict(args.param), args.mount, say=lambda m: print(f"[kfp-local] {m}")
        )
    except (OSError, SpecError) as error:
        print(f"[kfp-local] ERROR: {error}", file=sys.stderr)
        return 2
    print(f"[kfp-local] run {run_id} of {spec['pipelineInfo']['name']}: {launcher.record_path}")
    ok = launcher.run()
    print(f"[kfp-local] run {run_id}: {'all tasks succeeded' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
