"""GLUE's official metrics, the best constant predictor's score on each, and the GLUE score.

NumPy only (no TensorFlow): fine-tuning, the Evaluator's TFMA metrics (`models.glue.tfma_metrics`) and
the GLUE report all compute through these functions, so a number means the same everywhere.
Definitions follow the GLUE benchmark's scorer: F1 of class 1, Matthews correlation of class ids,
Pearson and Spearman correlation of scores. A correlation with a constant is undefined; like a model
that knows nothing it counts as 0.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from configs import glue_tasks
from configs.glue_tasks import GlueTask


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Share of class ids predicted right."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    return float(np.mean(labels == predictions)) if len(labels) else 0.0


def f1(labels: np.ndarray, predictions: np.ndarray) -> float:
    """F1 of class 1 (MRPC's "paraphrase", QQP's "duplicate")."""
    labels, predictions = np.asarray(labels) == 1, np.asarray(predictions) == 1
    true_positives = float(np.sum(labels & predictions))
    denominator = float(np.sum(labels) + np.sum(predictions))
    return 2 * true_positives / denominator if denominator else 0.0


def matthews_corr(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Matthews correlation coefficient of two-class predictions (CoLA); 0 where it is undefined."""
    labels, predictions = np.asarray(labels) == 1, np.asarray(predictions) == 1
    tp = float(np.sum(labels & predictions))
    tn = float(np.sum(~labels & ~predictions))
    fp = float(np.sum(~labels & predictions))
    fn = float(np.sum(labels & ~predictions))
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return float((tp * tn - fp * fn) / denominator) if denominator else 0.0


def pearson(labels: np.ndarray, scores: np.ndarray) -> float:
    """Pearson correlation of scores with labels (STS-B); 0 where either is constant."""
    labels, scores = np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if len(labels) < 2 or np.std(labels) == 0 or np.std(scores) == 0:
        return 0.0
    return float(np.corrcoef(labels, scores)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    unique, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique))
    return (sums / counts)[inverse]


def spearman(labels: np.ndarray, scores: np.ndarray) -> float:
    """Spearman rank correlation (Pearson of average ranks) of scores with labels; 0 where either is constant."""
    if len(labels) < 2:
        return 0.0
    return pearson(_ranks(labels), _ranks(scores))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    glue_tasks.ACCURACY: accuracy,
    glue_tasks.F1: f1,
    glue_tasks.MATTHEWS_CORR: matthews_corr,
    glue_tasks.PEARSON: pearson,
    glue_tasks.SPEARMAN: spearman,
}


def constant_score(metric: str, labels: np.ndarray) -> float:
    """The best score a model that gives every example the same answer gets on `labels`.

    Accuracy: the majority class's share. F1: answering class 1 everywhere, 2p / (1 + p) for a share p
    of class 1. Matthews, Pearson and Spearman: 0 (a constant correlates with nothing).
    """
    labels = np.asarray(labels)
    if not len(labels):
        return 0.0
    if metric == glue_tasks.ACCURACY:
        return float(np.max(np.unique(labels, return_counts=True)[1]) / len(labels))
    if metric == glue_tasks.F1:
        share = float(np.mean(labels == 1))
        return 2 * share / (1 + share)
    if metric in METRICS:
        return 0.0
    raise ValueError(f"unknown GLUE metric {metric!r}; known: {', '.join(METRICS)}")


def predicted(task: GlueTask, outputs: np.ndarray) -> np.ndarray:
    """The model's answers from its head's outputs: class ids (argmax) or scores."""
    outputs = np.asarray(outputs)
    if task.is_regression:
        return outputs.reshape(-1)
    return np.argmax(outputs, axis=-1)


def evaluate(task: GlueTask, labels: np.ndarray, answers: np.ndarray) -> dict[str, float]:
    """The task's official metrics of `answers` (class ids or scores) against `labels`."""
    return {metric: METRICS[metric](labels, answers) for metric in task.metrics}


def constant_baseline(task: GlueTask, labels: np.ndarray) -> dict[str, float]:
    """Per official metric, the best constant predictor's score on `labels`."""
    return {metric: constant_score(metric, labels) for metric in task.metrics}


def task_score(metrics: Mapping[str, float]) -> float:
    """One number per task: the unweighted mean of its official metrics, as the GLUE leaderboard does."""
    return float(np.mean(list(metrics.values())))


def glue_score(task_scores: Mapping[str, float]) -> float:
    """The GLUE score: the mean of the task scores (MNLI's is its matched and mismatched accuracy averaged)."""
    return float(np.mean(list(task_scores.values()))) if task_scores else float("nan")


@dataclasses.dataclass(frozen=True)
class Evidence:
    """How sure the dev set makes us that a model beats the best constant predictor on one metric.

    Attributes:
        margin: the metric minus the best constant predictor's score, on the dev set itself.
        lower: the one-sided lower confidence bound of that margin at `confidence` (bootstrap over dev examples):
            what the gate compares with `glue.constant_margin`.
        upper: the bound at `confidence` from above; [lower, upper] is a `2 * confidence - 1` interval.
        confidence: the one-sided level, e.g. 0.95.
        samples: bootstrap resamples drawn.
    """

    margin: float
    lower: float
    upper: float
    confidence: float
    samples: int


def evidence_over_constant(
    metric: str, labels: np.ndarray, answers: np.ndarray, confidence: float, samples: int, seed: int = 0
) -> Evidence:
    """The margin of `answers` over the best constant predictor on `metric`, with its bootstrap bounds.

    Each resample draws as many dev examples as there are, with replacement (seeded: the same data gives the same
    bounds); on each the model's score and the constant predictor's score are recomputed, so a model that answers
    the same for every example has a margin of 0 on every resample and its lower bound is 0, never more. With 872
    SST-2 dev examples the standard error of accuracy is about 1.7 points: a model 1 point above the majority
    class is no evidence of anything.
    """
    # In a canonical order, so that the bounds depend on the (label, answer) pairs only, not on the order in which
    # fine-tuning or the Evaluator's Beam pipeline collected them.
    order = np.lexsort((np.asarray(answers), np.asarray(labels)))
    labels, answers = np.asarray(labels)[order], np.asarray(answers)[order]
    score = METRICS[metric]
    margin = score(labels, answers) - constant_score(metric, labels)
    rng = np.random.default_rng(seed)
    margins = np.empty(samples)
    for index in range(samples):
        drawn = rng.integers(0, len(labels), len(labels))
        margins[index] = score(labels[drawn], answers[drawn]) - constant_score(metric, labels[drawn])
    lower, upper = np.quantile(margins, [1 - confidence, confidence])
    return Evidence(float(margin), float(lower), float(upper), confidence, samples)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum of one metric over several fine-tuning runs."""
    return {"median": float(statistics.median(values)), "min": float(min(values)), "max": float(max(values))}
