"""The whole pipeline on the local orchestrator, as a user runs it, on the bundled data (smoke preset).

Four runs share one output folder (`tests/smoke_runs.py`): a first full run; an unchanged re-run, cached except
the Evaluators (and the Pushers after them) whose baseline resolver now finds the first run's blessed model; a
second unchanged re-run, all cached; and a run with Trainer settings changed (only the Trainer and what follows
re-execute). Then the TFX CLI runs the same pipeline file. Takes several minutes on 2 cores.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from configs import presets
from inspection import lineage
from models import features
from tests.conftest import REPO_ROOT
from tests.smoke_runs import CHANGED_TRAINER, latest_executions, reader_of

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"  # Debian's; `make test` installs it
# As root, without a sandbox; no background connections (this machine has no network to offer them).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UPSTREAM_OF_TRAINER = {
    "RunConfigGen",
    "TextExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "Transform",
    "InstanceStatisticsGen",
    "Transform_phase2",
    "InstanceStatisticsGen_phase2",
    "GlueExampleGen_sst2",
    "GlueExampleGen_mrpc",
}
TRAINER_AND_DOWNSTREAM = {
    "Trainer_phase1",
    "Trainer",
    "EncoderExport",
    "GlueFineTune_sst2",
    "GlueFineTune_mrpc",
    "Evaluator_sst2",
    "Evaluator_mrpc",
    "Pusher_sst2",
    "Pusher_mrpc",
    "EncoderPusher",
    "ReportGen",
}


@pytest.fixture(scope="module")
def runs(smoke_runs):
    return smoke_runs


GATING = {"Evaluator_sst2", "Evaluator_mrpc", "Pusher_sst2", "Pusher_mrpc", "EncoderPusher", "ReportGen"}


def assert_cached_except_gating(executions):
    """Unchanged inputs: everything cached, except that the Evaluators (and the Pushers and report after
    them) re-run when their baseline resolver finds a newer blessed model than last time."""
    rerun = {node for node, state in states(executions).items() if state != "CACHED"}
    assert rerun <= GATING, rerun


def states(executions):
    return {e.node_id: e.state for e in executions if not e.node_id.startswith("LatestBlessedModelResolver")}


def latest_uri(root: Path, node: str, output: str) -> Path:
    return max((root / node / output).iterdir(), key=lambda p: int(p.name))


def test_every_component_completes_and_cli_reports_outputs(runs):
    (seconds, stdout, _), executions = runs["first"]
    assert states(executions) == {node: "COMPLETE" for node in UPSTREAM_OF_TRAINER | TRAINER_AND_DOWNSTREAM}
    assert "ML Metadata:" in stdout and str(runs["store_path"]) in stdout
    for task in ("sst2", "mrpc"):
        assert re.search(rf"^  {task}\s+\w+ 0\.\d+ \(constant 0\.\d+\).*: (blessed|rejected)", stdout, re.M), stdout
    assert re.search(r"^GLUE: [+-]\d+\.\d points over the constant predictors", stdout, re.M), stdout
    assert "GLUE score: **" in stdout
    for submission in re.findall(r"^Test-set predictions of the pushed models: (\S+) \(", stdout, re.M):
        assert zipfile.is_zipfile(submission), submission  # the artifact's file, not the report's scratch folder
    assert re.search(
        r"corpus: 1\d\d documents read, \d+ too short, \d+ duplicates, 0 lines with bad bytes; 1\d\d kept", stdout
    )
    # The [UNK] share comes from Transform's per-instance count through InstanceStatisticsGen's statistics.
    unknown = re.search(
        r"train: \d+ documents -> [\d,]+ instances, [\d,]+ real tokens, (\d+\.\d)% of them \[UNK\]", stdout
    )
    assert unknown and float(unknown.group(1)) < 2.0 and "are [UNK]" not in stdout, stdout
    assert seconds < 15 * 60


def test_console_shows_each_component_start_and_end_and_hides_library_chatter(runs):
    (_, stdout, stderr), executions = runs["first"]
    total = len(executions)
    lines = stdout.splitlines()
    started = [line for line in lines if line.startswith("[") and line.endswith(" ...")]
    finished = [line for line in lines if line.startswith("[") and " done in " in line]
    assert len(started) == len(finished) == total
    assert started[0].startswith(f"[ 1/{total}] ") and finished[-1].startswith(f"[{total}/{total}] ReportGen done in ")
    # The summary lists every component's time and where the report is.
    assert sum(1 for line in lines if line.startswith("    ") and line.rstrip().endswith(" s  done")) == total
    page = Path(next(line for line in lines if line.strip().startswith("report:")).split()[-1])
    assert page.name == "index.html" and page.parent.parent.parent.name == "ReportGen" and page.exists()
    for chatter in ("ArtifactQuery.property_predicate", "absl::InitializeLog", "Tables initialized", "WARNING:"):
        assert chatter not in stdout + stderr, chatter
    (_, cached_stdout, _), _ = runs["cached"]
    assert any(line.startswith("[") and " Trainer cached in " in line for line in cached_stdout.splitlines())


def test_transform_emits_the_feature_contract_with_15_percent_masking(runs):
    import tensorflow as tf
    import tensorflow_transform as tft

    graph_uri = latest_uri(runs["root"], "Transform", "transform_graph")
    output = tft.TFTransformOutput(str(graph_uri))
    spec = output.transformed_feature_spec()
    config = presets.preset("smoke").data
    assert set(spec) == set(features.INSTANCE_FEATURES)
    for name in features.SEQUENCE_FEATURES:
        assert spec[name].shape == [config.max_seq_length]
    for name in features.PREDICTION_FEATURES:
        assert spec[name].shape == [config.max_predictions_per_seq]
    assert spec[features.NEXT_SENTENCE_LABELS].shape == []
    for name, feature in spec.items():
        assert isinstance(feature, tf.io.FixedLenFeature), name
        assert feature.dtype == (tf.float32 if name == features.MASKED_LM_WEIGHTS else tf.int64), name

    examples = latest_uri(runs["root"], "Transform", "transformed_examples")
    files = glob.glob(str(examples / "Split-train" / "*"))
    batch = next(
        iter(
            tf.data.TFRecordDataset(files, compression_type="GZIP")
            .batch(2000)
            .map(lambda x: tf.io.parse_example(x, spec))
        )
    )
    real_tokens = batch[features.INPUT_MASK].numpy().sum() - 3 * batch[features.INPUT_MASK].shape[0]
    predicted = batch[features.MASKED_LM_WEIGHTS].numpy().sum()
    assert 0.14 <= predicted / real_tokens <= 0.17
    assert 0.35 < batch[features.NEXT_SENTENCE_LABELS].numpy().mean() < 0.65
    vocab = [line.rstrip("\n") for line in open(output.vocabulary_file_by_name(features.VOCAB_FILE))]
    assert vocab[:5] == list(features.SPECIAL_TOKENS)
    assert 1800 <= len(vocab) <= config.vocab_size
    assert output.vocabulary_size_by_name(features.VOCAB_FILE) == len(vocab)


def test_each_data_step_read_every_record_the_step_before_wrote(runs):
    """The counts behind the checks of `components.record_counts`, in a run that lost nothing."""
    from components.record_counts import read_counts
    from inspection import statistics

    reader = reader_of(runs["store_path"])
    artifacts = reader.run_artifacts(reader.runs()[0])

    def written(key: str) -> dict[str, int]:
        properties = artifacts[key][-1].properties
        return {name.removeprefix("records_"): int(v) for name, v in properties.items() if name.startswith("records_")}

    groups, instances = written("TextExampleGen.examples"), written("Transform.transformed_examples")
    assert set(groups) == set(instances) == {"train", "eval"} and min(groups.values()) > 0
    assert instances["train"] > 100 * groups["train"]
    assert statistics.split_counts(artifacts["StatisticsGen.statistics"][-1].uri) == groups
    assert statistics.split_counts(artifacts["InstanceStatisticsGen.statistics"][-1].uri) == instances
    # Transform read train twice (to learn the vocabulary, then to transform it) and eval once, all of it each time.
    reads = read_counts(os.path.join(artifacts["Transform.transformed_examples"][-1].uri, "record_counts"))
    read_splits = sorted(name.rsplit("-", 1)[0] for name in reads if name.startswith("read-"))
    assert read_splits == ["read-eval", "read-train", "read-train"]
    assert all(count == groups[name.split("-")[1]] for name, count in reads.items() if name.startswith("read-"))


def test_pretraining_loss_goes_down(runs):
    import tensorflow_transform as tft

    # Two phases: 240 steps at 64 tokens, then 60 at 128 from where the first ended.
    first_run_dir = latest_uri(runs["root"], "Trainer_phase1", "model_run")
    first = json.loads((first_run_dir / "history.json").read_text())
    run_dir = latest_uri(runs["root"], "Trainer", "model_run")
    history = json.loads((run_dir / "history.json").read_text())
    assert history["loss"][-1] < first["loss"][0] - 0.5
    training = json.loads((run_dir / "training.json").read_text())
    assert (training["phase"], training["phases"], training["max_seq_length"]) == (2, 2, 128)
    assert (training["phase_start_step"], training["final_step"], training["resumed_from_step"]) == (240, 300, 0)
    assert json.loads((first_run_dir / "training.json").read_text())["final_step"] == 240
    assert history["tokens_per_second"][-1] == pytest.approx(128 * history["sequences_per_second"][-1])
    # On held-out instances the masked-LM loss ends well below a uniform guess over the vocabulary
    # (ln |V|); after the first logging period it is already near this corpus' plateau, so the
    # first-vs-last comparison of validation losses was noise.
    vocab = tft.TFTransformOutput(str(latest_uri(runs["root"], "Transform", "transform_graph")))
    uniform = math.log(vocab.vocabulary_size_by_name(features.VOCAB_FILE))
    assert history["val_lm_example_loss"][-1] < uniform - 0.5, (history["val_lm_example_loss"], uniform)
    assert glob.glob(str(run_dir / "tensorboard" / "train" / "events.out.tfevents.*"))


def test_fine_tuned_model_returns_probabilities(runs):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    model = tf.saved_model.load(str(latest_uri(runs["root"], "GlueFineTune_mrpc", "model") / "Format-Serving"))
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={
                    "sentence1": tf.train.Feature(bytes_list=tf.train.BytesList(value=[s1.encode()])),
                    "sentence2": tf.train.Feature(bytes_list=tf.train.BytesList(value=[s2.encode()])),
                }
            )
        ).SerializeToString()
        for s1, s2 in [("The cat sat on the mat.", "A cat was sitting on the mat."), ("Stocks fell.", "It rained.")]
    ]
    outputs = model.signatures["serving_default"](examples=tf.constant(examples))
    probabilities = outputs[features.PROBABILITIES].numpy()
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_glue_report_never_blesses_a_model_at_or_below_the_constant_baseline(runs):
    report_dir = latest_uri(runs["root"], "ReportGen", "report")
    report = json.loads((report_dir / "glue_report.json").read_text())
    assert [entry["task"] for entry in report["tasks"]] == ["sst2", "mrpc"]
    for entry in report["tasks"]:
        blessing = latest_uri(runs["root"], f"Evaluator_{entry['task']}", "blessing")
        assert entry["blessed"] == (blessing / "BLESSED").exists()
        if entry["blessed"]:
            for metric, value in entry["dev"].items():
                assert value > entry["constant_baseline"][metric], (entry["task"], metric)
    with zipfile.ZipFile(report_dir / "glue_submission.zip") as archive:
        names = set(archive.namelist())
        expected = {f"{e['task'].upper().replace('SST2', 'SST-2')}.tsv" for e in report["tasks"] if e["blessed"]}
        assert names == expected
        for name in names:
            rows = archive.read(name).decode().splitlines()
            assert rows[0] == "index\tprediction" and len(rows) == 1 + {"SST-2.tsv": 1821, "MRPC.tsv": 1725}[name]
    assert (report_dir / "glue_report.png").stat().st_size > 1000


def test_evaluator_writes_a_blessing_and_pusher_follows_it(runs):
    blessings = reader_of(runs["store_path"]).artifacts("ModelBlessing")
    assert len(blessings) >= 2
    for blessing in blessings:
        blessed = blessing.properties["blessed"]
        marker = "BLESSED" if blessed else "NOT_BLESSED"
        assert os.path.exists(os.path.join(blessing.uri, marker))
    for task in ("sst2", "mrpc"):
        uri = latest_uri(runs["root"], f"Evaluator_{task}", "evaluation")
        assert any(uri.iterdir()), "TFMA wrote its evaluation"
        blessing = latest_uri(runs["root"], f"Evaluator_{task}", "blessing")
        pushed_dir = runs["output_dir"] / "bert-smoke" / "serving" / task
        if (blessing / "BLESSED").exists():
            assert any(pushed_dir.iterdir())


def test_lineage_links_pushed_model_to_corpus_and_vocabulary(runs):
    import tensorflow_transform as tft

    reader = reader_of(runs["store_path"])
    pushed = reader.artifacts("PushedModel")
    assert pushed
    upstream = lineage.upstream_artifacts(reader, pushed[-1].id)
    by_type = {}
    for artifact in upstream:
        by_type.setdefault(artifact.type, []).append(artifact.uri)
    assert any("/TextExampleGen/examples/" in uri for uri in by_type["Examples"])
    assert any("/GlueExampleGen_" in uri for uri in by_type["Examples"])
    # Both phases' Transforms and Trainers, and one vocabulary: the second Transform used the first's.
    graphs = sorted(by_type["TransformGraph"])
    assert ["/Transform/" in graphs[0], "/Transform_phase2/" in graphs[1]] == [True, True], graphs
    vocabularies = [tft.TFTransformOutput(g).vocabulary_file_by_name(features.VOCAB_FILE) for g in graphs]
    assert Path(vocabularies[0]).read_bytes() == Path(vocabularies[1]).read_bytes()
    assert any("/Trainer/model/" in uri for uri in by_type["Model"])
    assert any("/Trainer_phase1/model/" in uri for uri in by_type["Model"])


def test_unchanged_rerun_is_cached_and_four_times_faster(runs):
    (first_seconds, _, _), _ = runs["first"]
    (cached_seconds, _, _), executions = runs["cached"]
    assert_cached_except_gating(executions)
    assert cached_seconds <= first_seconds / 4, (first_seconds, cached_seconds)
    assert set(states(runs["steady"]).values()) == {"CACHED"}


def test_changing_a_trainer_setting_reruns_only_trainer_and_downstream(runs):
    _, executions = runs["changed"]
    observed = states(executions)
    assert observed["RunConfigGen"] == "COMPLETE", "a changed config is recorded anew"
    unchanged = UPSTREAM_OF_TRAINER - {"RunConfigGen"}
    assert {node: observed[node] for node in unchanged} == {node: "CACHED" for node in unchanged}
    assert {node: observed[node] for node in TRAINER_AND_DOWNSTREAM} == {
        node: "COMPLETE" for node in TRAINER_AND_DOWNSTREAM
    }


def test_encoder_savedmodel_embeds_raw_text_in_a_fresh_process(runs):
    encoder_dir = latest_uri(runs["root"], "Trainer", "model") / "Format-Serving"
    sentence = "The quick brown fox jumps over the lazy dog."
    code = f"""
import json, tensorflow as tf, tensorflow_text
encoder = tf.saved_model.load({str(encoder_dir)!r})
out = encoder.signatures["serving_default"](text=tf.constant([{sentence!r}]))
mask = out["input_mask"].numpy()[0]
print(json.dumps({{"pooled": out["pooled_output"].shape.as_list(),
                  "ids": out["input_word_ids"].numpy()[0][mask == 1].tolist()}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/")
    assert result.returncode == 0, result.stderr[-3000:]
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["pooled"] == [1, presets.preset("smoke").model.hidden_dim]

    # Tokenized exactly as Transform: the transform graph's vocabulary, the same BertTokenizer settings.
    import tensorflow as tf
    import tensorflow_transform as tft

    from models.encoder import tokenization

    graph = latest_uri(runs["root"], "Transform", "transform_graph")
    vocab = tft.TFTransformOutput(str(graph)).vocabulary_file_by_name(features.VOCAB_FILE)
    tokenizer = tokenization.wordpiece_tokenizer(tokenization.vocab_table(vocab), lower_case=True)
    expected = tokenization.tokenize(tokenizer, tf.constant([sentence])).to_list()[0]
    assert printed["ids"] == [features.CLS_ID, *expected, features.SEP_ID]
    assert features.UNK_ID not in expected


def test_the_encoder_of_a_training_checkpoint_is_the_one_training_had_at_that_step(runs, tmp_path):
    """`export_encoder_at_checkpoint` reads the encoder out of the Trainer's resumable checkpoint (model, optimizer
    state, input position): from the last step's checkpoint it is the encoder the Trainer exported, weight for
    weight; the checkpoint of the run with another learning rate gives that run's encoder, not the first's."""
    import tensorflow as tf

    from models.encoder import backbone as backbone_lib
    from models.pretraining.trainer_module import export_encoder_at_checkpoint

    reader = reader_of(runs["store_path"])
    trained = [r for r in reader.runs() if r.execution("Trainer") and not r.execution("Trainer").cached]
    assert len(trained) == 2, "the first run and the run with changed Trainer settings train"
    exported, restored = [], []
    for run in trained:
        artifacts = reader.run_artifacts(run)
        model_run = Path(artifacts["Trainer.model_run"][0].uri)
        training = json.loads((model_run / "training.json").read_text())
        checkpoint = tf.train.latest_checkpoint(training["checkpoint_dir"])
        assert checkpoint.endswith(f"ckpt-{training['train_steps']}")
        directory = tmp_path / str(run.id)
        export_encoder_at_checkpoint(
            checkpoint,
            run.execution("Trainer").properties["custom_config"],
            artifacts["Transform_phase2.transform_graph"][0].uri,
            str(directory),
        )
        restored.append(backbone_lib.load_checkpoint(str(directory))[0].get_weights())
        model = artifacts["Trainer.model"][0].uri
        exported.append(backbone_lib.load_checkpoint(backbone_lib.checkpoint_dir(model))[0].get_weights())

    for own, other in ((0, 1), (1, 0)):
        for got, expected in zip(restored[own], exported[own], strict=True):
            np.testing.assert_array_equal(got, expected)
        assert any(not np.array_equal(a, b) for a, b in zip(restored[own], exported[other], strict=True))


def bert_tfx(*args: str) -> str:
    result = subprocess.run([str(BIN / "bert-tfx"), *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_metadata_commands_read_the_runs_back(runs):
    store_args = ["--output-dir", str(runs["output_dir"])]
    listed = json.loads(bert_tfx("runs", "--json", *store_args))
    assert (
        len(listed) >= 4 and {r["preset"] for r in listed} == {"smoke"} and {r["state"] for r in listed} == {"COMPLETE"}
    )
    first, changed = listed[0]["name"], listed[3]["name"]
    shown = json.loads(bert_tfx("show", first, "--json", *store_args))
    assert {e["node_id"] for e in shown["executions"]} >= UPSTREAM_OF_TRAINER | TRAINER_AND_DOWNSTREAM
    assert shown["config"] == presets.preset("smoke").to_dict()
    data = shown["metrics"]["data"]
    assert data["instances"]["train"] > 1000
    assert data["documents_kept"] == sum(data["documents"].values()) > 100
    assert data["documents_read"] == data["documents_kept"] + data["dropped_short"] + data["dropped_duplicates"]
    assert 60 * data["instances"]["train"] < data["real_tokens"]["train"] <= 64 * data["instances"]["train"]
    assert 0 < shown["metrics"]["pretraining"]["masked_lm_accuracy"] < 1
    assert {t: r["blessed"] in (True, False) for t, r in shown["metrics"]["glue"].items()} == {
        "sst2": True,
        "mrpc": True,
    }
    changed_config = json.loads(bert_tfx("show", changed, "--json", *store_args))["config"]
    assert changed_config["trainer"]["learning_rate"] == 0.002, "each run shows its own config"
    assert changed_config["trainer"]["gradient_accumulation_steps"] == 2
    text = bert_tfx("show", first, *store_args)
    assert f"run {first}  pipeline bert-smoke  preset smoke" in text and "Transform" in text
    assert (
        "pre-training recipe: masked LM + next-sentence prediction (BERT) in 2 phases: 240 steps at 64 tokens (10 "
        "predictions); then 60 steps at 128 tokens (20 predictions), continuing the optimizer and schedule; adamw, "
        "peak learning"
    ) in text
    assert "linear decay; 30 warm-up steps of 300" in text
    changed_text = bert_tfx("show", changed, *store_args)
    assert "peak learning rate 0.002, cosine decay; 30 warm-up steps of 300" in changed_text

    models = json.loads(bert_tfx("artifacts", "--type", "Model", "--run", first, "--json", *store_args))
    assert {m["producer"] for m in models} == {"Trainer_phase1", "Trainer", "GlueFineTune_sst2", "GlueFineTune_mrpc"}


def test_lineage_command_traces_a_pushed_model_to_the_corpus_and_draws_it(runs, tmp_path):
    store_args = ["--output-dir", str(runs["output_dir"])]
    pushed = json.loads(bert_tfx("artifacts", "--type", "PushedModel", "--json", *store_args))[0]
    picture = tmp_path / "lineage.svg"
    tree = bert_tfx("lineage", str(pushed["id"]), "--svg", str(picture), *store_args)
    assert tree.splitlines()[0] == f"PushedModel #{pushed['id']}  {pushed['uri']}"
    for upstream in ("<- made by Trainer", "<- made by Transform", "<- made by TextExampleGen", "TransformGraph #"):
        assert upstream in tree, upstream
    assert f"<- files {REPO_ROOT / 'data' / 'corpus'} (split:corpus, num_files:" in tree
    svg = picture.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "TextExampleGen" in svg
    by_uri = json.loads(bert_tfx("lineage", pushed["uri"] + "/", "--upstream-only", "--json", *store_args))
    assert by_uri["root"] == pushed["id"]


def test_report_command_writes_any_runs_report(runs, tmp_path):
    store_args = ["--output-dir", str(runs["output_dir"])]
    steady = json.loads(bert_tfx("runs", "--json", *store_args))[2]["name"]
    printed = bert_tfx("report", steady, "--out", str(tmp_path / "steady"), *store_args)
    assert printed.splitlines()[0] == f"report: {tmp_path / 'steady' / 'index.html'}"
    markdown = (tmp_path / "steady" / "report.md").read_text()
    assert f"Run `{steady}` of pipeline `bert-smoke` (preset smoke): complete" in markdown
    assert "| Trainer | cached |" in markdown and "| ReportGen | cached |" in markdown
    assert "<svg" in (tmp_path / "steady" / "lineage.svg").read_text()


def test_run_report_renders_in_a_real_browser(runs, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    report_dir = latest_uri(runs["root"], "ReportGen", "report")
    page_file = report_dir / "index.html"
    assert (report_dir / "report.md").read_text().startswith("# bert-smoke run report")
    screenshot = tmp_path / "report.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
        )
        headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        glue_rows = page.evaluate("Array.from(document.querySelectorAll('td.blessed, td.rejected')).length")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert sorted(src for src, _, _ in images) == ["lineage.svg", "pretraining_curves.png"]
    # Written by the run's last node: the run reads as complete, without the report's own execution.
    html = page_file.read_text()
    assert "<b>complete</b>" in html and "<td>ReportGen</td>" not in html
    assert all(complete and width > 100 for _, complete, width in images), images
    assert headings[:4] == ["Data", "Pre-training", "GLUE", "Lineage"]
    assert glue_rows == 2
    shot = Image.open(screenshot)
    assert shot.height > 1500, "the page is laid out with its pictures"
    assert len(shot.convert("RGB").getcolors(maxcolors=1 << 20)) > 50


def test_tfx_cli_runs_the_same_pipeline_file(runs, tmp_path):
    env = dict(
        os.environ,
        LOCAL_HOME=str(tmp_path / "tfx_home"),
        BERT_TFX_OUTPUT_DIR=str(runs["output_dir"]),
        BERT_TFX_PRESET="smoke",
        BERT_TFX_OVERRIDES=" ".join(CHANGED_TRAINER),
    )
    runner = REPO_ROOT / "pipeline" / "local_runner.py"
    for args in (
        ["pipeline", "create", "--engine=local", f"--pipeline_path={runner}"],
        ["run", "create", "--engine=local", "--pipeline_name=bert-smoke"],
    ):
        result = subprocess.run([str(BIN / "tfx"), *args], capture_output=True, text=True, env=env, timeout=1200)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    executions = latest_executions(runs["store_path"])
    assert_cached_except_gating(executions)
    assert states(executions)["Trainer"] == "CACHED"
