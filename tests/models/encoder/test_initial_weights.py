"""`trainer.init_from` loads an exported model back: from each format the encoder (and the heads the format has)
arrive weight for weight; a source of another vocabulary or shape is refused, naming both sides."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs.run_config import ModelConfig
from models.encoder import backbone as backbone_lib
from models.encoder import export_formats, initial_weights
from models.pretraining.bert_pretrainer import BertPretrainer
from tests.models.tiny import MODEL, SEQ_LENGTH, VOCAB, pretraining_batch, write_vocab

MASKED_LM_HEAD = [name for name in backbone_lib.HEAD_WEIGHTS if name.startswith("masked_lm/")]


def built_pretrainer(seed: int) -> BertPretrainer:
    keras.utils.set_random_seed(seed)
    pretrainer = BertPretrainer(backbone_lib.build_backbone(MODEL, len(VOCAB)))
    pretrainer({name: tf.constant(value) for name, value in pretraining_batch(batch_size=2).items()})
    return pretrainer


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("initial_weights")
    source = built_pretrainer(seed=5)
    rng = np.random.default_rng(11)
    for variable in source.trainable_variables:
        variable.assign(variable.numpy() + rng.normal(0.0, 0.1, variable.shape).astype(np.float32))
    vocab = write_vocab(root / "vocab.txt")
    checkpoint = root / "model" / "checkpoint"
    backbone_lib.save_checkpoint(source.backbone, vocab, True, str(checkpoint), heads=source.head_weights())
    export_formats.export_checkpoint(str(checkpoint), str(root / "exported"), SEQ_LENGTH)
    return {"source": source, "root": root, "vocab": vocab}


@pytest.mark.parametrize(
    ("path", "heads"),
    [
        ("exported/huggingface", backbone_lib.HEAD_WEIGHTS),
        ("exported", backbone_lib.HEAD_WEIGHTS),  # an ExportedEncoder: its Hugging Face folder
        ("exported/keras_hub", MASKED_LM_HEAD),  # keras-hub has no next-sentence task
        ("model", backbone_lib.HEAD_WEIGHTS),  # a Trainer model: its encoder checkpoint
        ("model/checkpoint", backbone_lib.HEAD_WEIGHTS),
    ],
)
def test_an_export_loads_back_weight_for_weight(exported, path, heads):
    target = built_pretrainer(seed=9)
    loaded = initial_weights.load_initial_weights(str(exported["root"] / path), target.backbone, exported["vocab"])
    target.set_head_weights(loaded)
    assert sorted(loaded) == sorted(heads)
    source = exported["source"]
    for got, expected in zip(target.backbone.get_weights(), source.backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)
    source_heads, target_heads = source.head_weights(), target.head_weights()
    for name in backbone_lib.HEAD_WEIGHTS:
        same = np.array_equal(target_heads[name], source_heads[name])
        assert same == (name in heads), name


def test_a_source_of_another_vocabulary_size_names_both_sizes(exported, tmp_path):
    bigger = backbone_lib.build_backbone(MODEL, len(VOCAB) + 3)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(f"{token}\n" for token in [*VOCAB, "x", "y", "z"]))
    with pytest.raises(
        ValueError, match=rf"vocabulary of {len(VOCAB)} tokens; this run's vocabulary .* has {len(VOCAB) + 3}"
    ):
        initial_weights.load_initial_weights(str(exported["root"] / "exported"), bigger, str(vocab))


def test_a_source_of_another_vocabulary_of_the_same_size_names_the_first_difference(exported, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(f"{token}\n" for token in [*VOCAB[:-1], "zebra"]))
    with pytest.raises(ValueError, match=rf"at line {len(VOCAB)} \('away' there, 'zebra' here\)"):
        initial_weights.load_initial_weights(
            str(exported["root"] / "exported"), backbone_lib.build_backbone(MODEL, len(VOCAB)), str(vocab)
        )


def test_a_source_of_another_shape_names_the_setting(exported):
    deeper = backbone_lib.build_backbone(
        ModelConfig(num_layers=3, hidden_dim=16, num_heads=2, intermediate_dim=32, max_position_embeddings=32),
        len(VOCAB),
    )
    with pytest.raises(ValueError, match="num_layers 2 there, 3 here"):
        initial_weights.load_initial_weights(str(exported["root"] / "model"), deeper, exported["vocab"])


def test_a_folder_that_is_no_model_says_what_it_takes(tmp_path):
    with pytest.raises(FileNotFoundError, match="is none of: a Hugging Face BERT folder"):
        initial_weights.load_initial_weights(str(tmp_path), backbone_lib.build_backbone(MODEL, len(VOCAB)), "")
