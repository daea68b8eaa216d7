#!/usr/bin/env bash
# `make kfp-local`: compiles the pipeline for Kubeflow Pipelines and runs the compiled spec here, every task in
# the image (`make image`, rebuilt first from podman's layer cache) under podman, as KFP's v2 launcher would run it
# (kubeflow/local_launcher.py). Proves the deployment artifact itself on the bundled data.
#
# Settings (environment): PRESET (default smoke), OVERRIDES (space-separated key=value), DATA_DIR (default
# data), KFP_LOCAL_DIR (default outputs/kfp-local: the compiled spec and the pipeline root), IMAGE.
set -euo pipefail
cd "$(dirname "$0")/.."

PRESET=${PRESET:-smoke}
IMAGE=${IMAGE:-localhost/bert-tfx:0.1.0}
DATA_DIR=$(realpath "${DATA_DIR:-data}")
OUT=$(realpath -m "${KFP_LOCAL_DIR:-outputs/kfp-local}")
PY=${PY:-.venv/bin/python}

# Always (re)build: podman reuses every unchanged layer, so only changed sources are installed again.
IMAGE="$IMAGE" bash kubeflow/build_image.sh
mkdir -p "$OUT"
overrides=()
for item in ${OVERRIDES:-}; do overrides+=(--set "$item"); done
"$PY" kubeflow/kubeflow_v2_runner.py --preset "$PRESET" "${overrides[@]}" --image "$IMAGE" \
  --pipeline-root "$OUT/pipeline_root" --data-dir "$DATA_DIR" --output "$OUT/pipeline.yaml" 2>"$OUT/compile.log" \
  || { tail -20 "$OUT/compile.log" >&2; exit 1; }
"$PY" kubeflow/local_launcher.py --spec "$OUT/pipeline.yaml" --pipeline-root "$OUT/pipeline_root" \
  --mount "$DATA_DIR" ${RUN_ID:+--run-id "$RUN_ID"}
