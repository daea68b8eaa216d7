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
        suffix = "_over_constant_lower_bound" if options.get("over_constant") else ""
        name = options.get("metric", metric.class_name) + suffix
        bound = (
            metric.threshold.value_threshold.lower_bound.value if metric.threshold.HasField("value_threshold") else None
        )
        result[name] = bound
    return result


def test_every_official_metric_is_gated_on_evidence_over_the_constant_predictor_bounded_explicitly_or_not():
    """An explicit bound replaced the constant check: bounds of f1 0.8 and accuracy 0.68 blessed the always-"paraphrase"
    MRPC model (F1 0.812, accuracy 0.684). Now the explicit bound is gated besides it."""
    mrpc = gated(glue_eval_config(TASKS["mrpc"], glue(bounds={"mrpc": {"f1": 0.8}}, constant_margin=0.02)))
    assert mrpc == {
        "ExampleCount": None,
        "f1": pytest.approx(0.8),
        "f1_over_constant_lower_bound": 0.02,
        "accuracy": None,
        "accuracy_over_constant_lower_bound": 0.02,
    }
    stsb = glue_eval_config(TASKS["stsb"], glue(constant_margin=0.05))
    assert gated(stsb) == {
        "ExampleCount": None,
        "pearson": None,
        "pearson_over_constant_lower_bound": 0.05,
        "spearman": None,
        "spearman_over_constant_lower_bound": 0.05,
    }
    assert stsb.model_specs[0].prediction_key == features.SCORE
    assert gated(glue_eval_config(TASKS["cola"], glue()))["matthews_corr_over_constant_lower_bound"] == 0.01


class FixedAnswerModel(tf.Module):
    """Serving signature of a GLUE classifier that answers `answer(labels, ids)` for each example."""

    def __init__(self, answer):
        super().__init__()
        self.answer = answer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        spec = {name: tf.io.FixedLenFeature([], tf.int64) for name in (features.GLUE_LABEL, features.GLUE_IDX)}
        parsed = tf.io.parse_example(examples, spec)
        return {
            features.PROBABILITIES: tf.one_hot(self.answer(parsed[features.GLUE_LABEL], parsed[features.GLUE_IDX]), 2)
        }


def evaluate(tmp_path, model: FixedAnswerModel, name: str, **settings):
    model_dir, output = str(tmp_path / name / "model"), str(tmp_path / name / "eval")
    tf.saved_model.save(model, model_dir, signatures={"serving_default": model.serve})
    records = read_tsv(str(DATA_DIR / "glue" / "MRPC" / "dev.tsv"), TASKS["mrpc"])
    data = str(tmp_path / "dev.tfrecord")
    if not tf.io.gfile.exists(data):
        with tf.io.TFRecordWriter(data) as writer:
            for record in records:
                writer.write(record_to_example(record).SerializeToString())
    config = glue_eval_config(TASKS["mrpc"], glue(**settings))
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
    always_paraphrase = FixedAnswerModel(lambda labels, ids: tf.ones_like(labels))
    blessed, metrics = evaluate(tmp_path, always_paraphrase, "constant")
    assert not blessed
    # MRPC dev: 279 of 408 pairs are paraphrases: the constant model scores the majority's accuracy and F1.
    assert metrics["accuracy"] == pytest.approx(279 / 408) and metrics["f1"] == pytest.approx(558 / 687)
    assert (
        abs(metrics["accuracy_over_constant_lower_bound"]) < 1e-9
        and abs(metrics["f1_over_constant_lower_bound"]) < 1e-9
    )
    # Explicit bounds below the constant's scores do not let it through.
    assert not evaluate(tmp_path, always_paraphrase, "bounded", bounds={"mrpc": {"f1": 0.8, "accuracy": 0.68}})[0]

    oracle = FixedAnswerModel(lambda labels, ids: labels)
    blessed, metrics = evaluate(tmp_path, oracle, "oracle")
    assert blessed and metrics["accuracy"] == 1.0 and metrics["f1"] == 1.0
    assert 0.2 < metrics["accuracy_over_constant_lower_bound"] < 1 - 279 / 408

    contrarian = FixedAnswerModel(lambda labels, ids: 1 - labels)
    assert not evaluate(tmp_path, contrarian, "contrarian")[0]


def test_a_lead_within_the_dev_sets_noise_is_rejected(tmp_path):
    """A 0.01 margin is below sampling noise (RTE accuracy's standard error on 277 dev rows is about 3 points): a model
    right on a few more MRPC dev pairs than the always-"paraphrase" one leads it by more than the margin in accuracy,
    which the point-estimate gate passed, but the lower end of the lead's 95% interval does not reach it."""
    almost_constant = FixedAnswerModel(lambda labels, ids: tf.where(ids % 20 == 0, labels, 1))
    blessed, metrics = evaluate(tmp_path, almost_constant, "almost")
    assert metrics["accuracy"] - 279 / 408 > 0.01, "the point estimate clears the margin"
    assert metrics["accuracy_over_constant_lower_bound"] < 0.01 and not blessed
