"""TFMA configuration that gates a fine-tuned GLUE model on the task's official metrics (the Evaluator's blessing)."""

from __future__ import annotations

import json

from tensorflow_model_analysis.proto import config_pb2

from configs.glue_tasks import GlueTask
from configs.run_config import GlueConfig
from models import features
from models.glue import tfma_metrics as tfma_glue_metrics


def _glue_metric(task: GlueTask, metric: str, threshold: config_pb2.MetricThreshold, over_constant: bool = False):
    return config_pb2.MetricConfig(
        class_name=tfma_glue_metrics.CLASS_NAME,
        module=tfma_glue_metrics.__name__,
        config=json.dumps({"metric": metric, "task": task.name, "over_constant": over_constant}),
        threshold=threshold,
    )


def _at_least(value: float) -> config_pb2.GenericValueThreshold:
    return config_pb2.GenericValueThreshold(lower_bound={"value": value})


def _no_worse_than_baseline(max_drop: float) -> config_pb2.GenericChangeThreshold:
    return config_pb2.GenericChangeThreshold(
        direction=config_pb2.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_drop}
    )


def glue_eval_config(task: GlueTask, glue: GlueConfig) -> config_pb2.EvalConfig:
    """Every official metric of `task` must reach its bound and drop no more than `glue.max_drop` below the
    baseline.

    A metric's bound is `glue.bounds[task][metric]` where given; otherwise the metric must beat the best constant
    predictor's score on the same dev set by `glue.constant_margin` (gated as `<metric>_over_constant`). The
    baseline is the task's last blessed model; on the first run there is none and only the bounds apply.
    """
    bounds, constant_margin, max_drop = glue.bounds.get(task.name, {}), glue.constant_margin, glue.max_drop
    metrics = [config_pb2.MetricConfig(class_name="ExampleCount")]
    for metric in task.metrics:
        if metric in bounds:
            threshold = config_pb2.MetricThreshold(
                value_threshold=_at_least(bounds[metric]), change_threshold=_no_worse_than_baseline(max_drop)
            )
            metrics.append(_glue_metric(task, metric, threshold))
        else:
            metrics.append(
                _glue_metric(
                    task, metric, config_pb2.MetricThreshold(change_threshold=_no_worse_than_baseline(max_drop))
                )
            )
            over_constant = config_pb2.MetricThreshold(value_threshold=_at_least(constant_margin))
            metrics.append(_glue_metric(task, metric, over_constant, over_constant=True))
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
