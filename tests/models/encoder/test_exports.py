"""The two exported SavedModels (raw-text encoder, GLUE classifier) load and serve in a fresh process."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs.glue_tasks import TASKS
from models import features
from models.encoder import backbone as backbone_lib
from models.encoder import text_encoder, tokenization
from models.glue import classifier as glue_classifier
from tests.models.glue_records import serialized_example
from tests.models.tiny import VOCAB, tiny_backbone, write_vocab


def serve_in_fresh_process(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# Whether sentence2 mentions a dog decides the label; sentence1 carries no signal.
DOG_PAIRS = [
    (s1, s2, int("dog" in s2))
    for s1 in ("the cat sat", "a cat sat on the mat")
    for s2 in ("a dog ran", "the dog sat", "a mat", "the cats sat")
]


def classifier_trained_on_sentence2(task_name: str, vocab_path: str) -> keras.Model:
    """A tiny classifier fitted (in process, seconds) to DOG_PAIRS, packed as the task packs them."""
    keras.utils.set_random_seed(0)
    task = TASKS[task_name]
    classifier = glue_classifier.build_classifier(tiny_backbone(), task, dropout=0.0)
    tokenizer = tokenization.wordpiece_tokenizer(tokenization.vocab_table(vocab_path), lower_case=True)
    parsed = {
        features.GLUE_SENTENCE1: tf.constant([s1 for s1, _, _ in DOG_PAIRS]),
        features.GLUE_SENTENCE2: tf.constant([s2 for _, s2, _ in DOG_PAIRS]),
    }
    inputs = backbone_lib.backbone_inputs(glue_classifier.encode_sentences(tokenizer, parsed, task, 16))
    classifier.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    classifier.fit(inputs, np.array([label for _, _, label in DOG_PAIRS]), epochs=40, batch_size=8, verbose=0)
    return classifier


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Three SavedModels served in one fresh process: the raw-text encoder, and two classifiers over
    DOG_PAIRS: MRPC trained on them (a pair task), SST-2 untrained (a single-sentence task)."""
    tmp_path = tmp_path_factory.mktemp("classifiers")
    vocab = write_vocab(tmp_path / "vocab.txt")
    classifiers = {
        "mrpc": classifier_trained_on_sentence2("mrpc", vocab),
        "sst2": glue_classifier.build_classifier(tiny_backbone(), TASKS["sst2"], dropout=0.0),
    }
    for name, classifier in classifiers.items():
        glue_classifier.export_classifier(classifier, vocab, True, TASKS[name], 16, str(tmp_path / name))
    text_encoder.export_text_encoder(tiny_backbone(), vocab, True, 16, str(tmp_path / "encoder"))
    (tmp_path / "vocab.txt").unlink()  # every SavedModel must carry its own copy
    examples = [serialized_example(s1, s2) for s1, s2, _ in DOG_PAIRS]
    return serve_in_fresh_process(f"""
import json, tensorflow as tf, tensorflow_text
served = {{}}
for name in ("mrpc", "sst2"):
    m = tf.saved_model.load({str(tmp_path)!r} + "/" + name)
    o = m.signatures["serving_default"](examples=tf.constant({examples!r}))
    served[name] = {{k: v.numpy().tolist() for k, v in o.items()}}
m = tf.saved_model.load({str(tmp_path)!r} + "/encoder")
o = m.signatures["serving_default"](text=tf.constant(["The cats sat.", "zebra"]))
served["encoder"] = {{k: v.numpy().tolist() for k, v in o.items() if k != "sequence_output"}}
print(json.dumps(served))
""")


def test_text_encoder_tokenizes_and_embeds(served):
    out = served["encoder"]
    the, cat, sat, dot, plural = (VOCAB.index(t) for t in ("the", "cat", "sat", ".", "##s"))
    assert out["input_word_ids"][0][:7] == [features.CLS_ID, the, cat, plural, sat, dot, features.SEP_ID]
    assert out["input_word_ids"][1][:3] == [features.CLS_ID, features.UNK_ID, features.SEP_ID]
    assert sum(out["input_mask"][0]) == 7
    assert len(out["pooled_output"][0]) == 16


def test_pair_classifier_serves_probabilities_that_follow_the_second_sentence(served):
    out = served["mrpc"]
    probabilities = np.array(out[features.PROBABILITIES])
    assert probabilities.shape == (len(DOG_PAIRS), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # Served from serialized tf.Examples in a fresh process, the answer follows sentence2: a serving
    # signature that dropped it would give one answer per sentence1.
    assert (probabilities.argmax(axis=1) == [label for _, _, label in DOG_PAIRS]).all()


def test_single_sentence_classifier_reads_only_sentence1(served):
    positive = np.array(served["sst2"][features.PROBABILITIES])[:, 1].reshape(2, 4)  # rows: sentence1
    np.testing.assert_allclose(positive, positive[:, :1].repeat(4, axis=1), rtol=1e-6)
    assert abs(positive[0, 0] - positive[1, 0]) > 0, "sentence1 is read"
