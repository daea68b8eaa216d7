"""The compiled Kubeflow pipeline runs: `make kfp-local` (kubeflow/kfp_local.sh) builds the image with podman
when it is missing, compiles the smoke preset and runs every task of the compiled spec in that image, as
KFP's v2 launcher would. Then the outputs are read back here, outside the containers. A first build starts in
the background when the test session begins (tests/conftest.py), so its downloads overlap the tests before this one.

Needs podman, debootstrap and runc (`make test` installs them as root) and, for a first image build,
the Debian archive and PyPI: about 6 minutes to build, 10 to run.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import tensorflow_transform as tft
import yaml

from configs import presets
from configs.pipeline_contract import GLUE_METRICS_FILE
from models import features
from tests.conftest import DATA_DIR, REPO_ROOT, kubeflow_module, wait_for_image_build

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.container,
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed (make test installs it)"),
]

# One GLUE task keeps the test shorter; every kind of component still runs (make kfp-local runs both).
TASKS = ("sst2",)
IMAGE = "localhost/bert-tfx:0.1.0"
launcher = kubeflow_module("local_launcher")


@pytest.fixture(scope="module")
def kfp_run(tmp_path_factory, request):
    wait_for_image_build(request.config)  # started when the session began (tests/conftest.py)
    out = tmp_path_factory.mktemp("kfp-local")
    env = dict(os.environ, KFP_LOCAL_DIR=str(out), PRESET="smoke", OVERRIDES=f"glue.tasks={json.dumps(list(TASKS))}")
    env.update(IMAGE=IMAGE, RUN_ID="smoke-1")
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "kubeflow" / "kfp_local.sh")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    record_path = out / "pipeline_root" / "smoke-1" / "launcher_run.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    return {"result": result, "out": out, "env": env, "record": record}


def outputs(kfp_run, task, key):
    (artifact,) = kfp_run["record"]["tasks"][task]["outputs"][key]
    return artifact


def test_every_task_of_the_compiled_spec_succeeds_in_the_image(kfp_run):
    result = kfp_run["result"]
    if result.returncode:  # the launcher's output ends with the failed task's last log lines; shown in full
        pytest.fail(f"kfp_local.sh exited {result.returncode}:\n{result.stdout[-8000:]}", pytrace=False)
    assert "all tasks succeeded" in result.stdout
    spec = yaml.safe_load((kfp_run["out"] / "pipeline.yaml").read_text())
    tasks = kfp_run["record"]["tasks"]
    assert set(tasks) == set(spec["root"]["dag"]["tasks"])
    assert {t["state"] for t in tasks.values()} == {"SUCCEEDED"}
    for task in ("Transform", "Trainer", *(f"GlueFineTune_{t}" for t in TASKS), "ReportGen"):
        assert f"[kfp-local] {task}: {IMAGE} (cpu" in result.stdout
    # The steps ran on the image's Python, Debian 13's 3.13, not on this machine's 3.11.
    assert {launcher.container_of(spec, task)["image"] for task in tasks} == {IMAGE}
    podman_run = [*launcher.PODMAN, "run", "--rm", *launcher.PODMAN_RUN_FLAGS, "--network", "none"]
    version = subprocess.run(
        [*podman_run, IMAGE, "python", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert version.stdout.startswith("Python 3.13."), version


def test_runtime_parameters_and_artifact_metadata_cross_the_task_boundary(kfp_run):
    record = kfp_run["record"]
    assert record["parameters"] == {"corpus_dir": str(DATA_DIR / "corpus"), "glue_dir": str(DATA_DIR / "glue")}
    corpus = outputs(kfp_run, "TextExampleGen", "examples")
    # Set by the ExampleGen driver (the input fingerprint) and by our executor (the counts, zeros included),
    # reported in the executor output file.
    assert corpus["metadata"]["input_fingerprint"].startswith("split:corpus,num_files:3,")
    assert corpus["metadata"]["corpus_documents_kept"] > 100
    assert corpus["metadata"]["corpus_bad_lines"] == 0
    assert json.loads(corpus["metadata"]["split_names"]) == ["train", "eval"]


def test_the_vocabulary_and_the_encoder_read_back_outside_the_container(kfp_run):
    graph = tft.TFTransformOutput(outputs(kfp_run, "Transform", "transform_graph")["uri"])
    vocab = [line.rstrip("\n") for line in open(graph.vocabulary_file_by_name(features.VOCAB_FILE))]
    assert vocab[:5] == list(features.SPECIAL_TOKENS)
    assert 1500 <= len(vocab) <= 2000  # smoke: data.vocab_size=2000

    # The SavedModel written by TensorFlow on the image's Python 3.13 serves raw text in this machine's Python.
    encoder_dir = os.path.join(outputs(kfp_run, "Trainer", "model")["uri"], "Format-Serving")
    code = f"""
import json, tensorflow as tf, tensorflow_text
out = tf.saved_model.load({encoder_dir!r}).signatures["serving_default"](text=tf.constant(["the cat sat", "a b"]))
pooled = out["pooled_output"].numpy()
print(json.dumps({{"shape": list(pooled.shape), "differ": float(abs(pooled[0] - pooled[1]).max())}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/")
    assert result.returncode == 0, result.stderr[-3000:]
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["shape"] == [2, 64] and printed["differ"] > 1e-4


def test_glue_metrics_blessings_and_pushes_agree(kfp_run):
    for task in TASKS:
        run_dir = outputs(kfp_run, f"GlueFineTune_{task}", "model_run")["uri"]
        metrics = json.loads(open(os.path.join(run_dir, GLUE_METRICS_FILE)).read())
        assert metrics["task"] == task and metrics["train_steps"] == presets.preset("smoke").glue.train_steps
        assert 0.0 <= metrics["dev"]["accuracy"] <= 1.0
        blessing = outputs(kfp_run, f"Evaluator_{task}", "blessing")
        blessed = blessing["metadata"]["blessed"] == 1
        marker = "BLESSED" if blessed else "NOT_BLESSED"
        assert os.path.exists(os.path.join(blessing["uri"], marker))
        pushed = outputs(kfp_run, f"Pusher_{task}", "pushed_model")
        assert (pushed["metadata"]["pushed"] == 1) == blessed
        serving = kfp_run["out"] / "pipeline_root" / "serving" / task
        assert (serving.exists() and any(serving.iterdir())) == blessed
    report = outputs(kfp_run, "ReportGen", "report")
    assert os.path.exists(os.path.join(report["uri"], "index.html"))


def test_a_finished_run_given_again_runs_nothing(kfp_run):
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "kubeflow" / "kfp_local.sh")],
        cwd=REPO_ROOT,
        env=kfp_run["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("done in an earlier attempt of smoke-1") == len(kfp_run["record"]["tasks"])
    assert "succeeded in" not in result.stdout
