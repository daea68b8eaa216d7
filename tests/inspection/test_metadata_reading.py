"""Reading runs, artifacts and lineage back from a real ML Metadata store shaped as TFX writes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from configs import pipeline_contract as contract
from inspection import lineage, records, report, run_contents, store
from pipeline import cli, run_lock
from tests.inspection.fake_runs import State, StoreBuilder

CONFIG = {"preset": "tiny", "pipeline_name": "bert-test", "glue": {"tasks": ["sst2"]}}


@pytest.fixture
def recorded(tmp_path):
    """Run A completes everything; run B re-uses A's outputs from cache and its Trainer fails; run C is running."""
    b = StoreBuilder(str(tmp_path / "metadata.sqlite"))
    root = tmp_path / "root"
    a = {}
    a["config"] = b.artifact("RunConfiguration", f"{root}/RunConfigGen/run_configuration/1")
    b.execution(
        "bert-test",
        "run-a",
        "RunConfigGen",
        outputs={"run_configuration": [a["config"]]},
        properties={"run_config": CONFIG},
    )
    a["corpus"] = b.artifact("Examples", f"{root}/TextExampleGen/examples/2")
    b.execution(
        "bert-test",
        "run-a",
        "TextExampleGen",
        outputs={"examples": [a["corpus"]]},
        properties={
            "input_base": "/data/corpus",
            "input_fingerprint": "split:corpus,num_files:3,total_bytes:99,xor_checksum:1",
        },
    )
    a["graph"] = b.artifact("TransformGraph", f"{root}/Transform/transform_graph/3")
    b.execution(
        "bert-test", "run-a", "Transform", inputs={"examples": [a["corpus"]]}, outputs={"transform_graph": [a["graph"]]}
    )
    a["encoder"] = b.artifact("Model", f"{root}/Trainer/model/4")
    a["pretraining_model_run"] = b.artifact("ModelRun", f"{root}/Trainer/model_run/4")
    b.execution(
        "bert-test",
        "run-a",
        "Trainer",
        inputs={"transform_graph": [a["graph"]]},
        outputs={"model": [a["encoder"]], "model_run": [a["pretraining_model_run"]]},
    )
    a["classifier"] = b.artifact("Model", f"{root}/GlueFineTune_sst2/model/5")
    a["fine_tuning_model_run"] = b.artifact("ModelRun", f"{root}/GlueFineTune_sst2/model_run/5")
    b.execution(
        "bert-test",
        "run-a",
        "GlueFineTune_sst2",
        inputs={"pretrained_model": [a["encoder"]]},
        outputs={"model": [a["classifier"]], "model_run": [a["fine_tuning_model_run"]]},
    )
    a["blessing"] = b.artifact("ModelBlessing", f"{root}/Evaluator_sst2/blessing/6", blessed=1)
    b.execution(
        "bert-test",
        "run-a",
        "Evaluator_sst2",
        inputs={"model": [a["classifier"]]},
        outputs={"blessing": [a["blessing"]]},
    )
    a["pushed"] = b.artifact(
        "PushedModel", f"{root}/Pusher_sst2/pushed_model/7", pushed=1, pushed_destination="/serving/sst2/17"
    )
    b.execution(
        "bert-test",
        "run-a",
        "Pusher_sst2",
        inputs={"model": [a["classifier"]], "model_blessing": [a["blessing"]]},
        outputs={"pushed_model": [a["pushed"]]},
    )

    b.execution(
        "bert-test",
        "run-b",
        "RunConfigGen",
        State.CACHED,
        outputs={"run_configuration": [a["config"]]},
        properties={"run_config": CONFIG},
    )
    b.execution("bert-test", "run-b", "TextExampleGen", State.CACHED, outputs={"examples": [a["corpus"]]})
    b.execution(
        "bert-test",
        "run-b",
        "Transform",
        State.CACHED,
        inputs={"examples": [a["corpus"]]},
        outputs={"transform_graph": [a["graph"]]},
    )
    b.execution("bert-test", "run-b", "Trainer", State.FAILED, inputs={"transform_graph": [a["graph"]]})
    b.execution("bert-test", "run-c", "TextExampleGen", State.RUNNING)
    return b.path, a, root


def reader_of(path):
    return records.MetadataReader(store.open_store(path))


def test_runs_are_told_apart_with_state_and_preset(recorded):
    path, _, _ = recorded
    runs = reader_of(path).runs()
    assert [(r.name, r.state, r.preset) for r in runs] == [
        ("run-a", "COMPLETE", "tiny"),
        ("run-b", "FAILED", "tiny"),
        ("run-c", "RUNNING", ""),
    ]
    assert [e.node_id for e in runs[1].executions] == ["RunConfigGen", "TextExampleGen", "Transform", "Trainer"]
    assert [e.cached for e in runs[1].executions] == [True, True, True, False]
    assert {r.pipeline for r in runs} == {"bert-test"}
    assert reader_of(path).runs(pipeline="other") == []


def test_a_run_without_the_node_reading_it_takes_the_state_of_the_rest(recorded):
    path, _, _ = recorded
    run_b = reader_of(path).run("run-b")
    rest = records.without_node(run_b, "Trainer")
    assert (rest.state, [e.node_id for e in rest.executions]) == (
        "COMPLETE",
        ["RunConfigGen", "TextExampleGen", "Transform"],
    )
    assert (rest.name, rest.preset) == (run_b.name, run_b.preset)


def test_a_run_is_found_by_name_id_latest_or_unique_part(recorded):
    path, _, _ = recorded
    reader = reader_of(path)
    assert reader.run("run-b").execution("Trainer").state == "FAILED"
    assert reader.run(str(reader.run("run-a").id)).name == "run-a"
    assert reader.run("latest").name == "run-c"
    assert reader.run("-c").name == "run-c"
    with pytest.raises(LookupError, match="matches several runs"):
        reader.run("run")
    with pytest.raises(LookupError, match="'nope' matches no run"):
        reader.run("nope")


def test_producer_is_the_execution_that_made_it_not_a_cached_reuse(recorded):
    path, made, _ = recorded
    reader = reader_of(path)
    producer = reader.producer(made["corpus"].id)
    assert producer.node_id == "TextExampleGen" and producer.state == "COMPLETE"
    assert producer.id in {e.id for e in reader.run("run-a").executions}


def test_artifacts_by_type_and_by_run(recorded):
    path, made, root = recorded
    reader = reader_of(path)
    [pushed] = reader.artifacts("PushedModel")
    assert (pushed.id, pushed.producer, pushed.properties["pushed"]) == (made["pushed"].id, "Pusher_sst2", 1)
    run_b = {a.id for a in reader.artifacts(run=reader.run("run-b"))}
    assert run_b == {made["config"].id, made["corpus"].id, made["graph"].id}
    assert reader.artifact(f"{root}/Trainer/model/4/").id == made["encoder"].id
    with pytest.raises(LookupError, match="no artifact with id 999"):
        reader.artifact("999")


def test_lineage_walks_from_the_pushed_model_back_to_the_corpus(recorded):
    path, made, _ = recorded
    reader = reader_of(path)
    upstream = {a.id for a in lineage.upstream_artifacts(reader, made["pushed"].id)}
    assert upstream == {made[k].id for k in ("corpus", "graph", "encoder", "classifier", "blessing")}
    down = lineage.artifact_lineage(reader, made["corpus"].id, (lineage.DOWNSTREAM,))
    assert made["pushed"].id in down.artifacts
    assert made["pretraining_model_run"].id in down.artifacts
    # Run B's cached Transform re-used the corpus and made nothing: not part of the lineage; its failed
    # Trainer did consume the graph, and shows.
    assert sorted((e.node_id, e.state) for e in down.executions.values() if e.node_id in ("Transform", "Trainer")) == [
        ("Trainer", "COMPLETE"),
        ("Trainer", "FAILED"),
        ("Transform", "COMPLETE"),
    ]


def test_tree_prints_each_subtree_once(recorded):
    path, made, root = recorded
    graph = lineage.artifact_lineage(reader_of(path), made["pushed"].id)
    lines = lineage.tree_lines(graph)
    assert lines[0] == f"PushedModel #{made['pushed'].id}  {root}/Pusher_sst2/pushed_model/7"
    assert lines[1] == "upstream:"
    assert sum("made by GlueFineTune_sst2" in line for line in lines) == 2
    assert sum("see above" in line for line in lines) == 1
    assert any(line.strip().startswith(f"<- Examples #{made['corpus'].id}") for line in lines)
    # The root of it all: the files the ExampleGen read.
    assert "<- files /data/corpus (split:corpus, num_files:3, total_bytes:99)" in [line.strip() for line in lines]


def test_dot_has_every_node_and_edge_and_renders(recorded, tmp_path):
    path, made, _ = recorded
    graph = lineage.artifact_lineage(reader_of(path), made["pushed"].id)
    dot = lineage.to_dot(graph)
    assert dot.count("->") == len(graph.inputs) + len(graph.outputs) + 1  # + the corpus folder's edge
    assert 'shape=folder, label="/data/corpus' in dot
    for artifact_id in graph.artifacts:
        assert f"  a{artifact_id} [" in dot
    assert f'penwidth=3, label="PushedModel #{made["pushed"].id}' in dot
    if shutil.which("dot"):
        svg = lineage.render(dot, tmp_path / "lineage.svg").read_text()
        assert "<svg" in svg and "Trainer" in svg
        assert lineage.render(dot, tmp_path / "lineage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="cannot draw a .gif"):
        lineage.render(dot, tmp_path / "lineage.gif")


def test_report_reads_the_run_outputs_task_by_task(recorded):
    path, made, root = recorded
    (root / "GlueFineTune_sst2/model_run/5").mkdir(parents=True)
    (root / "GlueFineTune_sst2/model_run/5/dev_metrics.json").write_text(
        json.dumps(
            {
                "task": "sst2",
                "train_steps": 30,
                "dev": {"accuracy": 0.75, "loss": 0.5},
                "constant_baseline": {"eval": {"accuracy": 0.509}},
            }
        )
    )
    (root / "Trainer/model_run/4").mkdir(parents=True)
    (root / "Trainer/model_run/4/history.json").write_text(
        json.dumps({"loss": [8.0, 6.5], "masked_lm_accuracy": [0.01, 0.08], "learning_rate": [1e-4, 5e-5]})
    )
    reader = reader_of(path)
    run = reader.run("run-a")
    inputs = run_contents.inputs_from_store(reader, run)
    assert inputs.config == CONFIG
    assert {task: (a.blessed, a.pushed_to) for task, a in inputs.tasks.items()} == {"sst2": (True, "/serving/sst2/17")}
    [task] = run_contents.task_results(inputs)
    assert (task.task, task.metrics, task.train_steps) == ("sst2", {"accuracy": 0.75}, 30)

    page = report.write_report(inputs, root / "report", run, lineage.to_dot(lineage.run_lineage(reader, run)))
    text = page.read_text()
    assert (
        '<td>sst2</td><td>accuracy 0.750</td><td>accuracy 0.509</td><td>30</td><td class="blessed">blessed</td>' in text
    )
    assert "masked_lm_accuracy</td><td>0.08</td>" in text
    assert (page.parent / contract.REPORT_CURVES_FILE).stat().st_size > 1000
    markdown = (page.parent / contract.REPORT_MARKDOWN_FILE).read_text()
    assert "| sst2 | accuracy 0.750 | accuracy 0.509 | 30 | blessed | /serving/sst2/17 |" in markdown
    assert "| Trainer | complete |" in markdown


def test_rejected_and_unpushed_tasks_say_so():
    inputs = run_contents.inputs_from_artifacts(
        {"glue": {"tasks": ["mrpc", "rte"]}},
        {
            contract.report_task_key("blessing", "mrpc"): run_contents.ArtifactRef("/r/b/9", {"blessed": 0}),
            contract.report_task_key("pushed_model", "mrpc"): run_contents.ArtifactRef("/r/p/10", {"pushed": 0}),
        },
    )
    mrpc, rte = run_contents.task_results(inputs)
    assert (mrpc.blessed, mrpc.pushed_to) == (False, None)
    assert (rte.blessed, rte.pushed_to) == (None, None)


def run_cli(capsys, *args):
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_commands_read_a_store(recorded, capsys, tmp_path):
    path, made, _ = recorded
    code, out, _ = run_cli(capsys, "runs", "--sqlite", path, "--json")
    # Run C never finished and no process holds the pipeline's lock: it died.
    assert code == 0 and [r["state"] for r in json.loads(out)] == ["COMPLETE", "FAILED", "DIED"]
    with run_lock.held(Path(path).parent):  # now a process runs the pipeline: its newest unfinished run is C
        code, out, _ = run_cli(capsys, "runs", "--sqlite", path, "--json")
        assert [r["state"] for r in json.loads(out)] == ["COMPLETE", "FAILED", "RUNNING"]
    code, out, _ = run_cli(capsys, "runs", "--sqlite", path)
    assert out.splitlines()[0].split() == [
        "run",
        "pipeline",
        "preset",
        "started",
        "(UTC)",
        "duration",
        "state",
        "cached",
    ]
    assert out.splitlines()[2].split()[-2:] == ["FAILED", "3/4"]
    code, out, _ = run_cli(capsys, "show", "run-b", "--sqlite", path)
    assert "state FAILED" in out and '"preset": "tiny"' in out
    code, out, _ = run_cli(capsys, "artifacts", "--type", "Model", "--sqlite", path, "--json")
    assert {a["producer"] for a in json.loads(out)} == {"Trainer", "GlueFineTune_sst2"}
    code, out, _ = run_cli(capsys, "lineage", str(made["pushed"].id), "--upstream-only", "--sqlite", path, "--json")
    assert made["corpus"].id in {a["id"] for a in json.loads(out)["artifacts"]}
    code, out, err = run_cli(capsys, "show", "nope", "--sqlite", path)
    assert code == 1 and "matches no run" in err and "run-c" in err
    code, out, err = run_cli(capsys, "runs", "--sqlite", str(tmp_path / "absent.sqlite"))
    assert code == 1 and "no ML Metadata store at" in err, (code, out)


def test_store_options_name_mysql_or_a_config_file(tmp_path, monkeypatch):
    monkeypatch.setenv(store.MYSQL_PASSWORD_ENV, "s3cret")
    args = cli._parser().parse_args(["runs", "--mysql-host", "db.example", "--mysql-database", "kfp"])
    from pipeline import metadata_cli

    config = metadata_cli.connection_from_args(args)
    assert (config.mysql.host, config.mysql.port, config.mysql.database, config.mysql.password) == (
        "db.example",
        3306,
        "kfp",
        "s3cret",
    )
    assert store.describe(config) == "mysql://root@db.example:3306/kfp"
    bad = tmp_path / "bad.pbtxt"
    bad.write_text("mysql { hots: 'x' }")
    with pytest.raises(ValueError, match="bad.pbtxt: not a ml_metadata ConnectionConfig"):
        store.config_from_file(bad)
    good = tmp_path / "good.pbtxt"
    good.write_text('mysql { host: "h" port: 3307 database: "d" user: "u" }')
    assert store.describe(store.config_from_file(good)) == "mysql://u@h:3307/d"


def test_a_corpus_the_vocabulary_cannot_spell_is_warned_about_naming_the_setting():
    """A Chinese corpus under the smoke preset gave 49% [UNK] tokens and nothing said so."""
    summary = {
        "instances": {"train": 1000},
        "real_tokens": {"train": 20_000, "eval": 2_000},
        "unknown_tokens": {"train": 9_800, "eval": 980},
        "max_alphabet": 200,
    }
    [warning] = run_contents.data_warnings(summary)
    assert (
        warning.startswith("warning: 49.0% of the instances' tokens are [UNK]") and "data.max_alphabet=200" in warning
    )
    assert "train: 1,000 instances, 20,000 real tokens, 49.0% of them [UNK]" in run_contents.data_lines(summary)
    english = {**summary, "unknown_tokens": {"train": 40, "eval": 3}}
    assert run_contents.data_warnings(english) == []
