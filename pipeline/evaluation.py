"""TFMA configuration that gates a fine-tuned GLUE model (the Evaluator's blessing)."""

from __future__ import annotations

from tensorflow_model_analysis.proto import config_pb2

from models import features
from models.glue_tasks import GlueTask

ACCURACY_METRIC = "binary_accuracy"


def glue_eval_config(task: GlueTask, min_accuracy: float, max_accuracy_drop: float) -> config_pb2.EvalConfig:
    """Accuracy must reach `min_accuracy` and be no more than `max_accuracy_drop` below the baseline.

    The baseline is the last blessed model of the same task; on the first run there is none and
    only the absolute bound applies. Also reported: example count, AUC, F1 and, for CoLA, the
    Matthews correlation (the task's official metric).
    """
    accuracy_threshold = config_pb2.MetricThreshold(
        value_threshold=config_pb2.GenericValueThreshold(lower_bound={"value": min_accuracy}),
        change_threshold=config_pb2.GenericChangeThreshold(
            direction=config_pb2.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -max_accuracy_drop},
        ),
    )
    metrics = [
        config_pb2.MetricConfig(class_name="ExampleCount"),
        config_pb2.MetricConfig(class_name="BinaryAccuracy", threshold=accuracy_threshold),
        config_pb2.MetricConfig(class_name="AUC"),
        config_pb2.MetricConfig(class_name="F1Score"),
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
