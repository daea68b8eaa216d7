"""Beam executor of TextExampleGen: read, clean, de-duplicate, group, encode, count.

Documents are written in groups (one tf.Example per group, `features` names the fields): a group is
a fixed set of about `documents_per_group` documents of the same split, chosen by content hash, so the
pre-training Transform draws random next sentences from the other documents of a group, and the
instances do not depend on how Beam batches records or how many workers run. Documents are first
spread over shards by content hash, a shard per `documents_per_group * _BYTES_PER_DOCUMENT` bytes of
corpus files (so a shard's size does not grow with the corpus and no count of the documents is needed),
then each shard is sorted by content hash and cut into groups of near-equal size. Documents travel
through every grouping (de-duplication, shards) as pickled bytes: as objects, Beam's direct runner took
21 GB to group 100 MB of text (2.1 GB as bytes), and its multi-threaded mode lost some of them.
Each document goes to the split TFX's own partitioning would give it (the hash of its `doc_id`); the group's
`features.GROUP_KEY` is the `doc_id` of one of its documents, so TFX puts the group there too.

Besides the examples it writes `CORPUS_COUNTS_FILE` at the root of the Examples artifact (documents read,
dropped as short, dropped as duplicates, lines with bad bytes, documents kept, documents written, and the records,
groups, written per split) and records the same numbers as the artifact's `corpus_*` custom properties (the records
as `records_<split>`, which the StatisticsGen after it checks: `components.record_counts`), so they travel with the
lineage. A corpus whose
documents are all dropped fails here, naming the corpus folder and the counts; so does a run in which the Beam
runner wrote fewer documents than it kept.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import os
import pickle
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import record_counts
from components.file_example_gen import CUSTOM_CONFIG_KEY, open_binary
from components.text_example_gen.corpus_reader import Document, ReadCounts, read_documents
from configs.pipeline_contract import CORPUS_COUNT_PREFIX, CORPUS_COUNTS_FILE, RECORD_COUNT_PREFIX
from configs.run_config import CorpusConfig, section_from
from models import features


def _bytes_feature(values: list[str]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8") for v in values]))


def _int_feature(values: list[int]) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def group_to_example(documents: list[Document]) -> tf.train.Example:
    """Encodes a group of documents with the raw corpus features of `models.features`."""
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                features.GROUP_KEY: _bytes_feature([documents[0].doc_id]),
                features.SENTENCES: _bytes_feature([s for d in documents for s in d.sentences]),
                features.DOCUMENT_SENTENCES: _int_feature([len(d.sentences) for d in documents]),
                features.DOC_ID: _bytes_feature([d.doc_id for d in documents]),
                features.TITLE: _bytes_feature([d.title for d in documents]),
                features.SOURCE: _bytes_feature([d.source for d in documents]),
            }
        )
    )


def split_of(doc_id: str, bucket_ends: list[int]) -> int:
    """The output split TFX's ExampleGen gives a record whose partition feature is `[doc_id]`.

    `bucket_ends` are the cumulative hash buckets of the splits (19 and 1 buckets: [19, 20]).
    """
    key = _bytes_feature([doc_id]).SerializeToString(deterministic=True)
    return bisect.bisect(bucket_ends, int(hashlib.sha256(key).hexdigest(), 16) % bucket_ends[-1])


# Corpus bytes (as stored) per document assumed when sizing the grouping shards. A shard is cut into
# round(documents / documents_per_group) groups, at least one: where documents average more bytes than this, a
# shard holds fewer than `documents_per_group` documents and is one smaller group (the 100 MB Wikipedia corpus,
# 17 kB per article: groups of about 30 at 64; the bundled gzip sample, 8.5 kB: about 15 at 16).
_BYTES_PER_DOCUMENT = 8 << 10


def _keyed_by_shard(kept: tuple[str, str, bytes], bucket_ends: list[int], shards: int) -> tuple[tuple[int, int], bytes]:
    """A kept document's (split, shard) key, from its id and content hash, and its pickled bytes."""
    fingerprint, doc_id, payload = kept
    return (split_of(doc_id, bucket_ends), int(fingerprint[:15], 16) % shards), payload


def _groups_of_shard(keyed: tuple[tuple[int, int], Iterable[bytes]], per_group: int) -> Iterator[list[Document]]:
    """A shard's (pickled) documents in content-hash order, cut into `round(n / per_group)` groups of near-equal
    size."""
    documents = sorted((pickle.loads(d) for d in keyed[1]), key=lambda d: d.fingerprint)
    count = max(1, round(len(documents) / per_group))
    for i in range(count):
        yield documents[i * len(documents) // count : (i + 1) * len(documents) // count]


def _output_splits(exec_properties: dict[str, Any]) -> list[example_gen_pb2.SplitConfig.Split]:
    output_config = proto_utils.json_to_proto(
        exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], example_gen_pb2.Output()
    )
    return list(output_config.split_config.splits)


def _bucket_ends(exec_properties: dict[str, Any]) -> list[int]:
    ends, total = [], 0
    for split in _output_splits(exec_properties):
        total += split.hash_buckets
        ends.append(total)
    return ends


def _written_counts(group: list[Document], bucket_ends: list[int], split_names: list[str]) -> dict[str, int]:
    """A written group's documents, in all and in its split (`written_train`, ...), and the one record it is in its
    split (`records_train`, ...)."""
    split = split_names[split_of(group[0].doc_id, bucket_ends)]
    return {"written": len(group), f"written_{split}": len(group), f"{RECORD_COUNT_PREFIX}{split}": 1}


_COUNTS_PATH_KEY = "_corpus_counts_path"
_COUNTS = "counts"


def _keyed_by_content(document: Document) -> tuple[str, tuple[tuple[str, str], bytes]]:
    return document.fingerprint, ((document.source, document.doc_id), pickle.dumps(document))


def _first_by_id(fingerprint: str, copies: Iterable[tuple[tuple[str, str], bytes]]) -> tuple[str, str, bytes]:
    """Of documents with the same content, keeps one deterministically (lowest source, then id): its content
    hash, id and pickled bytes, which go on to the shards without being unpickled here.

    Documents are grouped as pickled bytes: a CombineFn holding `Document` objects as accumulators gave
    wrong results (None for a key) and grew to over 6 GB on the 100 MB corpus under the multi-threaded runner.
    """
    (_, doc_id), payload = min(copies)
    return fingerprint, doc_id, payload


def _read_file(path: str, min_chars: int, on_bad_bytes: str) -> Iterator[Document]:
    counts = ReadCounts()
    yield from read_documents(path, min_chars=min_chars, opener=open_binary, on_bad_bytes=on_bad_bytes, counts=counts)
    yield beam.pvalue.TaggedOutput(_COUNTS, dataclasses.asdict(counts))


def _sum_counts(counts: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in counts:
        for name, value in part.items():
            total[name] = total.get(name, 0) + value
    return total


def _write_counts(counts: dict[str, int], path: str) -> None:
    counts = {
        "documents_read": counts.get("documents", 0),
        "dropped_short": counts.get("short", 0),
        "dropped_duplicates": counts.get("documents", 0) - counts.get("short", 0) - counts.get("kept", 0),
        "bad_lines": counts.get("bad_lines", 0),
        "documents_kept": counts.get("kept", 0),
        "documents_written": counts.get("written", 0),
        **{f"documents_{name}": value for name, value in counts.items() if name.startswith("written_")},
        **{name: value for name, value in counts.items() if name.startswith(RECORD_COUNT_PREFIX)},
    }
    with fileio.open(path, "w") as f:
        f.write(json.dumps(counts, indent=2, sort_keys=True) + "\n")


def _corpus_config(exec_properties: dict[str, Any]) -> CorpusConfig:
    return section_from(exec_properties[CUSTOM_CONFIG_KEY], "corpus", CorpusConfig)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _CorpusToExample(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str) -> beam.PCollection:
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    corpus = _corpus_config(exec_properties)
    pattern = os.path.join(input_base, split_pattern)
    paths = sorted(p for p in fileio.glob(pattern) if not fileio.isdir(p))
    if not paths:
        raise FileNotFoundError(f"TextExampleGen: no corpus files match {pattern}")
    read = (
        pipeline
        | "ListFiles" >> beam.Create(paths)
        | "Reshuffle" >> beam.Reshuffle()
        | "ReadDocuments"
        >> beam.FlatMap(_read_file, corpus.min_document_chars, corpus.on_bad_bytes).with_outputs(
            _COUNTS, main="documents"
        )
    )
    unique = (  # (content hash, id, pickled document) of each document kept
        read.documents
        | "KeyByContent" >> beam.Map(_keyed_by_content)
        | "GroupByContent" >> beam.GroupByKey()
        | "DropDuplicates" >> beam.MapTuple(_first_by_id)
    )
    bucket_ends = _bucket_ends(exec_properties)
    per_group = corpus.documents_per_group
    shards = max(1, sum(fileio.stat(p).length for p in paths) // (per_group * _BYTES_PER_DOCUMENT))
    groups = (
        unique
        | "KeyByShard" >> beam.Map(_keyed_by_shard, bucket_ends, shards)
        | "GroupShards" >> beam.GroupByKey()
        | "CutGroups" >> beam.FlatMap(_groups_of_shard, per_group)
    )
    if _COUNTS_PATH_KEY in exec_properties:
        kept = unique | "CountKept" >> beam.combiners.Count.Globally() | "AsCounts" >> beam.Map(lambda n: {"kept": n})
        split_names = [split.name for split in _output_splits(exec_properties)]
        # Documents in the groups written, in all (the runner must not lose any of the kept ones) and per split.
        written = groups | "CountWritten" >> beam.Map(_written_counts, bucket_ends, split_names)
        (
            (read[_COUNTS], kept, written)
            | "AllCounts" >> beam.Flatten()
            | "SumCounts" >> beam.CombineGlobally(_sum_counts)
            | "WriteCounts" >> beam.Map(_write_counts, exec_properties[_COUNTS_PATH_KEY])
        )
    return groups | "ToExample" >> beam.Map(group_to_example)


class Executor(BaseExampleGenExecutor):
    """TextExampleGen executor: see `corpus_reader` for formats and cleaning."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CorpusToExample

    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        counts_path = os.path.join(examples.uri, CORPUS_COUNTS_FILE)
        super().Do(input_dict, output_dict, {**exec_properties, _COUNTS_PATH_KEY: counts_path})
        with fileio.open(counts_path) as f:
            counts = json.load(f)
        if counts["documents_written"] != counts["documents_kept"]:
            raise RuntimeError(
                f"TextExampleGen: the Beam runner lost documents between de-duplication and writing: "
                f"{counts['documents_kept']:,} kept, {counts['documents_written']:,} written, with Beam options "
                f"{self._beam_pipeline_args}. Nothing is published; run it again with a runner that keeps every "
                f"element (the FnApiRunner's multi-threaded mode does not; see pipeline/beam_options.py)."
            )
        records = {
            n.removeprefix(RECORD_COUNT_PREFIX): counts.pop(n)
            for n in list(counts)
            if n.startswith(RECORD_COUNT_PREFIX)
        }
        record_counts.set_written(examples, records)  # StatisticsGen checks that it read them all
        for name, value in counts.items():
            examples.set_int_custom_property(CORPUS_COUNT_PREFIX + name, value)
        if counts["documents_kept"] == 0:
            input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
            raise ValueError(
                f"TextExampleGen: no documents left from the corpus in {input_base}: {counts['documents_read']} "
                f"read, {counts['dropped_short']} shorter than corpus.min_document_chars="
                f"{_corpus_config(exec_properties).min_document_chars} after cleaning, "
                f"{counts['dropped_duplicates']} duplicates, {counts['bad_lines']} lines with bad bytes"
            )
        _check_every_split_has_documents(counts, exec_properties)


def _check_every_split_has_documents(counts: dict[str, int], exec_properties: dict[str, Any]) -> None:
    """Raises ValueError naming a split without documents: Transform learns its vocabulary from train and the
    Trainer evaluates on eval, and an empty split only failed later, in Transform (`KeyError: 'sentences'`)."""
    splits = _output_splits(exec_properties)
    buckets = sum(split.hash_buckets for split in splits)
    for split in splits:
        if counts.get(f"documents_written_{split.name}", 0) == 0:
            input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
            raise ValueError(
                f"TextExampleGen: none of the {counts['documents_kept']:,} documents kept from the corpus in "
                f"{input_base} falls in the {split.name} split, which gets corpus.{split.name}_buckets="
                f"{split.hash_buckets} of the {buckets} hash buckets of document ids; every split needs documents. "
                f"Give the corpus more documents (a blank line separates two in plain text) or the split more "
                f"buckets (--set corpus.{split.name}_buckets=...)"
            )
