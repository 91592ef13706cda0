"""Model quality from delayed labels: binary classifier and regressor metrics, in numpy.

A served row's output is a list of floats: a binary classifier's score is the positive
class probability (outputs[1] of a two-vector, outputs[0] of a single value), a regressor's
prediction is outputs[0]. Rows without a usable output are left out of the metrics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

CLASSIFIER, REGRESSOR, AUTO = "classifier", "regressor", "auto"
THRESHOLD = 0.5
"""A score at or above this predicts the positive class."""


@dataclass(frozen=True)
class ModelOutputs:
    """Per labelled row: the label, the first two output values and the output's length
    (NaN and 0 where the row has no numeric output)."""

    labels: np.ndarray
    first: np.ndarray
    second: np.ndarray
    width: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, rows: np.ndarray) -> ModelOutputs:
        """The rows picked by a boolean mask or an index array."""
        return ModelOutputs(
            self.labels[rows], self.first[rows], self.second[rows], self.width[rows]
        )

    def scores(self) -> np.ndarray:
        """Positive-class probability per row: outputs[1] of a pair, outputs[0] of one value."""
        return np.where(self.width == 2, self.second, np.where(self.width == 1, self.first, np.nan))

    def predictions(self) -> np.ndarray:
        """A regressor's prediction per row: its single output (NaN for any other shape)."""
        return np.where(self.width == 1, self.first, np.nan)


@dataclass(frozen=True)
class LabelledRows:
    """Labelled served rows: when each was answered, by which model version (-1: unknown),
    and its label and output."""

    ts: np.ndarray
    model_versions: np.ndarray
    outputs: ModelOutputs


@dataclass(frozen=True)
class QualityMetrics:
    """Metrics over some labelled rows; a metric is None where it is undefined (no rows, one
    class only, no positive prediction)."""

    kind: str
    rows: int
    accuracy: float | None = None
    auc: float | None = None
    precision: float | None = None
    recall: float | None = None
    rmse: float | None = None
    mae: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pick_kind(outputs: ModelOutputs, kind: str = AUTO) -> str:
    """`classifier` when every label is 0 or 1 and every output is a probability (one value
    or a pair, all in [0, 1]); `regressor` otherwise. An explicit `kind` is returned as is."""
    if kind != AUTO:
        return kind
    usable = outputs.width > 0
    if not usable.any():
        return REGRESSOR
    labels = outputs.labels
    binary = bool(np.isin(labels, (0.0, 1.0)).all())
    widths = outputs.width[usable]
    first, second = outputs.first[usable], outputs.second[usable]
    in_unit = (first >= 0) & (first <= 1) & ((widths == 1) | ((second >= 0) & (second <= 1)))
    probabilities = bool(np.isin(widths, (1, 2)).all() and in_unit.all())
    return CLASSIFIER if binary and probabilities else REGRESSOR


def quality_metrics(outputs: ModelOutputs, kind: str = AUTO) -> QualityMetrics:
    """The metrics of `kind` (picked by `pick_kind` when `auto`) over `outputs`."""
    chosen = pick_kind(outputs, kind)
    if chosen == CLASSIFIER:
        return classifier_metrics(outputs.labels, outputs.scores())
    if chosen == REGRESSOR:
        return regressor_metrics(outputs.labels, outputs.predictions())
    raise ValueError(f"unknown model kind {kind!r}: {CLASSIFIER}, {REGRESSOR} or {AUTO}")


def classifier_metrics(
    labels: np.ndarray, scores: np.ndarray, threshold: float = THRESHOLD
) -> QualityMetrics:
    """Accuracy, ROC AUC, precision and recall of positive-class `scores` against 0/1 labels."""
    usable = ~np.isnan(scores)
    truth = labels[usable] == 1
    scores = scores[usable]
    if not len(scores):
        return QualityMetrics(CLASSIFIER, 0)
    predicted = scores >= threshold
    hits = int((predicted & truth).sum())
    predicted_positive, positive = int(predicted.sum()), int(truth.sum())
    return QualityMetrics(
        CLASSIFIER,
        len(scores),
        accuracy=float((predicted == truth).mean()),
        auc=roc_auc(truth, scores),
        precision=hits / predicted_positive if predicted_positive else None,
        recall=hits / positive if positive else None,
    )


def roc_auc(truth: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tied scores ranked on average); None
    with only one class present."""
    positive = int(truth.sum())
    negative = len(truth) - positive
    if not positive or not negative:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0  # 1-based rank of each distinct score, ties averaged
    rank_sum = float(average_rank[inverse][truth].sum())
    return (rank_sum - positive * (positive + 1) / 2.0) / (positive * negative)


def regressor_metrics(labels: np.ndarray, predictions: np.ndarray) -> QualityMetrics:
    """Root mean squared error and mean absolute error of `predictions` against `labels`."""
    usable = ~np.isnan(predictions)
    errors = predictions[usable] - labels[usable]
    if not len(errors):
        return QualityMetrics(REGRESSOR, 0)
    return QualityMetrics(
        REGRESSOR,
        len(errors),
        rmse=float(np.sqrt(np.mean(errors**2))),
        mae=float(np.mean(np.abs(errors))),
    )
