import bz2
import gzip
import json

import pytest

from components.text_example_gen.corpus_reader import (
    CorpusFormatError,
    ReadCounts,
    clean_text,
    read_documents,
    split_sentences,
)
from tests.conftest import DATA_DIR

WIKI = """<doc id="7" url="http://x/?curid=7" title="Alpha">
Alpha

Alpha is the first letter. It has a '''bold''' [[Greek alphabet|history]].
Dr. Smith wrote &amp; spoke about it.
</doc>
<doc id="8" url="http://x/?curid=8" title="Empty">
Empty

</doc>
"""


def write(path, text, compress=False):
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return str(path)


def test_wikiextractor_documents_are_cleaned_and_split(tmp_path):
    [doc] = list(read_documents(write(tmp_path / "wiki_00", WIKI), min_chars=1))
    assert (doc.doc_id, doc.title) == ("7", "Alpha")
    assert doc.sentences == (
        "Alpha is the first letter.",
        "It has a bold history.",
        "Dr. Smith wrote & spoke about it.",
    )
    assert doc.source.endswith("wiki_00")


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    plain = list(read_documents(write(tmp_path / "a.txt", WIKI), min_chars=1))
    packed = list(read_documents(write(tmp_path / "b.txt", WIKI, compress=True), min_chars=1))
    assert [d.sentences for d in packed] == [d.sentences for d in plain]


def test_plain_text_documents_are_separated_by_blank_lines(tmp_path):
    text = "First doc line one.\nSecond line here.\n\n\nOther document.\n"
    docs = list(read_documents(write(tmp_path / "corpus.txt", text)))
    assert [d.doc_id for d in docs] == ["corpus.txt:1", "corpus.txt:5"]
    assert docs[0].sentences == ("First doc line one.", "Second line here.")


def test_short_and_empty_documents_are_dropped(tmp_path):
    path = write(tmp_path / "wiki", WIKI)
    assert [d.doc_id for d in read_documents(path, min_chars=1)] == ["7"]
    assert list(read_documents(path, min_chars=1000)) == []


def test_control_characters_and_unicode_forms_are_normalised():
    assert clean_text("cafe\u0301\u200b\x07 bar\t baz") == "caf\u00e9 bar baz"
    assert clean_text("<ref>x</ref> a&nbsp;b") == "x a b"


def test_sentence_splitter_keeps_abbreviations_and_initials():
    assert split_sentences("Mr. J. Smith went home. He slept! Did he? Yes.") == [
        "Mr. J. Smith went home.",
        "He slept!",
        "Did he?",
        "Yes.",
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '<doc id="1" title="A">\nA\ntext\n<doc id="2" title="B">\n',
            r"wiki:4: <doc> opened while the document opened at line 1",
        ),
        ('<doc id="1" title="A">\ntext\n', r"wiki: the document opened at line 1 has no </doc>"),
        ('<doc id="1" title="A">\ntext\n</doc>\nstray text\n', r"wiki:4: text outside a <doc> element"),
        ('<doc id="1" title="A">\ntext\n</doc>\n</doc>\n', r"wiki:4: </doc> without an open <doc>"),
    ],
)
def test_broken_doc_structure_names_file_and_line(tmp_path, text, message):
    with pytest.raises(CorpusFormatError, match=message):
        list(read_documents(write(tmp_path / "wiki", text)))


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nbad \xff byte\n")
    with pytest.raises(CorpusFormatError, match=r"bad.txt:2: invalid UTF-8 at byte 4"):
        list(read_documents(str(path)))


BAD_BYTES = b"First line is fine.\nSecond \xff\xfe line.\nThird line.\n\nNext document here.\n"


def test_bad_bytes_replace_keeps_the_line_with_replacement_characters(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(BAD_BYTES)
    counts = ReadCounts()
    docs = list(read_documents(str(path), on_bad_bytes="replace", counts=counts))
    assert docs[0].sentences == ("First line is fine.", "Second \ufffd\ufffd line.", "Third line.")
    assert counts.bad_lines == 1 and counts.documents == 2


def test_bad_bytes_skip_line_drops_only_that_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(BAD_BYTES)
    counts = ReadCounts()
    docs = list(read_documents(str(path), on_bad_bytes="skip_line", counts=counts))
    assert [d.sentences for d in docs] == [("First line is fine.", "Third line."), ("Next document here.",)]
    assert counts.bad_lines == 1


def test_unknown_bad_bytes_policy_is_refused(tmp_path):
    with pytest.raises(ValueError, match="on_bad_bytes='ignore'; expected one of fail, replace, skip_line"):
        list(read_documents(write(tmp_path / "a.txt", "text\n"), on_bad_bytes="ignore"))


def test_bzip2_is_recognised_by_content(tmp_path):
    path = tmp_path / "wiki_00.bz2"
    path.write_bytes(bz2.compress(WIKI.encode("utf-8")))
    plain = list(read_documents(write(tmp_path / "a.txt", WIKI), min_chars=1))
    assert [d.sentences for d in read_documents(str(path), min_chars=1)] == [d.sentences for d in plain]


def test_json_lines_documents(tmp_path):
    records = [
        {"id": "a1", "title": "Alpha", "text": "Alpha is first. It leads.\nA second paragraph."},
        {"text": "No id here. Still a document."},
        {"text": ""},
    ]
    path = write(tmp_path / "docs.jsonl", "".join(json.dumps(r) + "\n" for r in records), compress=True)
    counts = ReadCounts()
    docs = list(read_documents(path, min_chars=1, counts=counts))
    assert [(d.doc_id, d.title) for d in docs] == [("a1", "Alpha"), ("docs.jsonl:2", "")]
    assert docs[0].sentences == ("Alpha is first.", "It leads.", "A second paragraph.")
    assert (counts.documents, counts.short) == (3, 1)


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"text": "ok"', r"docs.jsonl:2: not valid JSON"),
        ('{"body": "no text key"}', r'docs.jsonl:2: expected a JSON object with a "text" string'),
        ('["a list"]', r'docs.jsonl:2: expected a JSON object with a "text" string'),
    ],
)
def test_broken_json_lines_name_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "docs.jsonl", '{"text": "fine"}\n' + line + "\n")
    with pytest.raises(CorpusFormatError, match=message):
        list(read_documents(path))


def test_bundled_corpus_sample_reads():
    files = sorted(DATA_DIR.glob("corpus/*.gz"))
    assert files, "data/corpus holds the bundled Wikipedia sample"
    docs = [d for f in files for d in read_documents(str(f), min_chars=200)]
    assert len(docs) > 50
    assert sum(len(d.sentences) for d in docs) > 10000
    assert all("<doc" not in s and "</doc>" not in s for d in docs for s in d.sentences)


def incompressible_text(lines: int = 3000) -> str:
    """Plain text that gzip and bzip2 cannot squeeze into a few blocks: a truncation cuts it mid-way."""
    import random

    rng = random.Random(0)
    return "".join(
        " ".join(f"word{rng.randint(0, 99999)}" for _ in range(12)) + ".\n" + ("\n" if i % 10 == 9 else "")
        for i in range(lines)
    )


@pytest.mark.parametrize(
    "name, broken, message",
    [
        (
            "truncated.gz",
            lambda data: gzip.compress(data)[: len(gzip.compress(data)) // 2],
            "the gzip stream is broken",
        ),
        (
            "corrupt.bz2",
            lambda data: bz2.compress(data)[:5000] + b"x" * 50 + bz2.compress(data)[5050:],
            "the bzip2 stream",
        ),
    ],
)
def test_a_broken_compressed_file_names_the_file_and_the_line_reached(tmp_path, name, broken, message):
    """A truncated gzip ended in `EOFError` and a broken bzip2 in `OSError: Invalid data stream`, naming nothing."""
    path = tmp_path / name
    path.write_bytes(broken(incompressible_text().encode()))
    with pytest.raises(CorpusFormatError, match=rf"{name}:\d+: {message}.*corpus.on_bad_bytes does not apply"):
        list(read_documents(str(path), on_bad_bytes="replace"))
