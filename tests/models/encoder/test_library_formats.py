"""The encoder exported for other libraries computes there what it computes here: Hugging Face `transformers` (on
PyTorch) and keras-hub load the folders `models.encoder.export_formats` writes, with no code of ours.

The model is tiny but every weight is moved off its initial value (biases, layer norms and heads included), so a
transposed kernel, a head left out, a wrong activation or epsilon shows as a difference in the outputs. Tolerances:
1e-4 absolute in float32, as the export promises (measured: below 1e-6; PyTorch and TensorFlow sum in other orders).
"""

import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from models import features
from models.encoder import backbone as backbone_lib
from models.encoder import export_formats, hf_format
from models.pretraining.bert_pretrainer import BertPretrainer
from tests.models.tiny import MODEL, SEQ_LENGTH, VOCAB, pretraining_batch, write_vocab

torch = pytest.importorskip("torch", reason="the interop extra (make test installs it)")
transformers = pytest.importorskip("transformers", reason="the interop extra (make test installs it)")

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A pre-trainer whose every weight is perturbed, its outputs on a batch, and its export in every format."""
    root = tmp_path_factory.mktemp("library_formats")
    keras.utils.set_random_seed(3)
    pretrainer = BertPretrainer(backbone_lib.build_backbone(MODEL, len(VOCAB)))
    batch = {name: tf.constant(value) for name, value in pretraining_batch(batch_size=4).items()}
    pretrainer(batch)
    rng = np.random.default_rng(7)
    for variable in pretrainer.trainable_variables:
        variable.assign(variable.numpy() + rng.normal(0.0, 0.1, variable.shape).astype(np.float32))
    vocab = write_vocab(root / "vocab.txt")
    checkpoint = root / "checkpoint"
    backbone_lib.save_checkpoint(pretrainer.backbone, vocab, True, str(checkpoint), heads=pretrainer.head_weights())
    folders = export_formats.export_checkpoint(str(checkpoint), str(root / "export"), SEQ_LENGTH)
    return {
        "pretrainer": pretrainer,
        "batch": batch,
        "ours": pretrainer(batch),
        "backbone": pretrainer.backbone(backbone_lib.backbone_inputs(batch)),
        "folders": folders,
        "checkpoint": str(checkpoint),
    }


def torch_inputs(batch) -> dict:
    return {
        "input_ids": torch.tensor(batch[features.INPUT_WORD_IDS].numpy()),
        "token_type_ids": torch.tensor(batch[features.INPUT_TYPE_IDS].numpy()),
        "attention_mask": torch.tensor(batch[features.INPUT_MASK].numpy()),
    }


def test_transformers_bert_for_pretraining_computes_our_outputs_and_heads(exported):
    model, info = transformers.BertForPreTraining.from_pretrained(exported["folders"]["hf"], output_loading_info=True)
    assert not any(info.values()), info  # no weight missing, unexpected or of another shape
    model.eval()
    with torch.no_grad():
        outputs = model(**torch_inputs(exported["batch"]), output_hidden_states=True)
    real = exported["batch"][features.INPUT_MASK].numpy()[..., None]
    sequence = outputs.hidden_states[-1].numpy()
    np.testing.assert_allclose(sequence * real, exported["backbone"]["sequence_output"].numpy() * real, atol=TOLERANCE)
    positions = exported["batch"][features.MASKED_LM_POSITIONS].numpy()
    masked_lm = np.take_along_axis(outputs.prediction_logits.numpy(), positions[..., None], axis=1)
    np.testing.assert_allclose(masked_lm, exported["ours"]["masked_lm_logits"].numpy(), atol=TOLERANCE)
    nsp = outputs.seq_relationship_logits.numpy()
    np.testing.assert_allclose(nsp, exported["ours"]["next_sentence_logits"].numpy(), atol=TOLERANCE)
    with torch.no_grad():
        pooled = transformers.BertModel.from_pretrained(exported["folders"]["hf"])(**torch_inputs(exported["batch"]))
    np.testing.assert_allclose(
        pooled.pooler_output.numpy(), exported["backbone"]["pooled_output"].numpy(), atol=TOLERANCE
    )


def test_the_hugging_face_config_says_what_the_model_is(exported):
    config = json.loads(open(f"{exported['folders']['hf']}/{hf_format.CONFIG_FILE}").read())
    assert config["architectures"] == ["BertForPreTraining"]
    assert (config["vocab_size"], config["hidden_size"], config["num_hidden_layers"]) == (len(VOCAB), 16, 2)
    assert (config["max_position_embeddings"], config["type_vocab_size"]) == (MODEL.max_position_embeddings, 2)
    assert (config["hidden_act"], config["layer_norm_eps"]) == ("gelu_new", 1e-12)


def test_reading_the_hugging_face_weights_back_gives_the_same_encoder_and_heads(exported):
    backbone = backbone_lib.build_backbone(MODEL, len(VOCAB))
    heads = hf_format.read_hf_weights(exported["folders"]["hf"], backbone)
    for got, expected in zip(backbone.get_weights(), exported["pretrainer"].backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)
    for name, expected in exported["pretrainer"].head_weights().items():
        np.testing.assert_array_equal(heads[name], expected)


def test_reading_hugging_face_weights_of_another_shape_names_the_tensor(exported):
    wider = backbone_lib.build_backbone(
        type(MODEL)(num_layers=2, hidden_dim=32, num_heads=2, intermediate_dim=32, max_position_embeddings=32),
        len(VOCAB),
    )
    with pytest.raises(ValueError, match=r"word_embeddings.weight has shape \(17, 16\); the encoder needs \(17, 32\)"):
        hf_format.read_hf_weights(exported["folders"]["hf"], wider)


def test_keras_hub_presets_load_the_same_encoder_tokenizer_and_masked_lm_head(exported):
    preset = exported["folders"]["keras-hub"]
    inputs = backbone_lib.backbone_inputs(exported["batch"])
    backbone = keras_hub.models.BertBackbone.from_preset(preset)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(backbone(inputs)[key].numpy(), exported["backbone"][key].numpy())
    # keras-hub's own converter reads our Hugging Face folder to the same encoder.
    from_hf = keras_hub.models.BertBackbone.from_preset(exported["folders"]["hf"])
    np.testing.assert_allclose(
        from_hf(inputs)["sequence_output"].numpy(), exported["backbone"]["sequence_output"].numpy(), atol=1e-6
    )
    tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
    assert tokenizer(["The CATS sát"]) == [[VOCAB.index(t) for t in ("the", "cat", "##s", "sat")]]
    masked_lm = keras_hub.models.BertMaskedLM.from_preset(preset)
    logits = masked_lm({**inputs, "mask_positions": tf.cast(exported["batch"][features.MASKED_LM_POSITIONS], "int32")})
    # keras-hub's head computes exact GELU and epsilon 1e-5 where ours (BERT's) uses tanh GELU and 1e-12: near,
    # not equal. A head left untrained (random) would be off by the logits' whole scale.
    ours = exported["ours"]["masked_lm_logits"].numpy()
    difference = np.abs(logits.numpy() - ours).max()
    assert difference < 0.01 * np.abs(ours).max(), difference
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(preset, sequence_length=SEQ_LENGTH)
    classifier = keras_hub.models.BertTextClassifier.from_preset(preset, num_classes=3, preprocessor=preprocessor)
    assert classifier.predict(["the cat sat", "a dog ran far away"], verbose=0).shape == (2, 3)


def test_the_weight_table_names_every_encoder_and_head_weight_once(exported):
    backbone = exported["pretrainer"].backbone
    table = hf_format.weight_map(backbone)
    ours = [path for _, path, _ in table]
    assert sorted(ours) == sorted([v.path for v in backbone.weights] + list(backbone_lib.HEAD_WEIGHTS))
    assert len({name for name, _, _ in table}) == len(table)


def test_an_encoder_pretrained_without_the_next_sentence_task_loads_as_bert_for_masked_lm(tmp_path):
    """RoBERTa's objective (`data.objective=mlm`) trains no next-sentence head: the export is a BertForMaskedLM
    whose masked-LM logits are ours, with nothing missing or left over, and it reads back with that head only."""
    keras.utils.set_random_seed(4)
    pretrainer = BertPretrainer(backbone_lib.build_backbone(MODEL, len(VOCAB)), next_sentence=False)
    batch = {name: tf.constant(value) for name, value in pretraining_batch(batch_size=4).items()}
    batch.pop(features.NEXT_SENTENCE_LABELS)
    ours = pretrainer(batch)
    assert set(ours) == {"masked_lm_logits"} and set(pretrainer.head_weights()) == {
        name for name in backbone_lib.HEAD_WEIGHTS if not name.startswith("next_sentence/")
    }
    rng = np.random.default_rng(8)
    for variable in pretrainer.trainable_variables:
        variable.assign(variable.numpy() + rng.normal(0.0, 0.1, variable.shape).astype(np.float32))
    ours = pretrainer(batch)
    checkpoint = tmp_path / "checkpoint"
    vocab = write_vocab(tmp_path / "vocab.txt")
    backbone_lib.save_checkpoint(pretrainer.backbone, vocab, True, str(checkpoint), heads=pretrainer.head_weights())
    assert set(backbone_lib.load_heads(str(checkpoint))) == set(pretrainer.head_weights())
    folders = export_formats.export_checkpoint(str(checkpoint), str(tmp_path / "export"), SEQ_LENGTH, ["hf"])
    config = json.loads(open(f"{folders['hf']}/{hf_format.CONFIG_FILE}").read())
    assert config["architectures"] == ["BertForMaskedLM"]
    model, info = transformers.AutoModelForMaskedLM.from_pretrained(folders["hf"], output_loading_info=True)
    assert type(model).__name__ == "BertForMaskedLM"
    assert not info["missing_keys"] and not info["mismatched_keys"], info
    assert set(info["unexpected_keys"]) <= {"bert.pooler.dense.weight", "bert.pooler.dense.bias"}, info
    model.eval()
    with torch.no_grad():
        logits = model(**torch_inputs(batch)).logits.numpy()
    positions = batch[features.MASKED_LM_POSITIONS].numpy()
    masked_lm = np.take_along_axis(logits, positions[..., None], axis=1)
    np.testing.assert_allclose(masked_lm, ours["masked_lm_logits"].numpy(), atol=TOLERANCE)
    heads = hf_format.read_hf_weights(folders["hf"], backbone_lib.build_backbone(MODEL, len(VOCAB)))
    assert set(heads) == set(pretrainer.head_weights())
