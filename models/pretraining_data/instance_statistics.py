"""Statistics of pre-training instances: the figures the original BERT data is judged by.

Read from the Transform's output (`transformed_examples`), they say how well the instances are
packed (share of full-length instances, real tokens per instance), whether the masked-LM targets
follow the recipe (share of eligible tokens selected, 80/10/10 replacement) and the share of
random next sentences. Used by `bench/data_prep.py` and by tests.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Iterable, Iterator

import numpy as np
import tensorflow as tf

from models import features


@dataclasses.dataclass
class InstanceStatistics:
    """Sums over instances; the properties turn them into the shares the recipe names.

    Real tokens are the non-padding ones, [CLS] and [SEP]s included; eligible tokens are the real
    tokens a masked-LM target may be chosen from (all but [CLS] and [SEP]).
    """

    instances: int = 0
    full_length: int = 0
    real_tokens: int = 0
    eligible_tokens: int = 0
    selected: int = 0
    replaced_by_mask: int = 0
    replaced_by_random: int = 0
    kept: int = 0
    random_next: int = 0
    unk_targets: int = 0

    def add(self, batch: dict[str, np.ndarray]) -> None:
        """Adds a batch of parsed instances (`features.PRETRAINING_FEATURES`, numpy arrays)."""
        word_ids = batch[features.INPUT_WORD_IDS]
        mask = batch[features.INPUT_MASK]
        weights = batch[features.MASKED_LM_WEIGHTS] > 0
        positions = batch[features.MASKED_LM_POSITIONS]
        targets = batch[features.MASKED_LM_IDS]
        real = mask.sum(axis=1)
        special = ((word_ids == features.CLS_ID) | (word_ids == features.SEP_ID)) & (mask > 0)
        shown = np.take_along_axis(word_ids, positions, axis=1)
        self.instances += len(word_ids)
        self.full_length += int((real == word_ids.shape[1]).sum())
        self.real_tokens += int(real.sum())
        self.eligible_tokens += int(real.sum() - special.sum())
        self.selected += int(weights.sum())
        self.replaced_by_mask += int((weights & (shown == features.MASK_ID)).sum())
        self.kept += int((weights & (shown == targets)).sum())
        self.replaced_by_random += int((weights & (shown != features.MASK_ID) & (shown != targets)).sum())
        if features.NEXT_SENTENCE_LABELS in batch:  # objectives without the next-sentence task have none
            self.random_next += int((batch[features.NEXT_SENTENCE_LABELS] == features.IS_RANDOM_NEXT).sum())
        self.unk_targets += int((weights & (targets == features.UNK_ID)).sum())

    def summary(self) -> dict[str, float]:
        """The shares and means, as plain numbers (for JSON and tables)."""

        def share(part: int, whole: int) -> float:
            return part / whole if whole else 0.0

        return {
            "instances": self.instances,
            "real_tokens": self.real_tokens,
            "mean_real_tokens": share(self.real_tokens, self.instances),
            "full_length_share": share(self.full_length, self.instances),
            "selected_share": share(self.selected, self.eligible_tokens),
            "mask_share": share(self.replaced_by_mask, self.selected),
            "random_share": share(self.replaced_by_random, self.selected),
            "kept_share": share(self.kept, self.selected),
            "random_next_share": share(self.random_next, self.instances),
            "unk_targets": self.unk_targets,
        }


def transformed_files(transformed_examples_uri: str, split: str = "train") -> list[str]:
    """The TFRecord files of one split of a `transformed_examples` artifact."""
    return sorted(glob.glob(os.path.join(transformed_examples_uri, f"Split-{split}", "*")))


def read_instances(files: Iterable[str], batch_size: int = 4096) -> Iterator[dict[str, np.ndarray]]:
    """Parses the Transform's gzipped TFRecords into batches of numpy arrays (the features they have)."""
    files = list(files)
    first = next(iter(tf.data.TFRecordDataset(files[:1], compression_type="GZIP").take(1)))
    example = tf.train.Example.FromString(first.numpy())
    spec = {}
    for name in features.PRETRAINING_FEATURES:
        if name not in example.features.feature:  # masked-LM features are absent under dynamic masking
            continue
        feature = example.features.feature[name]
        kind = feature.WhichOneof("kind")
        length = len(getattr(feature, kind).value)
        spec[name] = tf.io.FixedLenFeature([length] if name != features.NEXT_SENTENCE_LABELS else [], _DTYPES[kind])
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(batch_size)
    for serialized in dataset.map(lambda s: tf.io.parse_example(s, spec)):
        yield {name: value.numpy() for name, value in serialized.items()}


def statistics_of(files: Iterable[str]) -> InstanceStatistics:
    """`InstanceStatistics` over every instance in `files`."""
    stats = InstanceStatistics()
    for batch in read_instances(files):
        stats.add(batch)
    return stats


_DTYPES = {"int64_list": tf.int64, "float_list": tf.float32, "bytes_list": tf.string}
