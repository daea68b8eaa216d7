"""GLUE task definitions: the files of each task, their columns, labels and official metrics.

Part of the configuration package (no TensorFlow import): the config validation, GlueExampleGen,
GlueFineTune, the Evaluator config and the GLUE report all read it. Files are laid out as the standard
GLUE download writes them (`SST-2/train.tsv`, `MNLI/dev_matched.tsv`, `diagnostic/diagnostic.tsv`, ...).
Columns are found by their header names, so MNLI's train (12 columns) and dev (16 columns) files both
read; CoLA's train and dev files have no header and name their columns here.
"""

from __future__ import annotations

import dataclasses

# Official metric names (computed by `models.glue.metrics`).
ACCURACY = "accuracy"
F1 = "f1"
MATTHEWS_CORR = "matthews_corr"
PEARSON = "pearson"
SPEARMAN = "spearman"
# What each metric can take: accuracy and F1 in [0, 1], the correlations in [-1, 1].
METRIC_RANGES = {
    ACCURACY: (0.0, 1.0),
    F1: (0.0, 1.0),
    MATTHEWS_CORR: (-1.0, 1.0),
    PEARSON: (-1.0, 1.0),
    SPEARMAN: (-1.0, 1.0),
}

TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"


@dataclasses.dataclass(frozen=True)
class GlueFile:
    """One file of a task and the example split it becomes.

    Attributes:
        split: the split name in GlueExampleGen's output (`train`, `eval`, `eval_mismatched`, `test`, ...).
        path: the file, relative to the GLUE data root.
        labelled: train and dev files have labels; test files have an id column instead.
        required: a missing required file fails the run; a missing optional one (test sets, MNLI's
            mismatched dev set) leaves its split empty.
        submission_name: for a test file, the name of its predictions file in a leaderboard submission.
        display_name: how the report names the metrics of an extra dev split (`mnli-mm`).
    """

    split: str
    path: str
    labelled: bool = True
    required: bool = True
    submission_name: str = ""
    display_name: str = ""


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """One GLUE task.

    Attributes:
        name: short name used in configs and component ids (`sst2`).
        directory: folder of the task under the GLUE data root (`SST-2`).
        sentence1: header name of the first sentence's column.
        sentence2: header name of the second sentence's column, or None for single-sentence tasks.
        label: header name of the label column in train and dev files.
        labels: label strings in class-id order; empty for a regression task (STS-B), whose labels are
            numbers in `label_range`.
        metrics: the task's official metrics, in the order the leaderboard shows them.
        files: the task's files; the first is `train`, the second `eval` (the dev set the gate reads).
        id_column: header name of the id column in test files (what a submission is keyed by).
        headerless_columns: column names of train and dev files that have no header row (CoLA's).
        label_range: the smallest and largest label of a regression task.
    """

    name: str
    directory: str
    sentence1: str
    sentence2: str | None
    label: str
    labels: tuple[str, ...]
    metrics: tuple[str, ...]
    files: tuple[GlueFile, ...]
    id_column: str = "index"
    headerless_columns: tuple[str, ...] = ()
    label_range: tuple[float, float] = (0.0, 0.0)

    @property
    def is_regression(self) -> bool:
        return not self.labels

    @property
    def num_outputs(self) -> int:
        """Outputs of the task head: one per class, or one score."""
        return len(self.labels) or 1

    @property
    def is_pair(self) -> bool:
        return self.sentence2 is not None

    @property
    def dev_files(self) -> tuple[GlueFile, ...]:
        """The labelled files other than train: the gated `eval` split first."""
        return tuple(f for f in self.files if f.labelled and f.split != TRAIN_SPLIT)

    @property
    def test_files(self) -> tuple[GlueFile, ...]:
        return tuple(f for f in self.files if not f.labelled)

    def file(self, split: str) -> GlueFile:
        for glue_file in self.files:
            if glue_file.split == split:
                return glue_file
        raise KeyError(f"{self.name} has no split {split!r}")


def _standard_files(directory: str, submission_name: str) -> tuple[GlueFile, ...]:
    """train.tsv, dev.tsv and (optional) test.tsv in the task's folder."""
    return (
        GlueFile(TRAIN_SPLIT, f"{directory}/train.tsv"),
        GlueFile(EVAL_SPLIT, f"{directory}/dev.tsv"),
        GlueFile("test", f"{directory}/test.tsv", labelled=False, required=False, submission_name=submission_name),
    )


_NLI = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"}

TASKS: dict[str, GlueTask] = {
    task.name: task
    for task in (
        GlueTask(
            "cola",
            "CoLA",
            "sentence",
            None,
            "label",
            ("0", "1"),
            (MATTHEWS_CORR,),
            _standard_files("CoLA", "CoLA.tsv"),
            headerless_columns=("source", "label", "original_label", "sentence"),
        ),
        GlueTask(
            "sst2", "SST-2", "sentence", None, "label", ("0", "1"), (ACCURACY,), _standard_files("SST-2", "SST-2.tsv")
        ),
        GlueTask(
            "mrpc",
            "MRPC",
            "#1 String",
            "#2 String",
            "Quality",
            ("0", "1"),
            (F1, ACCURACY),
            _standard_files("MRPC", "MRPC.tsv"),
        ),
        GlueTask(
            "stsb",
            "STS-B",
            "sentence1",
            "sentence2",
            "score",
            (),
            (PEARSON, SPEARMAN),
            _standard_files("STS-B", "STS-B.tsv"),
            label_range=(0.0, 5.0),
        ),
        GlueTask(
            "qqp",
            "QQP",
            "question1",
            "question2",
            "is_duplicate",
            ("0", "1"),
            (F1, ACCURACY),
            _standard_files("QQP", "QQP.tsv"),
            id_column="id",
        ),
        GlueTask(
            "mnli",
            "MNLI",
            **_NLI | {"label": "gold_label"},
            labels=("contradiction", "entailment", "neutral"),
            metrics=(ACCURACY,),
            files=(
                GlueFile(TRAIN_SPLIT, "MNLI/train.tsv"),
                GlueFile(EVAL_SPLIT, "MNLI/dev_matched.tsv", display_name="mnli-m"),
                GlueFile("eval_mismatched", "MNLI/dev_mismatched.tsv", required=False, display_name="mnli-mm"),
                GlueFile("test", "MNLI/test_matched.tsv", labelled=False, required=False, submission_name="MNLI-m.tsv"),
                GlueFile(
                    "test_mismatched",
                    "MNLI/test_mismatched.tsv",
                    labelled=False,
                    required=False,
                    submission_name="MNLI-mm.tsv",
                ),
                # The diagnostic set AX is predicted with the MNLI model.
                GlueFile(
                    "test_ax", "diagnostic/diagnostic.tsv", labelled=False, required=False, submission_name="AX.tsv"
                ),
            ),
        ),
        GlueTask(
            "qnli",
            "QNLI",
            "question",
            "sentence",
            "label",
            ("entailment", "not_entailment"),
            (ACCURACY,),
            _standard_files("QNLI", "QNLI.tsv"),
        ),
        GlueTask(
            "rte",
            "RTE",
            **_NLI,
            labels=("not_entailment", "entailment"),
            metrics=(ACCURACY,),
            files=_standard_files("RTE", "RTE.tsv"),
        ),
        GlueTask(
            "wnli", "WNLI", **_NLI, labels=("0", "1"), metrics=(ACCURACY,), files=_standard_files("WNLI", "WNLI.tsv")
        ),
    )
}


def get_task(name: str) -> GlueTask:
    """The task called `name`; raises ValueError naming the known tasks."""
    if name not in TASKS:
        raise ValueError(f"unknown GLUE task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]
