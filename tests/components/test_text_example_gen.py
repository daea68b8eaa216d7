"""TextExampleGen's executor on a small corpus, with real Beam: groups, splits, counts, errors."""

import dataclasses
import glob
import json

import pytest
import tensorflow as tf

from components.text_example_gen import executor as executor_lib
from components.text_example_gen.component import TextExampleGen
from configs.pipeline_contract import CORPUS_COUNTS_FILE
from configs.run_config import CorpusConfig
from models import features
from tests.components.example_gens import run_executor


def sentence(doc: int, n: int) -> str:
    return f"Document number {doc} says sentence {n} about topic {doc * 7 + n} here."


def document(doc: int, sentences: int = 4) -> str:
    return "\n".join(sentence(doc, n) for n in range(sentences)) + "\n\n"


def run_example_gen(corpus_dir, out_dir, **corpus_settings):
    """TextExampleGen's executor with the `corpus` section's defaults, `corpus_settings` changed."""
    corpus = dataclasses.replace(CorpusConfig(), **corpus_settings)
    return run_executor(
        TextExampleGen(input_base=str(corpus_dir), custom_config={"corpus": dataclasses.asdict(corpus)}), out_dir
    )


def read_split(uri, split):
    records = []
    for path in glob.glob(f"{uri}/Split-{split}/*"):
        for raw in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            records.append(tf.train.Example.FromString(raw.numpy()).features.feature)
    return records


@pytest.fixture()
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("".join(document(d) for d in range(60)))
    # A duplicate of document 3, a short document and a line of invalid UTF-8.
    (folder / "b.txt").write_bytes(
        (document(3) + "Too short.\n\n").encode()
        + b"Bad \xff line here, long enough to be kept as a document of its own.\n"
    )
    return folder


def test_documents_come_in_groups_in_the_split_of_their_id(corpus, tmp_path):
    examples = run_example_gen(
        corpus, tmp_path / "out", min_document_chars=50, on_bad_bytes="replace", documents_per_group=8
    )
    seen = {}
    bucket_ends = [19, 20]
    for split, index in (("train", 0), ("eval", 1)):
        for record in read_split(examples.uri, split):
            ids = [v.decode() for v in record[features.DOC_ID].bytes_list.value]
            counts = list(record[features.DOCUMENT_SENTENCES].int64_list.value)
            sentences = record[features.SENTENCES].bytes_list.value
            assert len(ids) == len(counts) == len(record[features.SOURCE].bytes_list.value)
            assert sum(counts) == len(sentences)
            assert record[features.GROUP_KEY].bytes_list.value[0].decode() == ids[0]
            for doc_id in ids:
                assert executor_lib.split_of(doc_id, bucket_ends) == index, doc_id
                seen[doc_id] = split
    # 60 documents of a.txt and the bad-bytes one; the duplicate of document 3 and the short one are gone.
    assert len(seen) == 61
    groups = read_split(examples.uri, "train") + read_split(examples.uri, "eval")
    assert 61 / 8 <= len(groups) <= 61 / 8 + 2

    counts = json.loads((tmp_path / "out" / CORPUS_COUNTS_FILE).read_text())
    assert counts == {
        "documents_read": 63,
        "dropped_short": 1,
        "dropped_duplicates": 1,
        "bad_lines": 1,
        "documents_kept": 61,
        "documents_written": 61,
        "documents_written_train": sum(split == "train" for split in seen.values()),
        "documents_written_eval": sum(split == "eval" for split in seen.values()),
        # The records (groups) handed to the writer per split, which the StatisticsGen after it checks.
        "records_train": len(read_split(examples.uri, "train")),
        "records_eval": len(read_split(examples.uri, "eval")),
    }
    assert examples.get_int_custom_property("corpus_documents_kept") == 61
    assert examples.get_int_custom_property("records_train") == counts["records_train"]


def test_a_runner_that_loses_documents_fails_the_run_with_the_counts(corpus, tmp_path, monkeypatch):
    # What Beam's multi-threaded FnApiRunner did on the 100 MB corpus: fewer documents reached the groups than
    # de-duplication kept. Here the grouping drops the first document of every group of two or more.
    cut = executor_lib._groups_of_shard

    def lossy(keyed, per_group):
        for group in cut(keyed, per_group):
            yield group[1:] if len(group) > 1 else group

    monkeypatch.setattr(executor_lib, "_groups_of_shard", lossy)
    with pytest.raises(RuntimeError, match=r"lost documents .*: 61 kept, (\d|[1-5]\d) written, with Beam options"):
        run_example_gen(corpus, tmp_path / "out", min_document_chars=50, on_bad_bytes="replace", documents_per_group=8)


def test_same_corpus_gives_the_same_groups(corpus, tmp_path):
    first = run_example_gen(corpus, tmp_path / "one", min_document_chars=50, on_bad_bytes="skip_line")
    second = run_example_gen(corpus, tmp_path / "two", min_document_chars=50, on_bad_bytes="skip_line")

    def groups(uri):
        return sorted(
            tuple(v for v in r[features.DOC_ID].bytes_list.value) for s in ("train", "eval") for r in read_split(uri, s)
        )

    assert groups(first.uri) == groups(second.uri)


def test_corpus_whose_documents_are_all_dropped_names_folder_and_counts(corpus, tmp_path):
    with pytest.raises(ValueError, match=r"no documents left from the corpus in .*corpus: 63 read, 63 shorter"):
        run_example_gen(corpus, tmp_path / "out", min_document_chars=100_000, on_bad_bytes="replace")


def test_bad_bytes_fail_by_default_naming_file_and_line(corpus, tmp_path):
    with pytest.raises(Exception, match=r"b.txt:8: invalid UTF-8"):
        run_example_gen(corpus, tmp_path / "out", min_document_chars=50)


@pytest.mark.parametrize(
    "text",
    [
        "".join(document(doc) for doc in range(4)),  # four paragraphs: all of them hash into train
        " ".join(sentence(0, n) for n in range(40)) + "\n",  # one long line: one document, one split
    ],
    ids=["four-paragraphs", "one-long-line"],
)
def test_a_corpus_too_small_for_an_eval_split_stops_here_naming_the_split(tmp_path, text):
    """Transform crashed later with `KeyError: 'sentences'` when every document hashed into train."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.txt").write_text(text)
    with pytest.raises(ValueError, match=r"falls in the eval split, which gets corpus.eval_buckets=1 of the 20"):
        run_example_gen(corpus, tmp_path / "out", min_document_chars=50)


def test_the_counts_give_each_split_its_documents(corpus, tmp_path):
    examples = run_example_gen(corpus, tmp_path / "out", min_document_chars=50, on_bad_bytes="replace")
    counts = json.loads((tmp_path / "out" / CORPUS_COUNTS_FILE).read_text())
    assert counts["documents_written_train"] + counts["documents_written_eval"] == counts["documents_written"]
    assert counts["documents_written_eval"] == sum(
        len(r[features.DOC_ID].bytes_list.value) for r in read_split(examples.uri, "eval")
    )
