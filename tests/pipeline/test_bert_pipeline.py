"""`create_pipeline` in process: node ids, per-task wiring, what each component receives, and the contract."""

import dataclasses
import json
import types

import pytest
from tfx.proto.orchestration import executable_spec_pb2, pipeline_pb2

from configs import glue_tasks, presets
from configs import pipeline_contract as contract
from configs.run_config import (
    CorpusConfig,
    GlueConfig,
    ModelConfig,
    PretrainingDataConfig,
    TrainerConfig,
    section_from,
)
from inspection.run_contents import ReportInputs, TaskArtifacts
from pipeline import bert_pipeline
from pipeline.beam_options import IN_PROCESS_BEAM_ARGS
from pipeline.bert_pipeline import PREPROCESSING_FN, RUN_FN, PipelinePaths, create_pipeline

PATHS = PipelinePaths(
    corpus_dir="/data/corpus", glue_dir="/data/glue", pipeline_root="/out/root", serving_dir="/out/srv"
)
TASKS = ("sst2", "mrpc", "rte")


@pytest.fixture(scope="module")
def nodes():
    config = presets.load("smoke", [f"glue.tasks={json.dumps(list(TASKS))}", "trainer.train_steps=123"])
    pipeline = create_pipeline(config, PATHS)
    return config, {node.id: node for node in pipeline.components}


def producer(channel) -> tuple[str, str]:
    return channel.producer_component_id, channel.output_key


def resolver_source(resolver, key: str) -> tuple[str, str]:
    """The channel a Resolver's strategy reads for `key` (TFX wraps it in an input-resolution graph)."""
    return producer(resolver.inputs[key].output_node.args[0].nodes[key].wrapped)


def test_node_ids_are_the_pretraining_chain_five_per_task_and_the_run_records(nodes):
    _, by_id = nodes
    per_task = ("GlueExampleGen", "GlueFineTune", "LatestBlessedModelResolver", "Evaluator", "Pusher")
    expected = {"RunConfigGen", "TextExampleGen", "StatisticsGen", "SchemaGen", "Transform", "InstanceStatisticsGen"}
    expected |= {"Trainer_phase1", "Transform_phase2", "InstanceStatisticsGen_phase2", "Trainer"}
    expected |= {"EncoderExport", "EncoderPusher", "ReportGen"}
    expected |= {f"{kind}_{task}" for kind in per_task for task in TASKS}
    assert set(by_id) == expected


def test_pretraining_chain_is_wired_in_order(nodes):
    _, by_id = nodes
    transform, first_trainer = by_id["Transform"], by_id["Trainer_phase1"]
    later_transform, trainer = by_id["Transform_phase2"], by_id["Trainer"]
    assert producer(transform.inputs["examples"]) == ("TextExampleGen", "examples")
    assert producer(transform.inputs["schema"]) == ("SchemaGen", "schema")
    assert producer(first_trainer.inputs["examples"]) == ("Transform", "transformed_examples")
    assert producer(first_trainer.inputs["transform_graph"]) == ("Transform", "transform_graph")
    assert "base_model" not in first_trainer.inputs and "vocabulary" not in transform.inputs
    # Phase 2: its own instances from the same corpus with the first Transform's vocabulary, and a Trainer that
    # starts from the first phase's model.
    assert producer(later_transform.inputs["examples"]) == ("TextExampleGen", "examples")
    assert producer(later_transform.inputs["vocabulary"]) == ("Transform", "transform_graph")
    assert producer(trainer.inputs["examples"]) == ("Transform_phase2", "transformed_examples")
    assert producer(trainer.inputs["transform_graph"]) == ("Transform_phase2", "transform_graph")
    assert producer(trainer.inputs["base_model"]) == ("Trainer_phase1", "model")
    assert producer(by_id["EncoderExport"].inputs["model"]) == ("Trainer", "model")
    for node in (transform, later_transform):
        assert node.exec_properties["preprocessing_fn"] == PREPROCESSING_FN
        # Statistics of the instances come from a StatisticsGen over the written instances, not from Transform,
        # which would hold every instance in memory until its write completes.
        assert node.exec_properties["disable_statistics"] in (1, True)
    assert producer(by_id["InstanceStatisticsGen"].inputs["examples"]) == ("Transform", "transformed_examples")
    later_statistics = by_id["InstanceStatisticsGen_phase2"]
    assert producer(later_statistics.inputs["examples"]) == ("Transform_phase2", "transformed_examples")
    assert first_trainer.exec_properties["run_fn"] == trainer.exec_properties["run_fn"] == RUN_FN


def test_a_run_of_one_phase_has_one_transform_and_one_trainer_configured_as_before():
    config = presets.load("smoke", ["trainer.later_phases=[]"])
    by_id = {node.id: node for node in create_pipeline(config, PATHS).components}
    assert not [node_id for node_id in by_id if "_phase" in node_id]
    assert producer(by_id["Trainer"].inputs["examples"]) == ("Transform", "transformed_examples")
    assert "base_model" not in by_id["Trainer"].inputs
    assert set(json.loads(by_id["Trainer"].exec_properties["custom_config"])) == {"data", "model", "trainer"}


def test_each_task_fine_tunes_the_trainer_model_on_its_own_examples(nodes):
    _, by_id = nodes
    for task in TASKS:
        fine_tune = by_id[f"GlueFineTune_{task}"]
        assert fine_tune.exec_properties["task"] == task
        assert producer(fine_tune.inputs["examples"]) == (f"GlueExampleGen_{task}", "examples")
        assert producer(fine_tune.inputs["pretrained_model"]) == ("Trainer", "model")
        glue_examples = by_id[f"GlueExampleGen_{task}"]
        assert glue_examples.exec_properties["input_base"] == "/data/glue"
        folder = glue_tasks.get_task(task).directory
        patterns = [s["pattern"] for s in json.loads(glue_examples.exec_properties["input_config"])["splits"]]
        assert patterns == [f"{folder}/train.tsv", f"{folder}/dev.tsv", f"{folder}/test.tsv"], "its own folder"
        eval_config = by_id[f"Evaluator_{task}"].exec_properties["eval_config"]
        for metric in glue_tasks.get_task(task).metrics:
            assert f'\\"metric\\": \\"{metric}\\"' in eval_config, "gated on the official metrics"

        evaluator, pusher = by_id[f"Evaluator_{task}"], by_id[f"Pusher_{task}"]
        assert producer(evaluator.inputs["model"]) == (f"GlueFineTune_{task}", "model")
        assert producer(evaluator.inputs["examples"]) == (f"GlueExampleGen_{task}", "examples")
        assert producer(evaluator.inputs["baseline_model"]) == (f"LatestBlessedModelResolver_{task}", "model")
        resolver = by_id[f"LatestBlessedModelResolver_{task}"]
        assert resolver_source(resolver, "model") == (f"GlueFineTune_{task}", "model"), "baseline of its own task"
        assert resolver_source(resolver, "model_blessing") == (f"Evaluator_{task}", "blessing")
        assert producer(pusher.inputs["model"]) == (f"GlueFineTune_{task}", "model")
        assert producer(pusher.inputs["model_blessing"]) == (f"Evaluator_{task}", "blessing")
        assert f"/out/srv/{task}" in str(pusher.exec_properties["push_destination"])


def test_components_receive_their_config_sections_once(nodes):
    config, by_id = nodes
    trainer = by_id["Trainer"]
    custom = json.loads(trainer.exec_properties["custom_config"])
    assert set(custom) == {"data", "model", "trainer", "phase"}
    assert section_from(custom, "trainer", TrainerConfig).train_steps == 123
    assert section_from(custom, "model", ModelConfig) == config.model
    # Every phase's Trainer gets the whole run's sections and its phase's number; the instances of phase 2 are
    # made at its lengths.
    first = json.loads(by_id["Trainer_phase1"].exec_properties["custom_config"])
    assert (first["phase"], custom["phase"]) == (1, 2)
    assert {k: v for k, v in first.items() if k != "phase"} == {k: v for k, v in custom.items() if k != "phase"}
    later_data = section_from(by_id["Transform_phase2"].exec_properties["custom_config"], "data", PretrainingDataConfig)
    assert (later_data.max_seq_length, later_data.max_predictions_per_seq) == (128, 20)
    export_data = section_from(by_id["EncoderExport"].exec_properties["custom_config"], "data", PretrainingDataConfig)
    assert export_data == later_data, "the exported SavedModel takes the last phase's length"
    # The step budget travels in the trainer section only, not again as TrainArgs/EvalArgs.
    assert "num_steps" not in trainer.exec_properties["train_args"] + trainer.exec_properties["eval_args"]
    corpus_config = json.loads(by_id["TextExampleGen"].exec_properties["custom_config"])
    assert set(corpus_config) == {"corpus"}
    assert section_from(corpus_config, "corpus", CorpusConfig) == config.corpus
    transform_config = json.loads(by_id["Transform"].exec_properties["custom_config"])
    assert section_from(transform_config, "data", PretrainingDataConfig) == config.data
    fine_tune_config = by_id["GlueFineTune_sst2"].exec_properties["custom_config"]
    assert section_from(fine_tune_config, "glue", GlueConfig) == config.glue


def test_run_config_is_recorded_first_and_the_report_reads_every_task(nodes):
    config, by_id = nodes
    assert json.loads(by_id["RunConfigGen"].exec_properties["run_config"]) == config.to_dict()
    report = by_id["ReportGen"]
    assert producer(report.inputs["run_configuration"]) == ("RunConfigGen", "run_configuration")
    assert producer(report.inputs["pretraining_model_run"]) == ("Trainer", "model_run")
    assert producer(report.inputs["pretraining_model_run_phase1"]) == ("Trainer_phase1", "model_run")
    assert producer(report.inputs["instance_statistics_phase2"]) == ("InstanceStatisticsGen_phase2", "statistics")
    assert producer(report.inputs["instance_statistics"]) == ("InstanceStatisticsGen", "statistics")
    assert producer(report.inputs["corpus_examples"]) == ("TextExampleGen", "examples")
    for task in TASKS:
        assert producer(report.inputs[f"fine_tuning_model_run_{task}"]) == (f"GlueFineTune_{task}", "model_run")
        assert producer(report.inputs[f"blessing_{task}"]) == (f"Evaluator_{task}", "blessing")
        assert producer(report.inputs[f"pushed_model_{task}"]) == (f"Pusher_{task}", "pushed_model")
    # Every other node is upstream of the report, so it runs last.
    upstream, frontier = set(), [report]
    while frontier:
        node = frontier.pop()
        for parent in node.upstream_nodes:
            if parent.id not in upstream:
                upstream.add(parent.id)
                frontier.append(parent)
    assert upstream == set(by_id) - {"ReportGen"}


def beam_args_by_node(pipeline) -> dict[str, list[str]]:
    from tfx.dsl.compiler import compiler

    deployment = pipeline_pb2.IntermediateDeploymentConfig()
    compiler.Compiler().compile(pipeline).deployment_config.Unpack(deployment)
    specs = {}
    for node_id, executor in deployment.executor_specs.items():
        if executor.Is(executable_spec_pb2.BeamExecutableSpec.DESCRIPTOR):
            spec = executable_spec_pb2.BeamExecutableSpec()
            executor.Unpack(spec)
            specs[node_id] = list(spec.beam_pipeline_args)
    return specs


def test_beam_args_of_the_config_reach_every_beam_component(tmp_path):
    from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

    from pipeline import local_runner

    config = presets.load("smoke", ['beam.args=["--direct_num_workers=3", "--my_flag=x"]'])
    specs = beam_args_by_node(local_runner.build(config, tmp_path, tmp_path))
    beam_nodes = {"TextExampleGen", "StatisticsGen", "Transform", "InstanceStatisticsGen"}
    assert beam_nodes | {"Evaluator_sst2", "GlueExampleGen_sst2"} <= set(specs)
    for node_id, args in specs.items():
        # The local defaults first, the config's options after them (the later of two wins in Beam).
        assert tuple(args[:3]) == IN_PROCESS_BEAM_ARGS, node_id
        assert args[-2:] == ["--direct_num_workers=3", "--my_flag=x"], node_id
    assert PipelineOptions(specs["Transform"]).view_as(DirectOptions).direct_num_workers == 3


def test_step_args_reach_only_the_steps_they_name_after_the_pipelines_options(tmp_path):
    from pipeline import local_runner

    workers = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    step_args = {"Transform": workers, "InstanceStatisticsGen_phase2": ["--direct_num_workers=3"]}
    config = presets.load("smoke", ['beam.args=["--my_flag=x"]', f"beam.step_args={json.dumps(step_args)}"])
    specs = beam_args_by_node(local_runner.build(config, tmp_path, tmp_path))
    assert specs["Transform"][-3:] == ["--my_flag=x", *workers]  # the step's own options last: they win
    assert specs["InstanceStatisticsGen_phase2"][-2:] == ["--my_flag=x", "--direct_num_workers=3"]
    for node_id in set(specs) - set(step_args):
        assert specs[node_id][-1] == "--my_flag=x", node_id


def test_step_args_naming_no_beam_step_of_the_run_are_refused(tmp_path):
    from pipeline import local_runner

    config = presets.load("smoke", ['beam.step_args={"Trainer": ["--direct_num_workers=2"]}'])
    with pytest.raises(ValueError, match=r"\['Trainer'\], which are not Beam steps of this run: \[.*'Transform'"):
        local_runner.build(config, tmp_path, tmp_path)
    with pytest.raises(ValueError, match=r"beam.step_args\['Transform'\] must be options"):
        presets.load("smoke", ['beam.step_args={"Transform": ["direct_num_workers=2"]}'])


def test_every_artifact_the_report_reads_is_an_output_of_a_node_of_the_pipeline(nodes):
    _, by_id = nodes
    sources = [(source, None) for source in contract.REPORT_SOURCES.values()]
    sources += [(source, task) for source in contract.REPORT_TASK_SOURCES.values() for task in TASKS]
    for source, task in sources:
        assert source.output in by_id[source.node_id(task)].outputs, f"{source.node_id(task)}.{source.output}"
    # What `bert-tfx report` reads from a store is what ReportGen receives: the same table, the same fields.
    assert set(contract.REPORT_SOURCES) - {contract.RUN_CONFIGURATION} == {
        f.name for f in dataclasses.fields(ReportInputs)
    } - {"config", "tasks", "phases"}
    assert set(contract.REPORT_TASK_SOURCES) == {f.name for f in dataclasses.fields(TaskArtifacts)}


def renamed(module, **names) -> types.SimpleNamespace:
    """A copy of `module` with some of its names changed: the contract as one side of a rename sees it."""
    return types.SimpleNamespace(**{**vars(module), **names})


@pytest.mark.parametrize(
    "pipeline_side",
    [
        {"TRAINER": "PretrainingTrainer"},  # the pipeline names a node the report reads differently
        {"INSTANCE_STATISTICS_GEN": "InstanceStats"},
        {"PUSHER": "Deployer"},  # a per-task node
        {"GLUE_FINE_TUNE": "FineTune"},
    ],
)
def test_a_node_renamed_in_the_pipeline_but_not_in_the_report_fails_to_build(monkeypatch, pipeline_side):
    monkeypatch.setattr(bert_pipeline, "contract", renamed(contract, **pipeline_side))
    with pytest.raises(LookupError, match="the run report reads"):
        create_pipeline(presets.load("smoke"), PATHS)


def test_a_source_renamed_in_the_report_but_not_in_the_pipeline_fails_to_build(monkeypatch):
    report_side = dict(
        contract.REPORT_SOURCES, pretraining_model_run=contract.ArtifactSource("Pretrainer", "model_run")
    )
    monkeypatch.setattr(contract, "REPORT_SOURCES", report_side)
    with pytest.raises(LookupError, match="reads Pretrainer.model_run, but the pipeline has no node Pretrainer"):
        create_pipeline(presets.load("smoke"), PATHS)
