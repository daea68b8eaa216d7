"""The pre-training objectives (`data.objective`): what instances Transform builds and which heads train on them.

An objective is one entry here: its instance builder (tokenized documents -> unmasked instances and their mask
keys, `models.pretraining_data.documents`) and whether it has the next-sentence task (instances carry
`next_sentence_labels`, the model a next-sentence head, loss and accuracy; the export a `BertForPreTraining`
rather than a `BertForMaskedLM`). Masking, the Trainer's loop and the masked-LM head are shared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from configs.run_config import OBJECTIVES, PretrainingDataConfig
from models.pretraining_data import full_sentences, sentence_pairs
from models.pretraining_data.documents import Documents

InstanceBuilder = Callable[[Documents, PretrainingDataConfig], tuple[dict[str, tf.Tensor], tf.Tensor]]


@dataclasses.dataclass(frozen=True)
class Objective:
    """A pre-training objective.

    Attributes:
        name: its `data.objective` value.
        description: what it trains, in the report's words.
        next_sentence: whether it has the next-sentence task.
        build_instances: its instance builder.
    """

    name: str
    description: str
    next_sentence: bool
    build_instances: InstanceBuilder


_REGISTRY = {
    "mlm_nsp": Objective("mlm_nsp", OBJECTIVES["mlm_nsp"], True, sentence_pairs.build_instances),
    "mlm": Objective("mlm", OBJECTIVES["mlm"], False, full_sentences.build_instances),
}


def names() -> tuple[str, ...]:
    """The registered objectives' names (`configs.run_config.OBJECTIVES` lists the same, with their descriptions)."""
    return tuple(_REGISTRY)


def objective(name: str) -> Objective:
    """The objective named `name` (a `data.objective` value)."""
    if name not in _REGISTRY:
        raise ValueError(f"data.objective={name!r}; expected one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]
