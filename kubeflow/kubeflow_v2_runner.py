"""Compiles the pipeline for Kubeflow Pipelines (v2 IR YAML) or Vertex AI Pipelines (JSON).

Thin like the local runner: paths and runner settings, then `create_pipeline`. It only compiles;
upload the result with `kfp.Client().create_run_from_pipeline_package(...)` or the KFP UI.
The components run in the image built from `kubeflow/Dockerfile` (`make image`: this package
installed), so every user function is referenced by dotted path and no module file is packaged.

What the compiled pipeline adds for a cluster: the corpus and GLUE folders as runtime parameters
(`corpus_dir`, `glue_dir`; their defaults come from `--data-dir`), each step's CPU, memory and GPU
requests from the config's `kubeflow` section, and the config's `beam.args` after the in-pod defaults.

    python kubeflow/kubeflow_v2_runner.py --pipeline-root gs://bucket/bert \
        --data-dir gs://bucket/data --image REGISTRY/bert-tfx:0.1.0 --output bert.yaml [--preset tiny] [--set k=v]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.dsl.io import fileio

from configs import pipeline_contract as contract
from configs import presets
from configs.run_config import KubeflowConfig, RunConfig, StepResources
from pipeline.beam_options import beam_args
from pipeline.bert_pipeline import PipelinePaths, create_pipeline

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec

# The runtime parameters of the compiled pipeline (set them when creating a run).
CORPUS_DIR_PARAMETER = "corpus_dir"
GLUE_DIR_PARAMETER = "glue_dir"


def step_resources(kubeflow: KubeflowConfig, node_id: str) -> StepResources:
    """The resources the config gives the step of the node `node_id`: `kubeflow.data` for the nodes that read the
    whole corpus or its instances, `trainer` and `fine_tune` for the training nodes, `default` for the rest."""
    if contract.node_kind(node_id) == contract.TRAINER:  # every phase's
        return kubeflow.trainer
    if node_id.startswith(contract.task_node_id(contract.GLUE_FINE_TUNE, "")):
        return kubeflow.fine_tune
    if contract.node_kind(node_id) in contract.DATA_NODES:
        return kubeflow.data
    return kubeflow.default


def resource_spec(step: StepResources, gpu_resource: str) -> dict[str, Any]:
    """A step's requests as the KFP SDK's compiler writes them (JSON field names): the `resource*` strings
    of KFP 2.x backends and the numeric fields older ones read (memory in GB); GPUs as an accelerator."""
    spec = ResourceSpec(
        resource_cpu_request=f"{step.cpu:g}",
        cpu_request=step.cpu,
        resource_memory_request=f"{step.memory_gib:g}Gi",
        memory_request=step.memory_gib * 2**30 / 1e9,
    )
    if step.gpus:
        spec.accelerator.CopyFrom(
            ResourceSpec.AcceleratorConfig(
                resource_type=gpu_resource, resource_count=str(step.gpus), type=gpu_resource, count=step.gpus
            )
        )
    return json_format.MessageToDict(spec)


def add_step_resources(pipeline_spec: dict[str, Any], kubeflow: KubeflowConfig) -> None:
    """Gives every container step of a compiled pipeline spec its requests from `kubeflow`.

    Done on the compiled spec rather than with TFX's `with_platform_config`, which TFX 1.21 drops for
    ExampleGens (their container spec is built by a separate path).
    """
    executors = pipeline_spec["deploymentSpec"]["executors"]
    for task_name, task in pipeline_spec["root"]["dag"]["tasks"].items():
        label = pipeline_spec["components"][task["componentRef"]["name"]]["executorLabel"]
        container = executors[label].get("container")
        if container is not None:
            container["resources"] = resource_spec(step_resources(kubeflow, task_name), kubeflow.gpu_resource)


def add_parameter_defaults(pipeline_spec: dict[str, Any], defaults: dict[str, str]) -> None:
    """Writes the runtime parameters' defaults into the spec (TFX leaves them out of a YAML spec)."""
    for name, value in defaults.items():
        pipeline_spec["root"]["inputDefinitions"]["parameters"][name]["defaultValue"] = value


def _rewrite_yaml(path: str, finish: Callable[[dict[str, Any]], None]) -> None:
    """Applies `finish` to a compiled YAML spec; keeps its header comment, adding the parameters' defaults."""
    with fileio.open(path) as f:
        text = f.read()
    spec = yaml.safe_load(text)
    finish(spec)
    parameters = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        name = line[1:].strip().split(":")[0]
        if name in parameters and "defaultValue" in parameters[name]:
            line = f"{line} [Default: {parameters[name]['defaultValue']!r}]"
        header.append(line)
    with fileio.open(path, "w") as f:
        f.write("\n".join(header) + "\n" + yaml.dump(spec, sort_keys=True))


def kubeflow_paths(pipeline_root: str, serving_dir: str, parameter_defaults: dict[str, str]) -> PipelinePaths:
    """Corpus and GLUE folders as the runtime parameters `corpus_dir` and `glue_dir`."""
    return PipelinePaths(
        corpus_dir=tfx.dsl.experimental.RuntimeParameter(
            name=CORPUS_DIR_PARAMETER, ptype=str, default=parameter_defaults[CORPUS_DIR_PARAMETER]
        ),
        glue_dir=tfx.dsl.experimental.RuntimeParameter(
            name=GLUE_DIR_PARAMETER, ptype=str, default=parameter_defaults[GLUE_DIR_PARAMETER]
        ),
        pipeline_root=pipeline_root,
        serving_dir=serving_dir,
    )


def compile_pipeline(
    config: RunConfig, pipeline_root: str, data_dir: str, serving_dir: str, image: str, output_path: str
) -> str:
    """Writes the compiled pipeline to `output_path` (.yaml for KFP, .json for Vertex); returns the path.

    Each task's Evaluator gates on its absolute bounds only: TFX compiles a baseline resolver into an
    artifact query that is not limited to the task's own models (one task's blessed model would become
    another's baseline), so the compiled pipeline has none.
    """
    parameter_defaults = {
        CORPUS_DIR_PARAMETER: os.path.join(data_dir, "corpus"),
        GLUE_DIR_PARAMETER: os.path.join(data_dir, "glue"),
    }
    pipeline = create_pipeline(
        config,
        kubeflow_paths(pipeline_root, serving_dir, parameter_defaults),
        # Beam inside one pod: the in-process defaults (pipeline/beam_options.py), then the config's `beam.args`.
        beam_pipeline_args=beam_args(config.beam),
        baseline_models=False,
    )
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        # Pipeline spec schema 2.1: what KFP 2.x backends run (typed parameters, `parameterValues`).
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image, use_pipeline_spec_2_1=True
        ),
        output_dir=os.path.dirname(os.path.abspath(output_path)),
        output_filename=os.path.basename(output_path),
    )
    runner.run(pipeline, parameter_values=parameter_defaults)

    def finish(spec: dict[str, Any]) -> None:
        add_step_resources(spec, config.kubeflow)
        add_parameter_defaults(spec, parameter_defaults)

    if output_path.endswith((".yaml", ".yml")):
        _rewrite_yaml(output_path, finish)
    else:  # a Vertex PipelineJob: the spec is one field of it
        with fileio.open(output_path) as f:
            job = json.load(f)
        finish(job["pipelineSpec"])
        with fileio.open(output_path, "w") as f:
            json.dump(job, f, sort_keys=True)
    return output_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline-root", required=True, help="artifact root, e.g. gs://bucket/bert-tfx")
    parser.add_argument("--data-dir", required=True, help="folder with corpus/ and glue/, readable by the pods")
    parser.add_argument("--serving-dir", default=None, help="Pusher destination (default: <pipeline-root>/serving)")
    parser.add_argument("--image", required=True, help="container image built from kubeflow/Dockerfile")
    parser.add_argument("--output", default="bert_tfx_pipeline.yaml", help=".yaml (KFP) or .json (Vertex)")
    parser.add_argument("--preset", default="tiny", choices=sorted(presets.PRESETS))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    # Compiling with dotted-path user functions needs no wheel of user code.
    os.environ.setdefault("UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES", "1")
    config = presets.load(args.preset, args.overrides)
    serving_dir = args.serving_dir or os.path.join(args.pipeline_root, "serving")
    path = compile_pipeline(config, args.pipeline_root, args.data_dir, serving_dir, args.image, args.output)
    print(f"compiled {config.pipeline_name} ({config.preset}) for image {args.image}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
