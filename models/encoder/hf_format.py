"""The encoder in Hugging Face's layout: `BertForPreTraining`'s config, weights and tokenizer files.

`write_hf_model` writes a folder `transformers.AutoModel*.from_pretrained` and `AutoTokenizer.from_pretrained`
load: `config.json` (a BertConfig), `model.safetensors` (the encoder and, when the checkpoint has them, both
pre-training heads, under `BertForPreTraining`'s names, or the masked-LM head alone for an objective without the
next-sentence task, as `BertForMaskedLM`; the masked-LM decoder is tied to the word embeddings, so it is not
stored), `vocab.txt`, `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json`.
`read_hf_weights` goes the other way, for a Hugging Face BERT of the same shape.

`WEIGHT_MAP` is the one table of names: each Hugging Face tensor, the keras-hub variable (or pre-training head
weight) it is, and how the layout differs (`Layout`).

The computation matches ours exactly: BertBackbone's GELU is the tanh approximation (`gelu_new` in transformers)
and every layer norm's epsilon is 1e-12, the heads' included (`models.pretraining.bert_pretrainer`).
The tokenizer is a `tokenizers` pipeline that normalises as TensorFlow Text's BertTokenizer does: for lower-cased
vocabularies NFKC with case folding (which `lowercase` alone is not: "ß" folds to "ss"), accents stripped,
control characters out, CJK ideographs split, punctuation split, WordPiece with `##` continuations.
"""

from __future__ import annotations

import enum
import json
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping

import keras_hub
import numpy as np
import tensorflow as tf
from safetensors import numpy as safetensors_numpy
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from models import features
from models.encoder import backbone as backbone_lib

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
# transformers' name for GELU's tanh approximation, the one BertBackbone computes.
HIDDEN_ACT = "gelu_new"
SPECIAL_TOKENS = {
    "unk_token": features.UNK_TOKEN,
    "sep_token": features.SEP_TOKEN,
    "pad_token": features.PAD_TOKEN,
    "cls_token": features.CLS_TOKEN,
    "mask_token": features.MASK_TOKEN,
}
# TensorFlow Text's BertTokenizer: control and format characters become spaces; words are split at ASCII whitespace
# (RE2's \s; other spaces that NFKC leaves stay inside words, as there), and every punctuation character and CJK
# ideograph is a word of its own.
CONTROL_CHARACTERS = r"[\p{Cc}\p{Cf}]"
WHITESPACE = r"[\t\n\f\r ]+"
WORD_DELIMITERS = (
    r"[!-/]|[:-@]|[\[-`]|[{-~]|\p{P}|[\x{4E00}-\x{9FFF}]|[\x{3400}-\x{4DBF}]|[\x{20000}-\x{2A6DF}]"
    r"|[\x{2A700}-\x{2B73F}]|[\x{2B740}-\x{2B81F}]|[\x{2B820}-\x{2CEAF}]|[\x{F900}-\x{FAFF}]|[\x{2F800}-\x{2FA1F}]"
)
# Unicode's Default_Ignorable_Code_Point characters (DerivedCoreProperties.txt), which NFKC_Casefold removes.
DEFAULT_IGNORABLE = (
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
# TensorFlow Text's WordpieceTokenizer maps a word of more bytes than this to [UNK] (tokenizers counts characters).
MAX_CHARS_PER_WORD = 100


class Layout(enum.Enum):
    """How a Hugging Face tensor's layout differs from the keras-hub variable's."""

    SAME = "same"
    DENSE = "dense"  # torch Linear weight [out, in]; Keras kernel [in, out]
    HEADS_IN = "heads_in"  # query/key/value kernel: Keras [hidden, heads, head_dim]; torch [heads * head_dim, hidden]
    HEADS_BIAS = "heads_bias"  # query/key/value bias: Keras [heads, head_dim]; torch [heads * head_dim]
    HEADS_OUT = (
        "heads_out"  # attention output kernel: Keras [heads, head_dim, hidden]; torch [hidden, heads * head_dim]
    )


def to_hf(layout: Layout, value: np.ndarray) -> np.ndarray:
    if layout in (Layout.DENSE, Layout.HEADS_OUT):
        value = value.reshape(-1, value.shape[-1]).T
    elif layout is Layout.HEADS_IN:
        value = value.reshape(value.shape[0], -1).T
    elif layout is Layout.HEADS_BIAS:
        value = value.reshape(-1)
    return np.ascontiguousarray(value, dtype=np.float32)


def from_hf(layout: Layout, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if layout in (Layout.DENSE, Layout.HEADS_IN, Layout.HEADS_OUT):
        value = value.T
    return np.asarray(value, dtype=np.float32).reshape(shape)


def _backbone_map(num_layers: int) -> Iterator[tuple[str, Callable, Layout]]:
    """(Hugging Face name, keras-hub variable of a backbone, layout) for every encoder weight."""
    yield "bert.embeddings.word_embeddings.weight", lambda b: b.get_layer("token_embedding").embeddings, Layout.SAME
    yield (
        "bert.embeddings.position_embeddings.weight",
        lambda b: b.get_layer("position_embedding").position_embeddings,
        Layout.SAME,
    )
    yield (
        "bert.embeddings.token_type_embeddings.weight",
        lambda b: b.get_layer("segment_embedding").embeddings,
        Layout.SAME,
    )
    yield "bert.embeddings.LayerNorm.weight", lambda b: b.get_layer("embeddings_layer_norm").gamma, Layout.SAME
    yield "bert.embeddings.LayerNorm.bias", lambda b: b.get_layer("embeddings_layer_norm").beta, Layout.SAME
    for i in range(num_layers):
        prefix = f"bert.encoder.layer.{i}"

        def block(b, i=i):
            return b.get_layer(f"transformer_layer_{i}")

        for part in ("query", "key", "value"):
            yield (
                f"{prefix}.attention.self.{part}.weight",
                lambda b, p=part, f=block: getattr(f(b)._self_attention_layer, f"{p}_dense").kernel,
                Layout.HEADS_IN,
            )
            yield (
                f"{prefix}.attention.self.{part}.bias",
                lambda b, p=part, f=block: getattr(f(b)._self_attention_layer, f"{p}_dense").bias,
                Layout.HEADS_BIAS,
            )
        attention_out = f"{prefix}.attention.output"
        yield (
            f"{attention_out}.dense.weight",
            lambda b, f=block: f(b)._self_attention_layer.output_dense.kernel,
            Layout.HEADS_OUT,
        )
        yield (
            f"{attention_out}.dense.bias",
            lambda b, f=block: f(b)._self_attention_layer.output_dense.bias,
            Layout.SAME,
        )
        yield f"{attention_out}.LayerNorm.weight", lambda b, f=block: f(b)._self_attention_layer_norm.gamma, Layout.SAME
        yield f"{attention_out}.LayerNorm.bias", lambda b, f=block: f(b)._self_attention_layer_norm.beta, Layout.SAME
        yield (
            f"{prefix}.intermediate.dense.weight",
            lambda b, f=block: f(b)._feedforward_intermediate_dense.kernel,
            Layout.DENSE,
        )
        yield (
            f"{prefix}.intermediate.dense.bias",
            lambda b, f=block: f(b)._feedforward_intermediate_dense.bias,
            Layout.SAME,
        )
        yield f"{prefix}.output.dense.weight", lambda b, f=block: f(b)._feedforward_output_dense.kernel, Layout.DENSE
        yield f"{prefix}.output.dense.bias", lambda b, f=block: f(b)._feedforward_output_dense.bias, Layout.SAME
        yield f"{prefix}.output.LayerNorm.weight", lambda b, f=block: f(b)._feedforward_layer_norm.gamma, Layout.SAME
        yield f"{prefix}.output.LayerNorm.bias", lambda b, f=block: f(b)._feedforward_layer_norm.beta, Layout.SAME
    yield "bert.pooler.dense.weight", lambda b: b.get_layer("pooled_dense").kernel, Layout.DENSE
    yield "bert.pooler.dense.bias", lambda b: b.get_layer("pooled_dense").bias, Layout.SAME


# (Hugging Face name, our head weight name, layout) for the pre-training heads.
HEAD_MAP = (
    ("cls.predictions.transform.dense.weight", "masked_lm/dense/kernel", Layout.DENSE),
    ("cls.predictions.transform.dense.bias", "masked_lm/dense/bias", Layout.SAME),
    ("cls.predictions.transform.LayerNorm.weight", "masked_lm/layer_norm/gamma", Layout.SAME),
    ("cls.predictions.transform.LayerNorm.bias", "masked_lm/layer_norm/beta", Layout.SAME),
    ("cls.predictions.bias", "masked_lm/output_bias", Layout.SAME),
    ("cls.seq_relationship.weight", "next_sentence/kernel", Layout.DENSE),
    ("cls.seq_relationship.bias", "next_sentence/bias", Layout.SAME),
)


def weight_map(backbone: keras_hub.models.BertBackbone) -> list[tuple[str, str, Layout]]:
    """The table of names, as text: (Hugging Face tensor, the BertBackbone variable's path or our head weight's
    name, layout), e.g. `("bert.encoder.layer.0.attention.self.query.weight",
    "transformer_layer_0/self_attention_layer/query/kernel", Layout.HEADS_IN)`."""
    encoder = [(name, variable(backbone).path, layout) for name, variable, layout in _backbone_map(backbone.num_layers)]
    return encoder + [(name, head, layout) for name, head, layout in HEAD_MAP]


def architecture(heads: Mapping[str, np.ndarray] | None) -> str:
    """The transformers class that holds these heads: both, the masked-LM head alone, or none."""
    if heads is None:
        return "BertModel"
    return (
        "BertForPreTraining" if all(name in heads for name in backbone_lib.NEXT_SENTENCE_WEIGHTS) else "BertForMaskedLM"
    )


def hf_config(backbone: keras_hub.models.BertBackbone, architecture_name: str) -> dict:
    """The BertConfig of `backbone`, as `config.json` holds it, for the class `architecture_name`."""
    return {
        "architectures": [architecture_name],
        "model_type": "bert",
        "vocab_size": backbone.vocabulary_size,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": HIDDEN_ACT,
        "hidden_dropout_prob": backbone.dropout,
        "attention_probs_dropout_prob": backbone.dropout,
        "max_position_embeddings": backbone.max_sequence_length,
        "type_vocab_size": backbone.num_segments,
        "initializer_range": 0.02,
        "layer_norm_eps": backbone_lib.LAYER_NORM_EPSILON,
        "pad_token_id": features.PAD_ID,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
        "dtype": "float32",
    }


def hf_tensors(
    backbone: keras_hub.models.BertBackbone, heads: Mapping[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """Every weight under its Hugging Face name, in its layout (the heads only when given)."""
    tensors = {
        name: to_hf(layout, np.asarray(variable(backbone).numpy()))
        for name, variable, layout in _backbone_map(backbone.num_layers)
    }
    if heads is not None:
        tensors.update(
            {name: to_hf(layout, np.asarray(heads[head])) for name, head, layout in HEAD_MAP if head in heads}
        )
    return tensors


def read_hf_weights(directory: str, backbone: keras_hub.models.BertBackbone) -> dict[str, np.ndarray] | None:
    """Assigns a Hugging Face BERT's weights (`model.safetensors` of BertModel, BertForMaskedLM or
    BertForPreTraining) to `backbone`.

    Returns:
        the pre-training heads by our names (the masked-LM head's, and the next-sentence head's where the file
        has it), or None when the file has no masked-LM head.
    Raises:
        ValueError naming the tensor whose shape differs from the backbone's, or the tensors the file lacks.
    """
    path = os.path.join(directory, WEIGHTS_FILE)
    with tf.io.gfile.GFile(path, "rb") as f:
        tensors = safetensors_numpy.load(f.read())
    if not any(name.startswith("bert.") for name in tensors):  # a BertModel saves without the `bert.` prefix
        tensors = {f"bert.{name}": value for name, value in tensors.items()}
    missing = [name for name, _, _ in _backbone_map(backbone.num_layers) if name not in tensors]
    if missing:
        raise ValueError(f"{path} lacks {len(missing)} encoder tensors, e.g. {missing[0]}")
    for name, variable, layout in _backbone_map(backbone.num_layers):
        target = variable(backbone)
        shape = tuple(target.shape)
        needed = to_hf(layout, np.zeros(shape, np.float32)).shape
        if tuple(tensors[name].shape) != needed:
            raise ValueError(f"{path}: {name} has shape {tensors[name].shape}; the encoder needs {needed}")
        target.assign(from_hf(layout, tensors[name], shape))
    present = [(name, head, layout) for name, head, layout in HEAD_MAP if name in tensors]
    if not any(head.startswith("masked_lm/") for _, head, _ in present):
        return None
    shapes = _head_shapes(backbone)
    return {head: from_hf(layout, tensors[name], shapes[head]) for name, head, layout in present}


def _head_shapes(backbone: keras_hub.models.BertBackbone) -> dict[str, tuple[int, ...]]:
    hidden = backbone.hidden_dim
    return {
        "masked_lm/dense/kernel": (hidden, hidden),
        "masked_lm/dense/bias": (hidden,),
        "masked_lm/layer_norm/gamma": (hidden,),
        "masked_lm/layer_norm/beta": (hidden,),
        "masked_lm/output_bias": (backbone.vocabulary_size,),
        "next_sentence/kernel": (hidden, 2),
        "next_sentence/bias": (2,),
    }


def casefold_replacements() -> list[tuple[str, str]]:
    """What full case folding gives where lower-casing gives something else, after NFKC (e.g. "ß" -> "ss",
    final "ς" -> "σ", Cherokee small letters -> capitals): TensorFlow Text folds case, tokenizers only lowers it."""
    found = {}
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) in ("Cs", "Cn"):
            continue
        nfkc = unicodedata.normalize("NFKC", char)
        lowered, folded = nfkc.lower(), unicodedata.normalize("NFKC", nfkc.casefold())
        if unicodedata.normalize("NFD", lowered) != unicodedata.normalize("NFD", folded) and not lowered.isspace():
            found[lowered] = folded
    return sorted(found.items(), key=lambda pair: (-len(pair[0]), pair[0]))


def hf_tokenizer(vocab_path: str, lower_case: bool) -> Tokenizer:
    """A `tokenizers` pipeline that gives the ids our TensorFlow Text tokenizer gives (see the module docstring)."""
    with tf.io.gfile.GFile(vocab_path) as f:
        vocab = {line.rstrip("\n"): index for index, line in enumerate(f)}
    tokenizer = Tokenizer(
        models.WordPiece(vocab, unk_token=features.UNK_TOKEN, max_input_chars_per_word=MAX_CHARS_PER_WORD)
    )
    steps = []
    if lower_case:  # ICU's NFKC_Casefold, which TensorFlow Text folds case with
        steps += [normalizers.Replace(Regex(DEFAULT_IGNORABLE), ""), normalizers.NFKC(), normalizers.Lowercase()]
        steps += [normalizers.Replace(lowered, folded) for lowered, folded in casefold_replacements()]
        steps += [normalizers.NFD(), normalizers.StripAccents()]
    steps.append(normalizers.Replace(Regex(CONTROL_CHARACTERS), " "))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(WHITESPACE), behavior="removed"),
            pre_tokenizers.Split(Regex(WORD_DELIMITERS), behavior="isolated"),
        ]
    )
    tokenizer.post_processor = processors.BertProcessing(
        (features.SEP_TOKEN, features.SEP_ID), (features.CLS_TOKEN, features.CLS_ID)
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return tokenizer


def write_hf_model(
    backbone: keras_hub.models.BertBackbone,
    heads: Mapping[str, np.ndarray] | None,
    vocab_path: str,
    lower_case: bool,
    directory: str,
) -> None:
    """Writes the Hugging Face folder (see the module docstring)."""
    tf.io.gfile.makedirs(directory)
    _write_json(os.path.join(directory, CONFIG_FILE), hf_config(backbone, architecture(heads)))
    with tf.io.gfile.GFile(os.path.join(directory, WEIGHTS_FILE), "wb") as f:
        f.write(safetensors_numpy.save(hf_tensors(backbone, heads), metadata={"format": "pt"}))
    tf.io.gfile.copy(vocab_path, os.path.join(directory, features.VOCAB_FILE), overwrite=True)
    with tf.io.gfile.GFile(os.path.join(directory, TOKENIZER_FILE), "w") as f:
        f.write(hf_tokenizer(vocab_path, lower_case).to_str())
    _write_json(
        os.path.join(directory, TOKENIZER_CONFIG_FILE),
        {
            # The generic class loads tokenizer.json as written; BertTokenizer would rebuild a normaliser that
            # lower-cases without NFKC and case folding.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "do_lower_case": lower_case,
            "strip_accents": lower_case,
            "tokenize_chinese_chars": True,
            "model_max_length": backbone.max_sequence_length,
            "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
            "padding_side": "right",
            **SPECIAL_TOKENS,
        },
    )
    _write_json(os.path.join(directory, SPECIAL_TOKENS_FILE), SPECIAL_TOKENS)


def _write_json(path: str, value) -> None:
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(value, f, indent=2)
