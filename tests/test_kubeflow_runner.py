"""The Kubeflow runner compiles the same DAG into a KFP v2 pipeline spec (no cluster needed)."""

import subprocess
import sys

import yaml

from tests.conftest import REPO_ROOT


def test_compiles_every_component_into_a_kfp_pipeline_spec(tmp_path):
    output = tmp_path / "bert.yaml"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "kubeflow" / "kubeflow_v2_runner.py"),
            "--pipeline-root",
            "gs://example-bucket/bert",
            "--data-dir",
            "gs://example-bucket/data",
            "--image",
            "registry.example/bert-tfx:0.1.0",
            "--output",
            str(output),
            "--preset",
            "tiny",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    spec = yaml.safe_load(output.read_text())
    tasks = set(spec["root"]["dag"]["tasks"])
    nodes = (
        "RunConfigGen",
        "TextExampleGen",
        "Transform",
        "Trainer",
        "GlueFineTune-sst2",
        "Evaluator-mrpc",
        "Pusher-sst2",
    )
    for node in (*nodes, "ReportGen"):
        assert any(node.lower().replace("_", "-") in t.lower().replace("_", "-") for t in tasks), (node, tasks)
    images = {
        executor["container"]["image"]
        for executor in spec["deploymentSpec"]["executors"].values()
        if "container" in executor
    }
    assert images == {"registry.example/bert-tfx:0.1.0"}
    assert "models.trainer_module.run_fn" in output.read_text()
    assert not (tmp_path / "_wheels").exists()
