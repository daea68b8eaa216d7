"""GLUE's official metrics as TFMA metrics, so the Evaluator gates on what the benchmark scores.

`GlueMetric(metric="f1", task="mrpc")` computes one official metric (`models.glue.metrics`) over the
model's answers on the evaluated split: the argmax of its `probabilities` output, or its `score` for
STS-B. With `over_constant=True` it reports the one-sided lower confidence bound (at `confidence`, bootstrap over
the split's examples, seeded) of how far the model's score lies above the best constant predictor's score on the
same examples (majority class; 0 for correlations), which is what every gate bounds: a model that answers the
same for every example can never pass it, and neither can one whose lead is within the dev set's sampling noise.

The Evaluator imports this module by name (`MetricConfig.module`); it needs no TensorFlow.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

from configs import glue_tasks
from models.glue import metrics as glue_metrics

CLASS_NAME = "GlueMetric"
OVER_CONSTANT_SUFFIX = "_over_constant_lower_bound"


def metric_name(metric: str, over_constant: bool = False) -> str:
    """The name a gate's threshold refers to: `f1`, or `f1_over_constant_lower_bound`."""
    return metric + (OVER_CONSTANT_SUFFIX if over_constant else "")


class GlueMetric(metric_types.Metric):
    """One official GLUE metric of one task, or its margin over the best constant predictor.

    Args:
        metric: an official metric name (`accuracy`, `f1`, `matthews_corr`, `pearson`, `spearman`).
        task: the GLUE task (how to read the model's answers).
        over_constant: report the lower confidence bound of the metric minus the best constant predictor's score
            on the same labels (`models.glue.metrics.evidence_over_constant`).
        confidence: the one-sided level of that bound.
        samples: its bootstrap resamples.
        seed: the resamples' seed.
        name: the metric's name in TFMA's results; defaults to `metric_name(metric, over_constant)`.
    """

    def __init__(
        self,
        metric: str,
        task: str,
        over_constant: bool = False,
        confidence: float = 0.95,
        samples: int = 1000,
        seed: int = 0,
        name: str = "",
    ):
        glue_tasks.get_task(task)
        if metric not in glue_metrics.METRICS:
            raise ValueError(f"unknown GLUE metric {metric!r}; known: {', '.join(glue_metrics.METRICS)}")
        super().__init__(
            metric_util.merge_per_key_computations(_computations),
            name=name or metric_name(metric, over_constant),
            metric=metric,
            task=task,
            over_constant=over_constant,
            confidence=confidence,
            samples=samples,
            seed=seed,
        )


def _computations(
    name: str,
    metric: str,
    task: str,
    over_constant: bool,
    confidence: float,
    samples: int,
    seed: int,
    eval_config=None,
    model_name: str = "",
    output_name: str = "",
    example_weighted: bool = False,
    sub_key=None,
) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(
        name=name, model_name=model_name, output_name=output_name, sub_key=sub_key, example_weighted=example_weighted
    )
    evidence = (confidence, samples, seed) if over_constant else None
    combiner = _AnswersCombiner(key, eval_config, model_name, output_name, metric, task, evidence)
    return [metric_types.MetricComputation(keys=[key], preprocessors=None, combiner=combiner)]


class _AnswersCombiner(beam.CombineFn):
    """Collects (label, answer) pairs of the split and scores them at the end (dev sets fit in memory)."""

    def __init__(self, key, eval_config, model_name, output_name, metric, task, evidence):
        self._key, self._eval_config = key, eval_config
        self._model_name, self._output_name = model_name, output_name
        self._metric, self._task_name, self._evidence = metric, task, evidence

    def create_accumulator(self) -> tuple[list[float], list[float]]:
        return [], []

    def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
        task = glue_tasks.get_task(self._task_name)
        for label, prediction, _ in metric_util.to_label_prediction_example_weight(
            element,
            eval_config=self._eval_config,
            model_name=self._model_name,
            output_name=self._output_name,
            flatten=False,
            squeeze=False,
        ):
            labels, predictions = np.asarray(label).reshape(-1), np.asarray(prediction).reshape(-1)
            if task.is_regression:
                accumulator[0].append(float(labels[0]))
                accumulator[1].append(float(predictions[0]))
            else:
                # TFMA turns a class-id label into a one-hot vector where the prediction is a vector.
                accumulator[0].append(int(np.argmax(labels)) if labels.size > 1 else int(labels[0]))
                accumulator[1].append(int(np.argmax(predictions)))
        return accumulator

    def merge_accumulators(self, accumulators):
        labels, answers = [], []
        for accumulator_labels, accumulator_answers in accumulators:
            labels += accumulator_labels
            answers += accumulator_answers
        return labels, answers

    def extract_output(self, accumulator) -> dict[Any, float]:
        labels, answers = np.asarray(accumulator[0]), np.asarray(accumulator[1])
        if self._evidence is None:
            return {self._key: float(glue_metrics.METRICS[self._metric](labels, answers))}
        confidence, samples, seed = self._evidence
        evidence = glue_metrics.evidence_over_constant(self._metric, labels, answers, confidence, samples, seed)
        return {self._key: evidence.lower}


metric_types.register_metric(GlueMetric)
