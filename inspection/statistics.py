"""Figures from TFDV statistics artifacts (StatisticsGen's): examples per split, values of a feature, real tokens."""

from __future__ import annotations

import os
from collections.abc import Iterator

from tensorflow_metadata.proto.v0 import statistics_pb2

from inspection.artifact_files import glob, read_bytes
from models import features


def datasets(statistics_uri: str | None) -> Iterator[tuple[str, statistics_pb2.DatasetFeatureStatistics]]:
    """(split, statistics) of a TFDV ExampleStatistics artifact (a folder per split, or one file)."""
    if not statistics_uri:
        return
    for stats_file in glob(f"{statistics_uri}/FeatureStats.pb") + glob(f"{statistics_uri}/Split-*/FeatureStats.pb"):
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(read_bytes(stats_file))
        folder = os.path.basename(os.path.dirname(stats_file))
        split = folder.removeprefix("Split-") if folder.startswith("Split-") else "train"
        for dataset in stats.datasets:
            yield split, dataset


def _feature(dataset: statistics_pb2.DatasetFeatureStatistics, name: str):
    for feature in dataset.features:
        if (feature.path.step and feature.path.step[0] == name) or feature.name == name:
            return feature
    return None


def split_counts(statistics_uri: str | None, values_of: str | None = None) -> dict[str, int]:
    """Examples per split, or with `values_of` the values of that feature per split (TextExampleGen writes groups
    of documents: `doc_id` counts the documents)."""
    counts: dict[str, int] = {}
    for split, dataset in datasets(statistics_uri):
        feature = _feature(dataset, values_of) if values_of else None
        if feature is not None:
            stats = feature.string_stats if feature.HasField("string_stats") else feature.num_stats
            count = int(stats.common_stats.tot_num_values)
        else:
            count = dataset.num_examples
        counts[split] = counts.get(split, 0) + count
    return counts


def feature_sums(statistics_uri: str | None, name: str) -> dict[str, int]:
    """The sum of an integer feature's values per split (its mean times its number of values)."""
    totals: dict[str, int] = {}
    for split, dataset in datasets(statistics_uri):
        feature = _feature(dataset, name)
        if feature is not None:
            stats = feature.num_stats
            totals[split] = totals.get(split, 0) + round(stats.mean * stats.common_stats.tot_num_values)
    return totals


def real_tokens(statistics_uri: str | None) -> dict[str, int]:
    """Real (non-padding) tokens per split of the pre-training instances: the sum of `input_mask`."""
    return feature_sums(statistics_uri, features.INPUT_MASK)


def unknown_tokens(statistics_uri: str | None) -> dict[str, int]:
    """[UNK] tokens per split of the pre-training instances (`features.UNKNOWN_TOKENS`; none for runs before it)."""
    return feature_sums(statistics_uri, features.UNKNOWN_TOKENS)
