"""Reads raw text corpora into cleaned documents, with no TFX or Beam dependency.

Formats, told apart per file by content, not by name:
- WikiExtractor dumps: articles wrapped in `<doc id=.. url=.. title=..>` ... `</doc>`, the first
  line inside being the title;
- JSON Lines: one object per line with the document in `"text"` (paragraphs separated by newlines)
  and optionally `"id"` and `"title"`;
- plain text in the original BERT layout: one paragraph or sentence per line, documents
  separated by blank lines;
- any of the above compressed with gzip or bzip2 (WikiExtractor's `--compress`), recognised by
  their magic bytes.

Invalid UTF-8 follows a policy (`BAD_BYTES_POLICIES`): fail naming the file and line (the default),
replace the bad bytes with U+FFFD, or skip the line. `ReadCounts` tells what a read kept and dropped.

Cleaning: HTML entities decoded, leftover markup (tags, wiki links, bold/italic quotes)
removed, Unicode normalised to NFC, control and format characters dropped, whitespace collapsed.
Documents shorter than a minimum after cleaning are dropped. Duplicate removal needs the whole
corpus and happens in the Beam executor, keyed by `Document.fingerprint`.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import hashlib
import html
import io
import json
import os
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
BAD_BYTES_POLICIES = ("fail", "replace", "skip_line")
_DOC_OPEN = re.compile(r"^<doc\b(?P<attrs>[^>]*)>\s*$")
_DOC_CLOSE = "</doc>"
_ATTR = re.compile(r'(\w+)="([^"]*)"')

_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_WIKI_LINK = re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]]*)\]\]")
_BOLD_ITALIC = re.compile(r"'{2,}")
_SPACES = re.compile(r"\s+")
# A sentence ends at . ! or ? (optionally followed by closing quotes or brackets), then whitespace,
# then something that starts a sentence. Common abbreviations do not end sentences.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e no vol fig inc ltd co corp gen col lt sgt u.s u.k jan feb "
    "mar apr jun jul aug sep sept oct nov dec ca c".split()
)


class CorpusFormatError(ValueError):
    """A corpus file is not what its format promises; the message names the file and line."""


@dataclasses.dataclass
class ReadCounts:
    """What reading kept and dropped, summed over files.

    Attributes:
        documents: documents found (before any was dropped).
        short: documents dropped as shorter than the minimum after cleaning (empty ones included).
        bad_lines: lines with invalid UTF-8 that were replaced or skipped (under `fail` the read stops).
    """

    documents: int = 0
    short: int = 0
    bad_lines: int = 0


@dataclasses.dataclass(frozen=True)
class Document:
    """One cleaned document.

    Attributes:
        doc_id: stable id: the WikiExtractor id, or `<file name>:<first line>` for plain text.
        title: article title ("" for plain text).
        source: path of the file the document came from.
        sentences: cleaned sentences, in order.
    """

    doc_id: str
    title: str
    source: str
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    @property
    def fingerprint(self) -> str:
        """Identifies the document's content (case-folded, whitespace-insensitive) for de-duplication."""
        return hashlib.sha1(self.text.casefold().encode("utf-8")).hexdigest()


def clean_text(line: str) -> str:
    """Cleans one line of raw text: entities, markup, Unicode form, control characters, spaces."""
    text = html.unescape(line)
    text = _WIKI_LINK.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    text = _BOLD_ITALIC.sub("", text)
    text = unicodedata.normalize("NFC", text)
    if not text.isprintable():  # rare: only then look at each character's category
        text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return _SPACES.sub(" ", text).strip()


def split_sentences(paragraph: str) -> list[str]:
    """Splits a cleaned paragraph into sentences at sentence-final punctuation."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        candidate = paragraph[start : match.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].rstrip(".").lower()
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        pieces.append(paragraph[start : match.end()].strip())
        start = match.end()
    pieces.append(paragraph[start:].strip())
    return [p for p in pieces if p]


def read_documents(
    path: str,
    min_chars: int = 0,
    opener: Callable[[str], BinaryIO] | None = None,
    on_bad_bytes: str = "fail",
    counts: ReadCounts | None = None,
) -> Iterator[Document]:
    """Yields the cleaned documents of one corpus file, in file order.

    Args:
        path: the file to read.
        min_chars: documents whose cleaned text is shorter are skipped.
        opener: opens `path` for binary reading; defaults to the built-in `open`. The Beam
            executor passes TFX's `fileio.open` so that cloud paths work.
        on_bad_bytes: what a line with invalid UTF-8 does: "fail", "replace" or "skip_line".
        counts: if given, incremented with what was read and dropped.

    Raises:
        CorpusFormatError: with the file and line, for invalid UTF-8 (under "fail"), a broken
            `<doc>` structure or a JSON Lines record that is not an object with a "text" string.
    """
    if on_bad_bytes not in BAD_BYTES_POLICIES:
        raise ValueError(f"on_bad_bytes={on_bad_bytes!r}; expected one of {', '.join(BAD_BYTES_POLICIES)}")
    counts = counts if counts is not None else ReadCounts()
    lines = _numbered_lines(path, opener or (lambda p: open(p, "rb")), on_bad_bytes, counts)
    first = _first_content_line(lines)
    if first is None:
        return
    lines = _chain([first], lines)
    head = first[1].lstrip()
    if head.startswith("<doc"):
        reader = _read_wikiextractor
    elif head.startswith("{"):
        reader = _read_json_lines
    else:
        reader = _read_plain
    for document in reader(path, lines):
        counts.documents += 1
        if len(document.text) >= min_chars and document.sentences:
            yield document
        else:
            counts.short += 1


def _numbered_lines(
    path: str, opener: Callable[[str], BinaryIO], on_bad_bytes: str, counts: ReadCounts
) -> Iterator[tuple[int, str]]:
    with opener(path) as raw:
        head = raw.read(3)
        stream: BinaryIO = io.BufferedReader(_Prepend(head, raw)) if head else raw
        compression = None
        if head[:2] == _GZIP_MAGIC:
            stream, compression = gzip.GzipFile(fileobj=stream), "gzip"  # type: ignore[assignment]
        elif head == _BZIP2_MAGIC:
            stream, compression = bz2.BZ2File(stream), "bzip2"  # type: ignore[assignment]
        for number, data in enumerate(_decompressed(path, stream, compression), start=1):
            try:
                yield number, data.decode("utf-8")
            except UnicodeDecodeError as err:
                if on_bad_bytes == "fail":
                    raise CorpusFormatError(
                        f"{path}:{number}: invalid UTF-8 at byte {err.start} of the line; expected UTF-8 text "
                        "(corpus.on_bad_bytes=replace or skip_line reads past such lines)"
                    ) from None
                counts.bad_lines += 1
                if on_bad_bytes == "replace":
                    yield number, data.decode("utf-8", errors="replace")
                # skip_line: the line is left out, as if it were not there


def _decompressed(path: str, stream: BinaryIO, compression: str | None) -> Iterator[bytes]:
    """The stream's lines; a broken compressed stream raises CorpusFormatError naming the file and the line reached.

    `corpus.on_bad_bytes` cannot help here: past a broken block nothing more can be decompressed.
    """
    number = 0
    try:
        for number, data in enumerate(stream, start=1):  # noqa: B007 (the count names the line in the error)
            yield data
    except (EOFError, OSError, zlib.error) as err:
        if compression is None:
            raise
        raise CorpusFormatError(
            f"{path}:{number + 1}: the {compression} stream is broken after line {number} ({type(err).__name__}: "
            f"{err}); expected a complete {compression} file: compress it again or leave it out of "
            "corpus.input_pattern (corpus.on_bad_bytes does not apply to a broken compressed stream)"
        ) from None


def _first_content_line(lines: Iterator[tuple[int, str]]) -> tuple[int, str] | None:
    for number, line in lines:
        if line.strip():
            return number, line
    return None


def _chain(head: list[tuple[int, str]], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield from head
    yield from rest


def _paragraphs_to_document(doc_id: str, title: str, source: str, paragraphs: list[str]) -> Document:
    sentences: list[str] = []
    for paragraph in paragraphs:
        cleaned = clean_text(paragraph)
        if cleaned:
            sentences.extend(split_sentences(cleaned))
    return Document(doc_id=doc_id, title=title, source=source, sentences=tuple(sentences))


def _read_wikiextractor(path: str, lines: Iterator[tuple[int, str]]) -> Iterator[Document]:
    open_at: int | None = None
    attrs: dict[str, str] = {}
    body: list[str] = []
    for number, line in lines:
        stripped = line.strip()
        opening = _DOC_OPEN.match(stripped)
        if opening:
            if open_at is not None:
                raise CorpusFormatError(
                    f"{path}:{number}: <doc> opened while the document opened at line {open_at} is "
                    f"still open; expected </doc> first"
                )
            open_at, attrs, body = number, dict(_ATTR.findall(opening.group("attrs"))), []
        elif stripped == _DOC_CLOSE:
            if open_at is None:
                raise CorpusFormatError(f"{path}:{number}: </doc> without an open <doc>")
            title = attrs.get("title", "")
            # WikiExtractor repeats the title as the first line of the body.
            if body and title and body[0].strip() == title:
                body = body[1:]
            doc_id = attrs.get("id") or f"{os.path.basename(path)}:{open_at}"
            yield _paragraphs_to_document(doc_id, title, path, body)
            open_at = None
        elif open_at is None:
            if stripped:
                raise CorpusFormatError(
                    f"{path}:{number}: text outside a <doc> element; expected <doc ...> or a blank line"
                )
        else:
            body.append(line)
    if open_at is not None:
        raise CorpusFormatError(
            f"{path}: the document opened at line {open_at} has no </doc> before the end of the file"
        )


def _read_json_lines(path: str, lines: Iterator[tuple[int, str]]) -> Iterator[Document]:
    name = os.path.basename(path)
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusFormatError(
                f"{path}:{number}: not valid JSON ({err.msg} at column {err.colno}); expected one JSON object "
                'per line, such as {"text": "..."}'
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusFormatError(f'{path}:{number}: expected a JSON object with a "text" string')
        doc_id = str(record.get("id") or f"{name}:{number}")
        title = str(record.get("title") or "")
        yield _paragraphs_to_document(doc_id, title, path, record["text"].split("\n"))


def _read_plain(path: str, lines: Iterator[tuple[int, str]]) -> Iterator[Document]:
    name = os.path.basename(path)
    body: list[str] = []
    start = 0
    for number, line in lines:
        if line.strip():
            if not body:
                start = number
            body.append(line)
        elif body:
            yield _paragraphs_to_document(f"{name}:{start}", "", path, body)
            body = []
    if body:
        yield _paragraphs_to_document(f"{name}:{start}", "", path, body)


class _Prepend(io.RawIOBase):
    """A raw stream that yields `head` then the rest of `stream` (to sniff magic bytes without seeking)."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self._head, self._stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
