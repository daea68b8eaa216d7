"""Parses GLUE TSV files into labelled sentence (pair) records, with no TFX dependency."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterator
from typing import BinaryIO

from configs.glue_tasks import GlueTask


class GlueFormatError(ValueError):
    """A GLUE TSV row does not match its task's layout; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class GlueRecord:
    """One labelled example: `label` is the class id, `idx` the data row's 0-based index."""

    idx: int
    sentence1: str
    sentence2: str
    label: int


def read_tsv(path: str, task: GlueTask, opener: Callable[[str], BinaryIO] | None = None) -> Iterator[GlueRecord]:
    """Yields the records of one GLUE TSV file (train.tsv or dev.tsv) of `task`.

    GLUE files are tab-separated with no quoting (quotes are part of the text), as the
    original BERT readers treat them. A task with a header must start with exactly that header (a
    UTF-8 byte order mark before it, as MRPC's download has, is allowed); every data row must have
    exactly the task's columns (a tab inside a sentence would shift the columns after it).

    Raises:
        GlueFormatError: naming the file and line, for a missing or unexpected header, a row with
            too many or too few columns, an unknown label or invalid UTF-8.
    """
    opener = opener or (lambda p: open(p, "rb"))
    with opener(path) as raw:
        data = raw.read()  # GLUE files are a few MB at most
    rows = csv.reader(_decoded_lines(path, data), delimiter="\t", quoting=csv.QUOTE_NONE)
    for line, row in enumerate(rows, 1):
        if line == 1:
            if row:
                row[0] = row[0].removeprefix(_BYTE_ORDER_MARK)
            if task.has_header:
                _check_header(path, row, task)
                continue
        if not row or row == [""]:
            continue
        yield _record(path, line, row, task, line - 1 - int(task.has_header))


_BYTE_ORDER_MARK = "\ufeff"


def _check_header(path: str, row: list[str], task: GlueTask) -> None:
    if tuple(row) == task.header:
        return
    expected, found = "\t".join(task.header), "\t".join(row)
    if len(row) == task.num_columns and row[task.label_column].strip() in task.labels:
        raise GlueFormatError(f"{path}:1: a data row where the header {expected!r} of {task.name} was expected")
    raise GlueFormatError(f"{path}:1: header {found!r}; {task.name} files start with {expected!r}")


def _decoded_lines(path: str, data: bytes) -> Iterator[str]:
    for line, raw_line in enumerate(data.splitlines(), start=1):
        try:
            yield raw_line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise GlueFormatError(f"{path}:{line}: invalid UTF-8 at byte {err.start}; expected UTF-8 text") from None


def _record(path: str, line: int, row: list[str], task: GlueTask, idx: int) -> GlueRecord:
    if len(row) != task.num_columns:
        raise GlueFormatError(
            f"{path}:{line}: {len(row)} tab-separated columns; {task.name} rows have exactly {task.num_columns}"
            + (" (a tab inside a sentence?)" if len(row) > task.num_columns else "")
        )
    label = row[task.label_column].strip()
    if label not in task.labels:
        looks_like_header = line == 1 and not task.has_header
        raise GlueFormatError(
            f"{path}:{line}: label {label!r} in column {task.label_column + 1}; "
            f"{task.name} labels are {', '.join(task.labels)}"
            + (f" ({task.name} files have no header row)" if looks_like_header else "")
        )
    sentence2 = row[task.sentence2_column] if task.sentence2_column is not None else ""
    return GlueRecord(
        idx=idx, sentence1=row[task.sentence1_column], sentence2=sentence2, label=task.labels.index(label)
    )
