"""The official GLUE metrics against values worked out by hand, and the constant predictor's scores."""

import numpy as np
import pytest

from components.glue_example_gen.tsv_reader import read_tsv
from configs.glue_tasks import TASKS
from models.glue import metrics as glue_metrics
from tests.conftest import DATA_DIR

LABELS = np.array([1, 1, 0, 0, 1])
ANSWERS = np.array([1, 0, 0, 1, 1])  # tp 2, fn 1, tn 1, fp 1


def test_classification_metrics_match_hand_computed_values():
    assert glue_metrics.accuracy(LABELS, ANSWERS) == pytest.approx(3 / 5)
    assert glue_metrics.f1(LABELS, ANSWERS) == pytest.approx(2 * 2 / (3 + 3))
    assert glue_metrics.matthews_corr(LABELS, ANSWERS) == pytest.approx((2 * 1 - 1 * 1) / np.sqrt(3 * 3 * 2 * 2))
    assert glue_metrics.matthews_corr(LABELS, 1 - LABELS) == pytest.approx(-1.0)


def test_correlations_match_hand_computed_values():
    # Deviations (-1.5, -.5, .5, 1.5) and (-1.75, -.75, .25, 2.25): covariance 6.5, variances 5 and 8.75.
    assert glue_metrics.pearson([1, 2, 3, 4], [1, 2, 3, 5]) == pytest.approx(6.5 / np.sqrt(5 * 8.75))
    assert glue_metrics.spearman([1, 2, 3, 4], [1, 2, 3, 5]) == pytest.approx(1.0)
    # Tied labels share rank 2.5: ranks (1, 2.5, 2.5, 4) against (1, 3, 2, 4).
    assert glue_metrics.spearman([1, 2, 2, 3], [0.1, 0.9, 0.5, 2.0]) == pytest.approx(4.5 / np.sqrt(4.5 * 5))
    assert glue_metrics.pearson([1, 2, 3], [2, 2, 2]) == 0.0, "a constant correlates with nothing"


def test_constant_predictor_scores():
    assert glue_metrics.constant_score("accuracy", LABELS) == pytest.approx(0.6)
    assert glue_metrics.constant_score("f1", LABELS) == pytest.approx(2 * 0.6 / 1.6)
    assert glue_metrics.constant_score("matthews_corr", LABELS) == 0.0
    assert glue_metrics.constant_score("pearson", [0.5, 4.0]) == 0.0
    # Answering "1" everywhere scores exactly the constant F1 and accuracy of the majority class 1.
    always_one = np.ones_like(LABELS)
    assert glue_metrics.f1(LABELS, always_one) == pytest.approx(glue_metrics.constant_score("f1", LABELS))
    assert glue_metrics.accuracy(LABELS, always_one) == glue_metrics.constant_score("accuracy", LABELS)


def test_mrpc_dev_constant_baseline_is_the_always_paraphrase_score():
    task = TASKS["mrpc"]
    labels = np.array([r.label for r in read_tsv(str(DATA_DIR / "glue" / "MRPC" / "dev.tsv"), task)])
    baseline = glue_metrics.constant_baseline(task, labels)
    assert baseline == {"f1": pytest.approx(2 * 279 / (408 + 279)), "accuracy": pytest.approx(279 / 408)}
    assert round(baseline["f1"], 3) == 0.812 and round(baseline["accuracy"], 3) == 0.684


def test_answers_from_head_outputs_and_scores():
    assert glue_metrics.predicted(TASKS["mnli"], [[0.1, 0.2, 0.7], [0.8, 0.1, 0.1]]).tolist() == [2, 0]
    assert glue_metrics.predicted(TASKS["stsb"], [[3.5], [1.0]]).tolist() == [3.5, 1.0]
    assert glue_metrics.task_score({"f1": 0.8, "accuracy": 0.7}) == pytest.approx(0.75)
    assert glue_metrics.glue_score({"mrpc": 0.75, "rte": 0.55}) == pytest.approx(0.65)
    assert glue_metrics.spread([0.5, 0.9, 0.6]) == {"median": 0.6, "min": 0.5, "max": 0.9}
