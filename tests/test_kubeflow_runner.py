"""The Kubeflow runner compiles the same DAG into a KFP v2 pipeline spec with what a cluster run needs
(runtime parameters, resource requests, Beam options), and the local launcher reads that spec as KFP's
launcher does. No cluster and no container here: tests/test_kubeflow_container_e2e.py runs the spec."""

import json
import subprocess
import sys

import pytest
import yaml
from kfp import components

from tests.conftest import REPO_ROOT, kubeflow_module

IMAGE = "registry.example/bert-tfx:0.1.0"
DATAFLOW_ARGS = ["--runner=DataflowRunner", "--project=example-project"]


launcher = kubeflow_module("local_launcher")


def _compile(output, preset: str, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        str(REPO_ROOT / "kubeflow" / "kubeflow_v2_runner.py"),
        "--pipeline-root",
        "gs://example-bucket/bert",
        "--data-dir",
        "gs://example-bucket/data",
        "--image",
        IMAGE,
        "--output",
        str(output),
        "--preset",
        preset,
    ]
    for item in overrides:
        command += ["--set", item]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=output.parent)


@pytest.fixture(scope="module")
def base_spec_path(tmp_path_factory):
    """The `base` preset (GPU requests for training) with Dataflow options and a third GLUE task."""
    output = tmp_path_factory.mktemp("compiled") / "bert.yaml"
    result = _compile(output, "base", f"beam.args={json.dumps(DATAFLOW_ARGS)}", 'glue.tasks=["sst2","mrpc","rte"]')
    assert result.returncode == 0, result.stderr[-3000:]
    return output


@pytest.fixture(scope="module")
def base_spec(base_spec_path):
    return yaml.safe_load(base_spec_path.read_text())


def test_compiles_every_component_into_a_kfp_pipeline_spec(base_spec, base_spec_path):
    tasks = set(base_spec["root"]["dag"]["tasks"])
    expected = {"RunConfigGen", "TextExampleGen", "StatisticsGen", "SchemaGen", "Transform", "InstanceStatisticsGen"}
    expected |= {"Trainer_phase1", "Transform_phase2", "InstanceStatisticsGen_phase2", "Trainer"}
    expected |= {"EncoderExport", "EncoderPusher", "ReportGen"}
    for task in ("sst2", "mrpc", "rte"):
        expected |= {f"GlueExampleGen_{task}", f"GlueFineTune_{task}", f"Evaluator_{task}", f"Pusher_{task}"}
    # No baseline resolvers: TFX compiles them into artifact queries that ignore which task made a model.
    assert tasks == expected
    assert all("container" in e for e in base_spec["deploymentSpec"]["executors"].values())
    assert {launcher.container_of(base_spec, t)["image"] for t in tasks} == {IMAGE}
    assert base_spec["schemaVersion"] == "2.1.0"
    assert "models.pretraining.trainer_module.run_fn" in base_spec_path.read_text()
    assert not (base_spec_path.parent / "_wheels").exists()


def test_the_corpus_and_glue_folders_are_runtime_parameters_with_defaults(base_spec, base_spec_path):
    parameters = base_spec["root"]["inputDefinitions"]["parameters"]
    assert parameters == {
        "corpus_dir": {"parameterType": "STRING", "defaultValue": "gs://example-bucket/data/corpus"},
        "glue_dir": {"parameterType": "STRING", "defaultValue": "gs://example-bucket/data/glue"},
    }
    tasks = base_spec["root"]["dag"]["tasks"]
    assert tasks["TextExampleGen"]["inputs"]["parameters"]["input_base"] == {"componentInputParameter": "corpus_dir"}
    for task, folder in (("sst2", "SST-2"), ("rte", "RTE")):
        parameters = tasks[f"GlueExampleGen_{task}"]["inputs"]["parameters"]
        assert parameters["input_base"] == {"componentInputParameter": "glue_dir"}
        splits = json.loads(parameters["input_config"]["runtimeValue"]["constant"])["splits"]
        assert [s["pattern"] for s in splits] == [f"{folder}/train.tsv", f"{folder}/dev.tsv", f"{folder}/test.tsv"]
    # The kfp SDK's own loader reads the spec, parameters and defaults included.
    loaded = components.load_component_from_file(str(base_spec_path))
    assert loaded.pipeline_spec.root.input_definitions.parameters["glue_dir"].default_value.string_value == (
        "gs://example-bucket/data/glue"
    )
    assert set(loaded.pipeline_spec.root.dag.tasks) == set(tasks)


def test_each_step_requests_the_resources_its_config_gives(base_spec):
    def requests(task):
        return launcher.container_of(base_spec, task).get("resources")

    assert requests("Trainer_phase1") == requests("Trainer"), "every phase's Trainer asks for the trainer's"
    trainer = requests("Trainer")
    assert (trainer["resourceCpuRequest"], trainer["resourceMemoryRequest"]) == ("8", "32Gi")
    assert trainer["cpuRequest"] == 8 and trainer["memoryRequest"] == pytest.approx(32 * 2**30 / 1e9)
    assert trainer["accelerator"] == {
        "resourceType": "nvidia.com/gpu",
        "resourceCount": "1",
        "type": "nvidia.com/gpu",
        "count": "1",
    }
    for task in ("sst2", "mrpc", "rte"):
        assert requests(f"GlueFineTune_{task}")["accelerator"]["resourceCount"] == "1"
        assert "accelerator" not in requests(f"Evaluator_{task}")
    # ExampleGens too (TFX's own with_platform_config would leave them without requests).
    for task in ("TextExampleGen", "Transform", "Transform_phase2", "InstanceStatisticsGen_phase2"):
        assert (requests(task)["resourceCpuRequest"], requests(task)["resourceMemoryRequest"]) == ("4", "16Gi")
    for task in ("RunConfigGen", "GlueExampleGen_sst2", "Pusher_rte", "ReportGen"):
        assert (requests(task)["resourceCpuRequest"], requests(task)["resourceMemoryRequest"]) == ("1", "4Gi")
        assert "accelerator" not in requests(task)


def test_overrides_reach_the_requests_and_the_beam_options(tmp_path, base_spec):
    args = launcher.container_of(base_spec, "Transform")["args"]
    assert args[-len(DATAFLOW_ARGS) :] == DATAFLOW_ARGS  # the config's options come last, so they win
    assert {"--runner=FnApiRunner", "--direct_running_mode=in_memory"} <= set(args)  # one thread, never Prism
    assert (
        launcher.container_of(base_spec, "TextExampleGen")["lifecycle"]["preCacheCheck"]["args"][-2:] == DATAFLOW_ARGS
    )

    output = tmp_path / "smoke.json"  # a Vertex PipelineJob carries the same spec
    result = _compile(
        output, "smoke", "kubeflow.trainer.gpus=2", "kubeflow.gpu_resource=amd.com/gpu", "kubeflow.default.cpu=0.5"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    spec = json.loads(output.read_text())["pipelineSpec"]
    trainer = launcher.container_of(spec, "Trainer")["resources"]
    assert trainer["accelerator"]["resourceType"] == "amd.com/gpu" and trainer["accelerator"]["count"] == "2"
    assert launcher.container_of(spec, "Pusher_sst2")["resources"]["resourceCpuRequest"] == "0.5"
    assert "accelerator" not in launcher.container_of(spec, "GlueFineTune_sst2")["resources"]  # smoke: no GPU


def test_a_bad_resource_request_is_refused_at_compile_time(tmp_path):
    result = _compile(tmp_path / "x.yaml", "smoke", "kubeflow.trainer.memory_gib=0")
    assert result.returncode != 0
    assert "kubeflow.trainer asks for" in result.stderr and "memory_gib=0.0" in result.stderr


# The local launcher, on the compiled spec (no container is started).


def test_the_launcher_orders_tasks_after_everything_they_read(base_spec):
    order = launcher.task_order(base_spec)
    tasks = base_spec["root"]["dag"]["tasks"]
    assert sorted(order) == sorted(tasks)
    for name, task in tasks.items():
        for source in task.get("inputs", {}).get("artifacts", {}).values():
            assert order.index(source["taskOutputArtifact"]["producerTask"]) < order.index(name)
        for dependency in task.get("dependentTasks", []):
            assert order.index(dependency) < order.index(name)
    assert order[-1] == "ReportGen"


def test_the_launcher_builds_each_tasks_executor_input_as_kfp_does(base_spec, tmp_path):
    parameters = launcher.pipeline_parameters(base_spec, {"glue_dir": "/data/glue"})
    assert parameters == {"corpus_dir": "gs://example-bucket/data/corpus", "glue_dir": "/data/glue"}

    glue = launcher.executor_input(base_spec, "GlueExampleGen_rte", parameters, {}, str(tmp_path / "g"), "run/g")
    assert glue["inputs"]["parameterValues"]["input_base"] == "/data/glue"
    assert glue["inputs"]["parameterValues"]["task"] == "rte"
    (examples,) = glue["outputs"]["artifacts"]["examples"]["artifacts"]
    assert examples["uri"] == str(tmp_path / "g" / "examples") and examples["name"] == "run/g/examples"
    assert "title: tfx.Examples" in examples["type"]["instanceSchema"]
    assert glue["outputs"]["outputFile"] == str(tmp_path / "g" / "executor_output.json")

    transform_outputs = {
        "transformed_examples": [{"name": "run/t/x", "uri": "/r/t/x", "metadata": {"split_names": '["train"]'}}],
        "transform_graph": [{"name": "run/t/g", "uri": "/r/t/g", "metadata": {}}],
    }
    finished = {"Transform": launcher.TaskRun("SUCCEEDED", 1.0, "log", transform_outputs)}
    first = launcher.executor_input(base_spec, "Trainer_phase1", parameters, finished, str(tmp_path / "f"), "run/f")
    (examples,) = first["inputs"]["artifacts"]["examples"]["artifacts"]
    assert examples["uri"] == "/r/t/x" and examples["metadata"] == {"split_names": '["train"]'}
    assert "title: tfx.Examples" in examples["type"]["instanceSchema"]
    assert json.loads(first["inputs"]["parameterValues"]["custom_config"])["model"]["num_layers"] == 12
    assert set(first["outputs"]["artifacts"]) == {"model", "model_run"}

    # The second phase's Trainer reads its own Transform's instances and starts from the first phase's model.
    finished["Transform_phase2"] = launcher.TaskRun("SUCCEEDED", 1.0, "log", transform_outputs)
    phase1_model = {"model": [{"name": "run/f/model", "uri": "/r/f/model", "metadata": {}}]}
    finished["Trainer_phase1"] = launcher.TaskRun("SUCCEEDED", 1.0, "log", phase1_model)
    trainer = launcher.executor_input(base_spec, "Trainer", parameters, finished, str(tmp_path / "t"), "run/t")
    (base_model,) = trainer["inputs"]["artifacts"]["base_model"]["artifacts"]
    assert base_model["uri"] == "/r/f/model" and "title: tfx.Model" in base_model["type"]["instanceSchema"]
    assert json.loads(trainer["inputs"]["parameterValues"]["custom_config"])["phase"] == 2

    arguments = launcher.substitute(launcher.container_of(base_spec, "Trainer")["args"], trainer)
    invocation = arguments[arguments.index("--json_serialized_invocation_args") + 1]
    assert json.loads(invocation) == trainer


def test_the_launcher_reads_back_what_an_executor_reported(tmp_path):
    invocation = {
        "outputs": {
            "artifacts": {"model": {"artifacts": [{"name": "r/m", "type": {}, "uri": "/r/m", "metadata": {}}]}},
            "outputFile": str(tmp_path / "out.json"),
        }
    }
    reported = {"artifacts": {"model": {"artifacts": [{"name": "r/m", "uri": "/r/m", "metadata": {"blessed": 1}}]}}}
    (tmp_path / "out.json").write_text(json.dumps(reported))
    assert launcher.merge_executor_output(invocation, str(tmp_path / "out.json")) == {
        "model": [{"name": "r/m", "uri": "/r/m", "metadata": {"blessed": 1}}]
    }


def test_the_launcher_refuses_what_it_cannot_run(base_spec, tmp_path):
    with pytest.raises(launcher.SpecError, match=r"unknown pipeline parameters \['data_dir'\]"):
        launcher.pipeline_parameters(base_spec, {"data_dir": "/x"})
    with pytest.raises(launcher.SpecError, match=r"placeholder .* is not supported"):
        launcher.substitute(["{{$.inputs.parameters['x']}}"], {})
    spec = json.loads(json.dumps(base_spec))
    spec["deploymentSpec"]["executors"]["Pusher_sst2_executor"] = {"resolver": {"outputArtifactQueries": {}}}
    with pytest.raises(launcher.SpecError, match=r"task Pusher_sst2: executor kind \['resolver'\] is not supported"):
        launcher.Launcher(spec, str(tmp_path), "run-1", {}, []).run()
    assert not (tmp_path / "run-1" / "RunConfigGen").exists()  # refused before anything ran


def test_the_launcher_runs_containers_offline_with_the_data_read_only():
    container = {"image": "img:1", "command": ["python", "-m", "x"]}
    argv = launcher.podman_command(container, ["--a", "1"], "/out/root", ["/data"])
    assert argv[argv.index("--network") + 1] == "none"
    volumes = [argv[i + 1] for i, a in enumerate(argv) if a == "--volume"]
    assert volumes == ["/out/root:/out/root", "/data:/data:ro"]
    assert argv[-6:] == ["img:1", "python", "-m", "x", "--a", "1"]
    driver = launcher.podman_command(container, ["--b"], "/out/root", [], command=["python", "-m", "driver"])
    assert driver[-4:] == ["python", "-m", "driver", "--b"]


def test_a_failed_task_stops_the_run_and_shows_why(base_spec, tmp_path, monkeypatch):
    def fail_in_text_example_gen(self, container, arguments, log, command=None):
        if "TextExampleGen" not in log.name:
            return True
        log.write("".join(f"line {i}\n" for i in range(100)) + "ValueError: the reason it failed\n")
        return False

    monkeypatch.setattr(launcher.Launcher, "_exec", fail_in_text_example_gen)
    said = []
    run = launcher.Launcher(base_spec, str(tmp_path), "run-1", {}, [], say=said.append)
    assert run.run() is False
    failure = said.index(next(s for s in said if "TextExampleGen: FAILED" in s))
    assert said[-1] == "  ValueError: the reason it failed"
    assert said[failure + 1 :] == [f"  line {i}" for i in range(61, 100)] + ["  ValueError: the reason it failed"]
    record = json.loads((tmp_path / "run-1" / launcher.RUN_RECORD_FILE).read_text())["tasks"]
    assert record["TextExampleGen"]["state"] == "FAILED"
    assert "Transform" not in record  # nothing after the failure ran
