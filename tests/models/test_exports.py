"""The two exported SavedModels (raw-text encoder, GLUE classifier) load and serve in a fresh process."""

import json
import subprocess
import sys

import tensorflow as tf

from models import encoder, encoder_export, features, glue_classifier
from models.glue_tasks import TASKS
from pipeline.configs import ModelConfig

VOCAB = [*features.SPECIAL_TOKENS, "the", "cat", "sat", "on", "mat", "a", "dog", ".", "##s"]


def tiny_backbone():
    return encoder.build_backbone(
        ModelConfig(num_layers=1, hidden_dim=16, num_heads=2, intermediate_dim=32, max_position_embeddings=32),
        vocab_size=len(VOCAB),
    )


def serve_in_fresh_process(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_text_encoder_tokenizes_and_embeds(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(t + "\n" for t in VOCAB))
    export_dir = tmp_path / "encoder"
    encoder_export.export_text_encoder(tiny_backbone(), str(vocab), True, 16, str(export_dir))
    vocab.unlink()  # the SavedModel must carry its own copy
    out = serve_in_fresh_process(f"""
import json, tensorflow as tf, tensorflow_text
m = tf.saved_model.load({str(export_dir)!r})
o = m.signatures["serving_default"](text=tf.constant(["The cats sat.", "zebra"]))
print(json.dumps({{k: v.numpy().tolist() for k, v in o.items() if k != "sequence_output"}}))
""")
    the, cat, sat, dot, plural = (VOCAB.index(t) for t in ("the", "cat", "sat", ".", "##s"))
    assert out["input_word_ids"][0][:7] == [features.CLS_ID, the, cat, plural, sat, dot, features.SEP_ID]
    assert out["input_word_ids"][1][:3] == [features.CLS_ID, features.UNK_ID, features.SEP_ID]
    assert sum(out["input_mask"][0]) == 7
    assert len(out["pooled_output"][0]) == 16


def test_glue_classifier_serves_probabilities_from_serialized_examples(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(t + "\n" for t in VOCAB))
    classifier = glue_classifier.build_classifier(tiny_backbone(), TASKS["mrpc"], dropout=0.1)
    export_dir = tmp_path / "classifier"
    glue_classifier.export_classifier(classifier, str(vocab), True, TASKS["mrpc"], 16, str(export_dir))
    example = tf.train.Example(
        features=tf.train.Features(
            feature={
                "sentence1": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"the cat sat"])),
                "sentence2": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a dog sat"])),
            }
        )
    ).SerializeToString()
    out = serve_in_fresh_process(f"""
import json, tensorflow as tf, tensorflow_text
m = tf.saved_model.load({str(export_dir)!r})
o = m.signatures["serving_default"](examples=tf.constant([{example!r}] * 3))
print(json.dumps({{k: v.numpy().tolist() for k, v in o.items()}}))
""")
    probabilities = out[features.PROBABILITIES]
    assert len(probabilities) == 3 and all(abs(sum(p) - 1) < 1e-5 for p in probabilities)
    assert out[features.POSITIVE_PROBABILITY] == [p[1] for p in probabilities]
