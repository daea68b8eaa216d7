"""The Evaluator's gate: official metrics, the constant-predictor bound, and TFMA running it on real models."""

import dataclasses
import json

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

from components.glue_example_gen.executor import record_to_example
from components.glue_example_gen.tsv_reader import read_tsv
from configs.glue_tasks import TASKS
from configs.run_config import GlueConfig
from models import features
from pipeline.evaluation import glue_eval_config
from tests.conftest import DATA_DIR


def glue(**settings) -> GlueConfig:
    """The `glue` section with `settings` changed; max_drop 0.01."""
    return dataclasses.replace(GlueConfig(), max_drop=0.01, **settings)


def gated(config) -> dict[str, tuple[str, float | None]]:
    """{metric name: (its config, its lower bound or None)} of an EvalConfig."""
    result = {}
    for metric in config.metrics_specs[0].metrics:
        options = json.loads(metric.config) if metric.config else {}
        name = options.get("metric", metric.class_name) + ("_over_constant" if options.get("over_constant") else "")
        bound = (
            metric.threshold.value_threshold.lower_bound.value if metric.threshold.HasField("value_threshold") else None
        )
        result[name] = bound
    return result


def test_every_official_metric_is_gated_on_the_constant_margin_unless_bounded_explicitly():
    mrpc = gated(glue_eval_config(TASKS["mrpc"], glue(bounds={"mrpc": {"f1": 0.8}}, constant_margin=0.02)))
    assert mrpc == {"ExampleCount": None, "f1": pytest.approx(0.8), "accuracy": None, "accuracy_over_constant": 0.02}
    stsb = glue_eval_config(TASKS["stsb"], glue(constant_margin=0.05))
    assert gated(stsb) == {
        "ExampleCount": None,
        "pearson": None,
        "pearson_over_constant": 0.05,
        "spearman": None,
        "spearman_over_constant": 0.05,
    }
    assert stsb.model_specs[0].prediction_key == features.SCORE
    assert gated(glue_eval_config(TASKS["cola"], glue()))["matthews_corr_over_constant"] == 0.01


class FixedAnswerModel(tf.Module):
    """Serving signature of a GLUE classifier that answers `answer(label)` for each example."""

    def __init__(self, answer):
        super().__init__()
        self.answer = answer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        labels = tf.io.parse_example(examples, {features.GLUE_LABEL: tf.io.FixedLenFeature([], tf.int64)})
        return {features.PROBABILITIES: tf.one_hot(self.answer(labels[features.GLUE_LABEL]), 2)}


def evaluate(tmp_path, model: FixedAnswerModel, name: str):
    model_dir, output = str(tmp_path / name / "model"), str(tmp_path / name / "eval")
    tf.saved_model.save(model, model_dir, signatures={"serving_default": model.serve})
    records = read_tsv(str(DATA_DIR / "glue" / "MRPC" / "dev.tsv"), TASKS["mrpc"])
    data = str(tmp_path / "dev.tfrecord")
    if not tf.io.gfile.exists(data):
        with tf.io.TFRecordWriter(data) as writer:
            for record in records:
                writer.write(record_to_example(record).SerializeToString())
    config = glue_eval_config(TASKS["mrpc"], glue())
    for metric in config.metrics_specs[0].metrics:  # no baseline model here (the Evaluator's first run)
        metric.threshold.ClearField("change_threshold")
    tfma.run_model_analysis(
        eval_shared_model=tfma.default_eval_shared_model(model_dir, eval_config=config),
        eval_config=config,
        data_location=data,
        output_path=output,
    )
    [slice_metrics] = tfma.load_metrics(output)
    metrics = {item.key.name: item.value.double_value.value for item in slice_metrics.metric_keys_and_values}
    return tfma.load_validation_result(output).validation_ok, metrics


def test_a_constant_model_is_rejected_and_a_perfect_one_blessed(tmp_path):
    always_paraphrase = FixedAnswerModel(lambda labels: tf.ones_like(labels))
    blessed, metrics = evaluate(tmp_path, always_paraphrase, "constant")
    assert not blessed
    # MRPC dev: 279 of 408 pairs are paraphrases: the constant model scores the majority's accuracy and F1.
    assert metrics["accuracy"] == pytest.approx(279 / 408) and metrics["f1"] == pytest.approx(558 / 687)
    assert metrics["accuracy_over_constant"] == pytest.approx(0.0) and metrics["f1_over_constant"] == pytest.approx(0)

    oracle = FixedAnswerModel(lambda labels: labels)
    blessed, metrics = evaluate(tmp_path, oracle, "oracle")
    assert blessed and metrics["accuracy"] == 1.0 and metrics["f1"] == 1.0
    assert metrics["accuracy_over_constant"] == pytest.approx(1 - 279 / 408)

    contrarian = FixedAnswerModel(lambda labels: 1 - labels)
    assert not evaluate(tmp_path, contrarian, "contrarian")[0]
