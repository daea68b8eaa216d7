"""The encoder a pipeline run pre-trained, as its EncoderExport wrote it, in the libraries people use next:
Hugging Face `transformers` (PyTorch, CPU) and keras-hub load it with no code of ours and compute what we do.

Uses the shared smoke runs (`tests/smoke_runs.py`): the export of the last run that trained, and that run's
Trainer model.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from configs import pipeline_contract as contract
from models import features
from tests.conftest import REPO_ROOT
from tests.smoke_runs import reader_of

pytestmark = pytest.mark.e2e
torch = pytest.importorskip("torch", reason="the interop extra (make test installs it)")
transformers = pytest.importorskip("transformers", reason="the interop extra (make test installs it)")

BIN = Path(sys.executable).parent
GLUE_DIR = REPO_ROOT / "data" / "glue"
# Text the GLUE dev sentences have little of: accents, other scripts, compatibility characters, case folding,
# long words, numbers, punctuation, control and invisible characters, unusual spaces.
EDGE_CASES = [
    "Café déjà vu: naïve façade, Ærøskøbing, São Paulo, Zürich, Kraków, Dvořák!",
    "Straße, Maß, ΣΊΣΥΦΟΣ and Ὀδυσσεύς; İstanbul ı I; Ñandú, Çorum.",
    "東京は日本の首都です。中文句子，测试一下。",
    "한국어 문장입니다 and Русский текст, עברית, العربية.",
    "ＦＵＬＬＷＩＤＴＨ １２３ and ligatures: ﬁnance ﬂow ﬀ.",
    "x" * 120 + " is a word longer than a hundred characters",
    "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
    "3.14159 1,000,000 $42.50 €17 50% 2026-12-07 10:30pm #1 @home",
    "(a) [b] {c} <d> \"e\" 'f' ... !? --- @#&* ~ ^ _ | \\ /",
    "soft\u00adhyphen zero\u200bwidth joiner\u200dword byte\ufefforder tab\there\nnewline",
    "emoji 😀 👍🏽 and a replacement character \ufffd in text",
    "Cherokee ᏣᎳᎩ ꮳꮃꭹ; no\u00a0break\u2003em\u3000ideographic\u2028line spaces",
    "control\x01characters\x7fin\x00text",
]


def latest_uri(root: Path, node: str, output: str) -> Path:
    return max((root / node / output).iterdir(), key=lambda p: int(p.name))


def held_out_sentences() -> list[str]:
    """Every sentence of the bundled GLUE dev sets (not in the pre-training corpus) and the edge cases."""
    sentences = []
    with open(GLUE_DIR / "SST-2" / "dev.tsv") as f:
        sentences += [row["sentence"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    with open(GLUE_DIR / "MRPC" / "dev.tsv") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            sentences += [row["#1 String"], row["#2 String"]]
    return sentences + EDGE_CASES


@pytest.fixture(scope="module")
def export(smoke_runs):
    root = smoke_runs["root"]
    folder = latest_uri(root, contract.ENCODER_EXPORT, contract.EXPORTED_ENCODER)
    return {
        "folders": {name: folder / sub for name, sub in contract.EXPORT_FORMAT_DIRS.items()},
        "model": latest_uri(root, contract.TRAINER, contract.MODEL),
    }


@pytest.fixture(scope="module")
def ours(export):
    """The Trainer's encoder and heads as our pre-trainer, and our tokenizer over its vocabulary."""
    from models.encoder import backbone as backbone_lib
    from models.encoder import tokenization
    from models.pretraining.bert_pretrainer import BertPretrainer

    checkpoint = backbone_lib.checkpoint_dir(str(export["model"]))
    backbone, vocab_path, lower_case = backbone_lib.load_checkpoint(checkpoint)
    pretrainer = BertPretrainer(backbone)
    tokenizer = tokenization.wordpiece_tokenizer(tokenization.vocab_table(vocab_path), lower_case)
    return {"pretrainer": pretrainer, "heads": backbone_lib.load_heads(checkpoint), "tokenizer": tokenizer}


def our_ids(ours, sentences: list[str]) -> list[list[int]]:
    import tensorflow as tf

    from models.encoder import tokenization

    return tokenization.tokenize(ours["tokenizer"], tf.constant(sentences)).to_list()


def test_the_export_holds_every_format_and_is_pushed_when_a_task_blessed_a_model(smoke_runs, export):
    """Each run's export has the three formats; EncoderPusher pushed them to `serving/encoder/<version>/` exactly
    when an Evaluator of that run blessed its model; the report names the folders and the push."""
    from inspection import run_contents

    for folder in export["folders"].values():
        assert any(folder.iterdir()), folder
    reader = reader_of(smoke_runs["store_path"])
    for run in reader.runs():
        inputs = run_contents.inputs_from_store(reader, run)
        if inputs.pushed_encoder is None or run.execution(contract.ENCODER_PUSHER).cached:
            continue
        blessed = [task for task, artifacts in inputs.tasks.items() if artifacts.blessed]
        pushed = inputs.pushed_encoder.properties
        assert bool(pushed.get("pushed")) == bool(blessed), (run.name, blessed, pushed)
        if blessed:
            destination = Path(pushed["pushed_destination"])
            assert destination.parent == smoke_runs["root"].parent / "serving" / contract.ENCODER_SERVING_DIR
            assert pushed["blessed_by"] == ",".join(sorted(blessed))
            for sub in contract.EXPORT_FORMAT_DIRS.values():
                assert sorted(p.name for p in (destination / sub).iterdir()) == sorted(
                    p.name for p in (Path(inputs.exported_encoder.uri) / sub).iterdir()
                )
    report = latest_uri(smoke_runs["root"], contract.REPORT_GEN, contract.REPORT)
    markdown = (report / contract.REPORT_MARKDOWN_FILE).read_text()
    for folder in export["folders"].values():
        assert str(folder) in markdown
    assert "- encoder pushed to " in markdown or "- encoder not pushed: no GLUE task" in markdown
    (_, stdout, _), _ = smoke_runs["changed"]
    assert f"  encoder:        {export['folders']['hf'].parent} (huggingface, keras_hub, saved_model)" in stdout


def test_auto_tokenizer_and_keras_hub_give_our_token_ids_on_held_out_sentences(export, ours):
    import keras_hub

    sentences = held_out_sentences()
    assert len(sentences) >= 1000
    expected = our_ids(ours, sentences)
    hf = transformers.AutoTokenizer.from_pretrained(export["folders"]["hf"])
    got = hf(sentences, add_special_tokens=False)["input_ids"]
    differ = [(s, e, g) for s, e, g in zip(sentences, expected, got, strict=True) if e != g]
    assert differ == [], f"{len(differ)} of {len(sentences)} sentences differ, e.g. {differ[:3]}"
    keras_tokenizer = keras_hub.models.BertTokenizer.from_preset(str(export["folders"]["keras-hub"]))
    keras_ids = [list(ids) for ids in keras_tokenizer(sentences)]
    differ = [s for s, e, g in zip(sentences, expected, keras_ids, strict=True) if e != g]
    # keras-hub's BertTokenizer neither folds case with NFKC nor drops invisible characters as TensorFlow Text's
    # BertTokenizer does: it differs on a few of the edge cases only, never on the GLUE sentences.
    assert set(differ) <= set(EDGE_CASES), differ
    pair = hf("The cat sat.", "It ran far away!")
    assert pair["input_ids"][0] == features.CLS_ID and pair["input_ids"][-1] == features.SEP_ID
    assert set(pair["token_type_ids"]) == {0, 1}


def test_bert_for_pretraining_computes_our_outputs_on_real_sentences(export, ours):
    import tensorflow as tf

    from models.encoder import backbone as backbone_lib
    from models.encoder import tokenization

    sentences = held_out_sentences()[:48]
    first, second = our_ids(ours, sentences[0::2]), our_ids(ours, sentences[1::2])
    packed = tokenization.pack_segments([tf.ragged.constant(first), tf.ragged.constant(second)], 64)
    positions = np.tile(np.array([[1, 2, 5, 9]]), (len(first), 1))
    batch = {**packed, features.MASKED_LM_POSITIONS: tf.constant(positions)}
    pretrainer = ours["pretrainer"]
    pretrainer(batch)
    pretrainer.set_head_weights(ours["heads"])
    expected = pretrainer(batch)
    encoded = pretrainer.backbone(backbone_lib.backbone_inputs(batch))

    model = transformers.BertForPreTraining.from_pretrained(export["folders"]["hf"]).eval()
    inputs = {
        "input_ids": torch.tensor(packed[features.INPUT_WORD_IDS].numpy()),
        "token_type_ids": torch.tensor(packed[features.INPUT_TYPE_IDS].numpy()),
        "attention_mask": torch.tensor(packed[features.INPUT_MASK].numpy()),
    }
    with torch.no_grad():
        outputs = model(**inputs, output_hidden_states=True)
        pooled = transformers.BertModel.from_pretrained(export["folders"]["hf"]).eval()(**inputs).pooler_output
    real = packed[features.INPUT_MASK].numpy()[..., None]
    differences = {
        "sequence": np.abs((outputs.hidden_states[-1].numpy() - encoded["sequence_output"].numpy()) * real).max(),
        "pooled": np.abs(pooled.numpy() - encoded["pooled_output"].numpy()).max(),
        "masked_lm": np.abs(
            np.take_along_axis(outputs.prediction_logits.numpy(), positions[..., None], axis=1)
            - expected["masked_lm_logits"].numpy()
        ).max(),
        "next_sentence": np.abs(
            outputs.seq_relationship_logits.numpy() - expected["next_sentence_logits"].numpy()
        ).max(),
    }
    print(f"max |transformers - ours| in float32: {differences}")
    assert all(value <= 1e-4 for value in differences.values()), differences


def test_bert_for_sequence_classification_fine_tunes_on_sst2_with_transformers_trainer(export, tmp_path):
    with open(GLUE_DIR / "SST-2" / "train.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:256]
    tokenizer = transformers.AutoTokenizer.from_pretrained(export["folders"]["hf"])
    encoded = tokenizer([r["sentence"] for r in rows], truncation=True, max_length=64, padding="max_length")
    examples = [
        {**{key: torch.tensor(values[i]) for key, values in encoded.items()}, "labels": int(rows[i]["label"])}
        for i in range(len(rows))
    ]
    transformers.set_seed(0)
    model = transformers.BertForSequenceClassification.from_pretrained(export["folders"]["hf"], num_labels=2)

    def mean_loss() -> float:
        model.eval()
        with torch.no_grad():
            batch = {key: torch.stack([e[key] for e in examples]) for key in examples[0] if key != "labels"}
            labels = torch.tensor([e["labels"] for e in examples])
            return float(model(**batch, labels=labels).loss)

    before = mean_loss()
    arguments = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=48,
        per_device_train_batch_size=32,
        learning_rate=2e-3,
        seed=0,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    transformers.Trainer(model=model, args=arguments, train_dataset=examples).train()
    after = mean_loss()
    assert after < 0.7 * before, (before, after)  # measured: 0.693 -> 0.164


def bert_tfx(*args: str) -> str:
    result = subprocess.run([str(BIN / "bert-tfx"), *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_export_command_exports_a_run_an_artifact_and_a_training_checkpoint(smoke_runs, export, tmp_path):
    """`bert-tfx export` writes what EncoderExport wrote, from the run, from the Trainer's Model artifact id and
    from the Trainer's resumable checkpoint folder (whose last checkpoint is the model the Trainer exported)."""
    from safetensors.numpy import load_file

    from inspection import records, store

    store_path = str(smoke_runs["store_path"])
    reader = records.MetadataReader(store.open_store(store.sqlite_config(Path(store_path), read_only=True)))
    model = next(a for a in reader.artifacts("Model") if a.uri == str(export["model"]))
    training = json.loads(
        (latest_uri(smoke_runs["root"], contract.TRAINER, contract.MODEL_RUN) / "training.json").read_text()
    )
    sources = {
        "run": ["latest", "--sqlite", store_path],
        "artifact": [str(model.id), "--sqlite", store_path],
        "checkpoint": [training["checkpoint_dir"]],
    }
    expected = load_file(export["folders"]["hf"] / "model.safetensors")
    for name, source in sources.items():
        out = tmp_path / name
        printed = bert_tfx("export", *source, "--output", str(out), "--format", "hf", "--format", "keras-hub")
        assert str(out / "huggingface") in printed
        assert not (out / "saved_model").exists(), "only the formats asked for"
        got = load_file(out / "huggingface" / "model.safetensors")
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            np.testing.assert_array_equal(got[key], value, err_msg=f"{name}: {key}")
        assert (out / "keras_hub" / "model.weights.h5").exists()
