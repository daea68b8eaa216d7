"""Compiles the pipeline for Kubeflow Pipelines (v2 IR YAML) or Vertex AI Pipelines (JSON).

Thin like the local runner: paths and runner settings, then `create_pipeline`. It only compiles;
upload the result with `kfp.Client().create_run_from_pipeline_package(...)` or the KFP UI.
The components run in the image built from `kubeflow/Dockerfile` (this package installed), so
every user function is referenced by dotted path and no module file is packaged.

    python kubeflow/kubeflow_v2_runner.py --pipeline-root gs://bucket/bert \
        --data-dir gs://bucket/data --image REGISTRY/bert-tfx:0.1.0 --output bert.yaml [--preset tiny] [--set k=v]
"""

from __future__ import annotations

import argparse
import os
import sys

from tfx import v1 as tfx

from configs import presets
from configs.run_config import RunConfig
from pipeline.bert_pipeline import PipelinePaths, create_pipeline

# Beam inside one pod: the Python direct runner over the pod's cores (never the Prism download).
KUBEFLOW_BEAM_ARGS = ["--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=0"]


def compile_pipeline(
    config: RunConfig, pipeline_root: str, data_dir: str, serving_dir: str, image: str, output_path: str
) -> str:
    """Writes the compiled pipeline to `output_path` (.yaml for KFP, .json for Vertex); returns the path."""
    paths = PipelinePaths(
        corpus_dir=os.path.join(data_dir, "corpus"),
        glue_dir=os.path.join(data_dir, "glue"),
        pipeline_root=pipeline_root,
        serving_dir=serving_dir,
    )
    pipeline = create_pipeline(config, paths, beam_pipeline_args=KUBEFLOW_BEAM_ARGS + list(config.beam.args))
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(os.path.abspath(output_path)),
        output_filename=os.path.basename(output_path),
    )
    runner.run(pipeline)
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
