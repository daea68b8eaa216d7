"""Parses GLUE TSV files into sentence (pair) records, labelled or not, with no TFX dependency."""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import BinaryIO

from configs.glue_tasks import GlueTask


class GlueFormatError(ValueError):
    """A GLUE TSV row does not match its task's layout; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class GlueRecord:
    """One example.

    Attributes:
        idx: the data row's 0-based index in a train or dev file; the id column's value in a test file
            (what a submission is keyed by).
        label: the class id, the score of a regression task, or None in a test file.
    """

    idx: int
    sentence1: str
    sentence2: str
    label: int | float | None


def read_tsv(
    path: str,
    task: GlueTask,
    labelled: bool = True,
    opener: Callable[[str], BinaryIO] | None = None,
    required: bool = False,
) -> Iterator[GlueRecord]:
    """Yields the records of one GLUE TSV file of `task`: a train or dev file, or a test file (`labelled=False`).

    GLUE files are tab-separated with no quoting (quotes are part of the text), as the original BERT
    readers treat them. Columns are found by the names in the file's header row (a UTF-8 byte order
    mark before it, as MRPC's download has, is allowed); CoLA's train and dev files have no header and
    use the task's `headerless_columns`. Every data row must have exactly as many columns as the header
    (a tab inside a sentence would shift the columns after it).

    Raises:
        GlueFormatError: naming the file and line, for a missing header or one without the task's
            columns, a row with too many or too few columns, an unknown label, a score out of range,
            a test row whose id is not an integer, or invalid UTF-8; and naming the file, for a `required`
            one (a train or dev file) without a data row.
    """
    opener = opener or (lambda p: open(p, "rb"))
    with opener(path) as raw:
        data = raw.read()  # GLUE files are a few hundred MB at most (QQP, MNLI train)
    rows = csv.reader(_decoded_lines(path, data), delimiter="\t", quoting=csv.QUOTE_NONE)
    layout = _Layout(path, task, labelled)
    for line, row in enumerate(rows, 1):
        if line == 1:
            if row:
                row[0] = row[0].removeprefix(_BYTE_ORDER_MARK)
            if layout.read_header(row):
                continue
        if not row or row == [""]:
            continue
        yield layout.record(line, row)
    if required and layout.data_rows == 0:
        what = "only a header" if layout.columns and not layout.headerless else "nothing"
        raise GlueFormatError(
            f"{path}: the file holds {what}, no data row; {task.name} needs examples in it to train or to be gated"
        )


_BYTE_ORDER_MARK = "\ufeff"


class _Layout:
    """Which column holds what in one file, learnt from its header (or the task's headerless columns)."""

    def __init__(self, path: str, task: GlueTask, labelled: bool):
        self.path, self.task, self.labelled = path, task, labelled
        self.headerless = labelled and bool(task.headerless_columns)
        self.columns: tuple[str, ...] = task.headerless_columns if self.headerless else ()
        self.data_rows = 0
        wanted = [task.sentence1] + ([task.sentence2] if task.sentence2 else [])
        self.wanted = wanted + ([task.label] if labelled else [task.id_column])

    def read_header(self, row: list[str]) -> bool:
        """Takes the first row as the header where the file has one; False when it is a data row."""
        if self.headerless:
            return False
        missing = [name for name in self.wanted if name not in row]
        if missing:
            kind = "train/dev" if self.labelled else "test"
            expected = ", ".join(repr(name) for name in self.wanted)
            found = "a data row" if self._looks_like_data(row) else "header " + repr("\t".join(row))
            raise GlueFormatError(
                f"{self.path}:1: {found} where a header was expected; {self.task.name} {kind} files start with "
                f"a header naming the columns {expected} (missing: {', '.join(missing)})"
            )
        self.columns = tuple(row)
        return True

    def _looks_like_data(self, row: list[str]) -> bool:
        """A first row holding a label or a sentence-long cell is data, not a header."""
        return any(cell.strip() in self.task.labels or len(cell) > 40 for cell in row)

    def record(self, line: int, row: list[str]) -> GlueRecord:
        task = self.task
        if len(row) != len(self.columns):
            raise GlueFormatError(
                f"{self.path}:{line}: {len(row)} tab-separated columns; {task.name} rows of this file have exactly "
                f"{len(self.columns)}" + (" (a tab inside a sentence?)" if len(row) > len(self.columns) else "")
            )
        cell = dict(zip(self.columns, row, strict=True))
        sentence2 = cell[task.sentence2] if task.sentence2 else ""
        self.data_rows += 1
        if not self.labelled:
            return GlueRecord(self._id(line, cell[task.id_column]), cell[task.sentence1], sentence2, None)
        label = self._label(line, cell[task.label].strip())
        return GlueRecord(self.data_rows - 1, cell[task.sentence1], sentence2, label)

    def _id(self, line: int, value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise GlueFormatError(
                f"{self.path}:{line}: id {value!r} in column {self.task.id_column!r}; expected an integer"
            ) from None

    def _label(self, line: int, value: str) -> int | float:
        task = self.task
        column = self.columns.index(task.label) + 1
        if task.is_regression:
            low, high = task.label_range
            try:
                score = float(value)
            except ValueError:
                score = math.nan
            if not low <= score <= high:
                raise GlueFormatError(
                    f"{self.path}:{line}: score {value!r} in column {column}; {task.name} scores are numbers "
                    f"from {low:g} to {high:g}"
                )
            return score
        if value not in task.labels:
            looks_like_header = line == 1 and self.headerless
            raise GlueFormatError(
                f"{self.path}:{line}: label {value!r} in column {column}; {task.name} labels are "
                f"{', '.join(task.labels)}" + (f" ({task.name} files have no header row)" if looks_like_header else "")
            )
        return task.labels.index(value)


def _decoded_lines(path: str, data: bytes) -> Iterator[str]:
    for line, raw_line in enumerate(data.splitlines(), start=1):
        try:
            yield raw_line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise GlueFormatError(f"{path}:{line}: invalid UTF-8 at byte {err.start}; expected UTF-8 text") from None
