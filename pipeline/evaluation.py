"""TFMA configuration that gates a fine-tuned GLUE model (the Evaluator's blessing)."""

from __future__ import annotations

from tensorflow_model_analysis.proto import config_pb2

from configs.glue_tasks import GlueTask
from models import features

ACCURACY_METRIC = "binary_accuracy"


def _lower_bound(value: float, max_drop: float) -> config_pb2.MetricThreshold:
    """At least `value`, and at most `max_drop` below the baseline's figure."""
    return config_pb2.MetricThreshold(
        value_threshold=config_pb2.GenericValueThreshold(lower_bound={"value": value}),
        change_threshold=config_pb2.GenericChangeThreshold(
            direction=config_pb2.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -max_drop},
        ),
    )


def glue_eval_config(
    task: GlueTask, min_accuracy: float, max_accuracy_drop: float, min_f1: float | None = None
) -> config_pb2.EvalConfig:
    """Accuracy (and F1 where `min_f1` is given) must reach its bound and drop no more than
    `max_accuracy_drop` below the baseline.

    The baseline is the last blessed model of the same task; on the first run there is none and
    only the absolute bounds apply. Also reported: example count, AUC, F1 and, for CoLA, the
    Matthews correlation (the task's official metric).
    """
    f1 = config_pb2.MetricConfig(class_name="F1Score")
    if min_f1 is not None:
        f1.threshold.CopyFrom(_lower_bound(min_f1, max_accuracy_drop))
    metrics = [
        config_pb2.MetricConfig(class_name="ExampleCount"),
        config_pb2.MetricConfig(class_name="BinaryAccuracy", threshold=_lower_bound(min_accuracy, max_accuracy_drop)),
        config_pb2.MetricConfig(class_name="AUC"),
        f1,
    ]
    if task.name == "cola":
        metrics.append(config_pb2.MetricConfig(class_name="MatthewsCorrelationCoefficient"))
    return config_pb2.EvalConfig(
        model_specs=[
            config_pb2.ModelSpec(
                signature_name="serving_default",
                label_key=features.GLUE_LABEL,
                prediction_key=features.POSITIVE_PROBABILITY,
            )
        ],
        slicing_specs=[config_pb2.SlicingSpec()],
        metrics_specs=[config_pb2.MetricsSpec(metrics=metrics)],
    )
