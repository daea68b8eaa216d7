"""The report's pictures (PNG, drawn with matplotlib's Agg backend): pre-training curves and the GLUE chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib import pyplot  # noqa: E402

from models.glue import metrics as glue_metrics  # noqa: E402

# Pre-training curves: (title, train metric, validation metric).
CURVES = (
    ("loss", "loss", "val_loss"),
    ("masked-LM accuracy", "masked_lm_accuracy", "val_masked_lm_accuracy"),
    # Only for an objective with the next-sentence task (a history without it draws no panel).
    ("next-sentence accuracy", "next_sentence_accuracy", "val_next_sentence_accuracy"),
    ("perplexity", "perplexity", "val_perplexity"),
    ("learning rate", "learning_rate", None),
    ("sequences per second", "sequences_per_second", None),
)


def draw_curves(history: dict[str, list[float]], path: Path) -> Path | None:
    """The pre-training curves (one panel per metric the history has) as a PNG; None when it has none."""
    panels = [c for c in CURVES if history.get(c[1])]
    if not panels:
        return None
    figure, axes = pyplot.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.0), squeeze=False)
    # The optimizer step at the end of each logging period (histories written before it was logged: the period).
    steps = history.get("step") or list(range(1, len(history[panels[0][1]]) + 1))
    for axis, (title, train_key, val_key) in zip(axes[0], panels, strict=True):
        values = history[train_key]
        axis.plot(steps[: len(values)], values, marker=".", label="train")
        if val_key and history.get(val_key):
            val = history[val_key]
            axis.plot(steps[: len(val)], val, marker=".", label="eval")
            axis.legend(fontsize=8)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("optimizer step" if history.get("step") else "logging period", fontsize=8)
        axis.tick_params(labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def draw_glue_chart(report: dict[str, Any], path: Path, title: str) -> Path | None:
    """A bar per task of a GLUE report (`inspection.glue_report.build`): the kept model's task score, the median
    over trials, the constant baseline; None when no task has a score."""
    entries = [e for e in report["tasks"] if "score" in e]
    if not entries:
        return None
    names = [e["task"] for e in entries]
    kept = [100 * e["score"] for e in entries]
    medians = [100 * glue_metrics.task_score({m: s["median"] for m, s in e["spread"].items()}) for e in entries]
    constant = [100 * glue_metrics.task_score(e["constant_baseline"]) for e in entries]
    x = np.arange(len(names))
    figure, axis = pyplot.subplots(figsize=(max(5, 1.2 * len(names)), 3.5))
    axis.bar(x - 0.27, kept, 0.27, label="kept model (best on dev)")
    axis.bar(x, medians, 0.27, label="median over trials")
    axis.bar(x + 0.27, constant, 0.27, label="constant baseline", color="#bbbbbb")
    axis.set_xticks(x, names)
    axis.set_ylabel("task score (%)")
    axis.set_title(title)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
