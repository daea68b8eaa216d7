"""The encoder as a keras-hub preset: `BertBackbone`, `BertTokenizer`, `BertMaskedLM` and `BertTextClassifier`
load it with `from_preset(directory)`.

The preset is keras-hub's own `save_to_preset` of a `BertMaskedLM` over our backbone, with our masked-LM head's
trained weights and a `BertMaskedLMPreprocessor` whose tokenizer lower-cases and strips accents as ours does.
keras-hub has no next-sentence task, so that head is not in the preset (the Hugging Face export has it).

keras-hub's `BertMaskedLM` builds its head with exact GELU and layer-norm epsilon 1e-5, where ours (the original
BERT's, and Hugging Face's) uses the tanh approximation and 1e-12: the same weights give masked-LM logits that
differ slightly there (the backbone's outputs are identical).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import keras_hub
import numpy as np
import tensorflow as tf


def masked_lm_task(
    backbone: keras_hub.models.BertBackbone,
    heads: Mapping[str, np.ndarray] | None,
    vocab_path: str,
    lower_case: bool,
) -> keras_hub.models.BertMaskedLM:
    """keras-hub's BertMaskedLM over `backbone`, its head holding our trained masked-LM head when given."""
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab_path, lowercase=lower_case, strip_accents=lower_case)
    preprocessor = keras_hub.models.BertMaskedLMPreprocessor(tokenizer, sequence_length=backbone.max_sequence_length)
    task = keras_hub.models.BertMaskedLM(backbone, preprocessor=preprocessor)
    if heads is not None:
        for name, variable in masked_lm_head_variables(task).items():
            variable.assign(heads[name])
    return task


def masked_lm_head_variables(task: keras_hub.models.BertMaskedLM) -> dict[str, keras.Variable]:
    """keras-hub BertMaskedLM's head variables by our head weight names (`backbone_lib.HEAD_WEIGHTS`)."""
    head = task.masked_lm_head
    return {
        "masked_lm/dense/kernel": head._intermediate_dense.kernel,
        "masked_lm/dense/bias": head._intermediate_dense.bias,
        "masked_lm/layer_norm/gamma": head._intermediate_layer_norm.gamma,
        "masked_lm/layer_norm/beta": head._intermediate_layer_norm.beta,
        "masked_lm/output_bias": head._bias,
    }


def write_keras_hub_preset(
    backbone: keras_hub.models.BertBackbone,
    heads: Mapping[str, np.ndarray] | None,
    vocab_path: str,
    lower_case: bool,
    directory: str,
) -> None:
    """Writes the preset folder (see the module docstring)."""
    tf.io.gfile.makedirs(directory)
    masked_lm_task(backbone, heads, vocab_path, lower_case).save_to_preset(directory)
