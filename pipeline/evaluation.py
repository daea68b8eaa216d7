"""TFMA configuration that gates a fine-tuned GLUE model on the task's official metrics (the Evaluator's blessing)."""

from __future__ import annotations

import json

from tensorflow_model_analysis.proto import config_pb2

from configs.glue_tasks import GlueTask
from configs.run_config import GlueConfig
from models import features
from models.glue import tfma_metrics as tfma_glue_metrics


def _glue_metric(
    task: GlueTask, metric: str, threshold: config_pb2.MetricThreshold, glue: GlueConfig, over_constant: bool = False
):
    options = {"metric": metric, "task": task.name, "over_constant": over_constant}
    if over_constant:
        options |= {"confidence": glue.confidence, "samples": glue.bootstrap_samples, "seed": glue.bootstrap_seed}
    return config_pb2.MetricConfig(
        class_name=tfma_glue_metrics.CLASS_NAME,
        module=tfma_glue_metrics.__name__,
        config=json.dumps(options),
        threshold=threshold,
    )


def _at_least(value: float) -> config_pb2.GenericValueThreshold:
    return config_pb2.GenericValueThreshold(lower_bound={"value": value})


def _no_worse_than_baseline(max_drop: float) -> config_pb2.GenericChangeThreshold:
    return config_pb2.GenericChangeThreshold(
        direction=config_pb2.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_drop}
    )


def glue_eval_config(task: GlueTask, glue: GlueConfig) -> config_pb2.EvalConfig:
    """The gate of `task`: every official metric must show evidence of beating the best constant predictor, reach
    its explicit bound if it has one, and drop no more than `glue.max_drop` below the baseline.

    Evidence: the lower confidence bound (at `glue.confidence`, bootstrap over the dev examples) of the metric minus
    the best constant predictor's score on the same dev set must reach `glue.constant_margin` (gated as
    `<metric>_over_constant_lower_bound`). This applies to every metric, explicitly bounded or not: an explicit bound
    below the constant predictor's score (the always-"paraphrase" model scores F1 0.812 on MRPC) adds nothing to it.
    The baseline is the task's last blessed model; on the first run there is none and the other gates apply.
    """
    bounds, max_drop = glue.bounds.get(task.name, {}), glue.max_drop
    metrics = [config_pb2.MetricConfig(class_name="ExampleCount")]
    for metric in task.metrics:
        threshold = config_pb2.MetricThreshold(change_threshold=_no_worse_than_baseline(max_drop))
        if metric in bounds:
            threshold.value_threshold.CopyFrom(_at_least(bounds[metric]))
        metrics.append(_glue_metric(task, metric, threshold, glue))
        evidence = config_pb2.MetricThreshold(value_threshold=_at_least(glue.constant_margin))
        metrics.append(_glue_metric(task, metric, evidence, glue, over_constant=True))
    prediction_key = features.SCORE if task.is_regression else features.PROBABILITIES
    return config_pb2.EvalConfig(
        model_specs=[
            config_pb2.ModelSpec(
                signature_name="serving_default", label_key=features.GLUE_LABEL, prediction_key=prediction_key
            )
        ],
        slicing_specs=[config_pb2.SlicingSpec()],
        metrics_specs=[config_pb2.MetricsSpec(metrics=metrics)],
    )
