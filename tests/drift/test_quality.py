"""Quality metrics from delayed labels equal scikit-learn's on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from workbench.core.quality import (
    CLASSIFIER,
    REGRESSOR,
    ModelOutputs,
    classifier_metrics,
    pick_kind,
    quality_metrics,
    regressor_metrics,
    roc_auc,
)

TOLERANCE = 1e-9


def _pairs(labels: np.ndarray, positive: np.ndarray) -> ModelOutputs:
    """Outputs of a classifier that answers [p(0), p(1)] per row."""
    return ModelOutputs(labels, 1 - positive, positive, np.full(len(labels), 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classifier_metrics_equal_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 500).astype(float)
    scores = np.clip(labels * 0.3 + rng.random(500) * 0.7, 0, 1).round(2)  # ties on purpose
    found = quality_metrics(_pairs(labels, scores))
    predicted = (scores >= 0.5).astype(int)
    assert found.kind == CLASSIFIER
    assert found.rows == 500
    assert found.accuracy == pytest.approx(metrics.accuracy_score(labels, predicted), abs=TOLERANCE)
    assert found.auc == pytest.approx(metrics.roc_auc_score(labels, scores), abs=TOLERANCE)
    assert found.precision == pytest.approx(
        metrics.precision_score(labels, predicted), abs=TOLERANCE
    )
    assert found.recall == pytest.approx(metrics.recall_score(labels, predicted), abs=TOLERANCE)


def test_single_probability_outputs_are_the_positive_score() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 300).astype(float)
    scores = rng.random(300)
    single = ModelOutputs(labels, scores, np.full(300, np.nan), np.ones(300, dtype=np.int64))
    found = quality_metrics(single)
    assert found.kind == CLASSIFIER
    assert found.auc == pytest.approx(metrics.roc_auc_score(labels, scores), abs=TOLERANCE)
    assert found == quality_metrics(_pairs(labels, scores))


@pytest.mark.parametrize("seed", [0, 1])
def test_regressor_metrics_equal_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.normal(50, 10, 400)
    predictions = labels + rng.normal(0, 3, 400)
    outputs = ModelOutputs(labels, predictions, np.full(400, np.nan), np.ones(400, dtype=int))
    found = quality_metrics(outputs)
    assert found.kind == REGRESSOR
    assert found.rmse == pytest.approx(
        np.sqrt(metrics.mean_squared_error(labels, predictions)), abs=TOLERANCE
    )
    assert found.mae == pytest.approx(
        metrics.mean_absolute_error(labels, predictions), abs=TOLERANCE
    )
    assert found.accuracy is None


def test_auto_kind() -> None:
    ones = np.ones(3, dtype=int)
    binary, probabilities = np.array([0.0, 1.0, 1.0]), np.array([0.1, 0.7, 0.9])
    assert pick_kind(ModelOutputs(binary, probabilities, probabilities, ones)) == CLASSIFIER
    counts = np.array([0.0, 3.0, 1.0])  # labels beyond {0, 1}: a regression target
    assert pick_kind(ModelOutputs(counts, probabilities, probabilities, ones)) == REGRESSOR
    big = np.array([0.1, 7.0, 0.9])  # outputs beyond [0, 1]: not probabilities
    assert pick_kind(ModelOutputs(binary, big, big, ones)) == REGRESSOR
    three = np.full(3, 3)  # three-class probability vectors: not a binary classifier
    assert pick_kind(ModelOutputs(binary, probabilities, probabilities, three)) == REGRESSOR
    assert pick_kind(ModelOutputs(counts, big, big, ones), kind=CLASSIFIER) == CLASSIFIER


def test_undefined_metrics_are_none_and_missing_outputs_are_left_out() -> None:
    one_class = classifier_metrics(np.ones(4), np.array([0.2, 0.6, 0.9, np.nan]))
    assert one_class.rows == 3  # the NaN score (a row without a numeric output) is left out
    assert one_class.auc is None
    assert one_class.accuracy == pytest.approx(2 / 3)
    assert one_class.recall == pytest.approx(2 / 3)
    nothing_positive = classifier_metrics(np.array([0.0, 1.0]), np.array([0.1, 0.2]))
    assert nothing_positive.precision is None
    assert nothing_positive.recall == 0.0
    assert classifier_metrics(np.empty(0), np.empty(0)).accuracy is None
    assert regressor_metrics(np.ones(2), np.full(2, np.nan)).rows == 0
    assert roc_auc(np.array([True, False]), np.array([0.5, 0.5])) == 0.5
