"""The encoder checkpoint that GLUE fine-tuning loads: a round trip gives the same encoder."""

import numpy as np
import pytest

from models import features
from models.encoder import backbone as backbone_lib
from tests.models.tiny import pretraining_batch, tiny_backbone, write_vocab


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    original = tiny_backbone()
    vocab = write_vocab(tmp_path / "learned_vocab.txt")
    directory = backbone_lib.checkpoint_dir(str(tmp_path / "model"))
    backbone_lib.save_checkpoint(original, vocab, lower_case=False, directory=directory)

    restored, vocab_path, lower_case = backbone_lib.load_checkpoint(directory)
    inputs = backbone_lib.backbone_inputs(pretraining_batch())
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(restored(inputs)[name].numpy(), original(inputs)[name].numpy())
    assert restored.get_config() == original.get_config()
    assert open(vocab_path).read() == open(vocab).read()
    assert vocab_path.endswith(features.VOCAB_FILE) and lower_case is False


def test_checkpoint_of_a_trained_model_is_not_a_fresh_one(tmp_path):
    trained = tiny_backbone()
    weights = trained.token_embedding.embeddings
    weights.assign(weights.numpy() + 1.0)
    directory = str(tmp_path / "checkpoint")
    backbone_lib.save_checkpoint(trained, write_vocab(tmp_path / "vocab.txt"), True, directory)
    restored, _, _ = backbone_lib.load_checkpoint(directory)
    np.testing.assert_array_equal(restored.token_embedding.embeddings.numpy(), weights.numpy())


def test_incomplete_checkpoint_names_what_is_missing(tmp_path):
    directory = tmp_path / "checkpoint"
    backbone_lib.save_checkpoint(tiny_backbone(), write_vocab(tmp_path / "vocab.txt"), True, str(directory))
    (directory / backbone_lib.WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=f"{directory} lacks {backbone_lib.WEIGHTS_FILE}"):
        backbone_lib.load_checkpoint(str(directory))
