"""GLUE task definitions: where each task's TSV columns are and what its labels mean.

Part of the configuration package (no TensorFlow import): the config validation, GlueExampleGen,
GlueFineTune and the Evaluator config all read it.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """One GLUE classification task.

    Attributes:
        name: short name used in configs and component ids (`sst2`).
        directory: folder of the task under the GLUE data root (`SST-2`).
        header: the column names of the header row train.tsv and dev.tsv start with, as the standard GLUE
            download writes it; empty for a task whose files have no header (CoLA).
        sentence1_column: column of the first sentence.
        sentence2_column: column of the second sentence, or None for single-sentence tasks.
        label_column: column of the label.
        labels: label strings in class-id order; the TSV's label must be one of them.
        num_columns: columns every data row has.
    """

    name: str
    directory: str
    header: tuple[str, ...]
    sentence1_column: int
    sentence2_column: int | None
    label_column: int
    labels: tuple[str, ...]
    num_columns: int

    @property
    def has_header(self) -> bool:
        return bool(self.header)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def is_pair(self) -> bool:
        return self.sentence2_column is not None


_NLI_HEADER = ("index", "sentence1", "sentence2", "label")

TASKS: dict[str, GlueTask] = {
    task.name: task
    for task in (
        GlueTask("cola", "CoLA", (), 3, None, 1, ("0", "1"), 4),
        GlueTask("sst2", "SST-2", ("sentence", "label"), 0, None, 1, ("0", "1"), 2),
        GlueTask("mrpc", "MRPC", ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"), 3, 4, 0, ("0", "1"), 5),
        GlueTask("rte", "RTE", _NLI_HEADER, 1, 2, 3, ("not_entailment", "entailment"), 4),
        GlueTask("wnli", "WNLI", _NLI_HEADER, 1, 2, 3, ("0", "1"), 4),
    )
}

TRAIN_FILE = "train.tsv"
DEV_FILE = "dev.tsv"


def get_task(name: str) -> GlueTask:
    """The task called `name`; raises ValueError naming the known tasks."""
    if name not in TASKS:
        raise ValueError(f"unknown GLUE task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]
