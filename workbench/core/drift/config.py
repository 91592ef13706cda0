"""How a drift check decides: the method per feature kind, thresholds, the dataset share.

Methods and their thresholds (a project sets them under [drift] in workbench.toml):
- ks, chisquare: a test; drift when its p-value is below the threshold (default 0.05);
- wasserstein (normed by the reference's std), psi, jensenshannon: a distance; drift when it
  is at or above the threshold (defaults 0.1, 0.2, 0.1).
"auto" picks the tests for small windows (<= AUTO_TEST_ROWS current rows) and the distances
for larger ones, where any test flags shifts too small to matter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from workbench.core.errors import InvalidInputError

NUMERIC_METHODS = ("ks", "wasserstein", "psi", "jensenshannon")
CATEGORICAL_METHODS = ("chisquare", "psi", "jensenshannon")
TESTS = ("ks", "chisquare")
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "wasserstein": 0.1,
    "psi": 0.2,
    "jensenshannon": 0.1,
}
AUTO_TEST_ROWS = 1000


@dataclass(frozen=True)
class DriftConfig:
    """The rules of one check."""

    numeric_method: str = "auto"
    categorical_method: str = "auto"
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    drift_share: float = 0.5
    min_rows: int = 30
    features: tuple[str, ...] = ()  # empty: every profiled feature

    def __post_init__(self) -> None:
        check_method(self.numeric_method, NUMERIC_METHODS, "numeric")
        check_method(self.categorical_method, CATEGORICAL_METHODS, "categorical")
        for name, value in self.thresholds.items():
            check_threshold(name, value)
        if not 0 < self.drift_share <= 1:
            raise InvalidInputError(
                f"drift share must be in (0, 1], got {self.drift_share:g}",
                hint="the share of drifted features that makes the dataset drifted, e.g. 0.5",
            )
        if self.min_rows < 1:
            raise InvalidInputError(f"min rows must be at least 1, got {self.min_rows}")

    def methods(self, current_rows: int) -> tuple[str, str]:
        """The (numeric, categorical) methods deciding a check of `current_rows` rows."""
        small = current_rows <= AUTO_TEST_ROWS
        numeric = self.numeric_method
        categorical = self.categorical_method
        if numeric == "auto":
            numeric = "ks" if small else "wasserstein"
        if categorical == "auto":
            categorical = "chisquare" if small else "jensenshannon"
        return numeric, categorical

    def threshold(self, method: str) -> float:
        """The threshold of `method`."""
        return float(self.thresholds.get(method, DEFAULT_THRESHOLDS[method]))

    def is_drift(self, method: str, value: float, p_value: float | None) -> bool:
        """Whether `value` (or its p-value, for a test) means drift under `method`."""
        if method in TESTS:
            return p_value is not None and p_value < self.threshold(method)
        return value >= self.threshold(method)


def check_method(method: str, allowed: tuple[str, ...], kind: str) -> None:
    """Refuse a method unknown for `kind` features."""
    if method != "auto" and method not in allowed:
        raise InvalidInputError(
            f"unknown {kind} drift method {method!r}",
            hint=f"one of: auto, {', '.join(allowed)}",
        )


def check_threshold(method: str, value: float) -> None:
    """Refuse a threshold out of its range: p-values in (0, 1), distances above 0."""
    if method not in DEFAULT_THRESHOLDS:
        raise InvalidInputError(
            f"unknown drift method {method!r} in thresholds",
            hint=f"one of: {', '.join(DEFAULT_THRESHOLDS)}",
        )
    if method in TESTS and not 0 < value < 1:
        raise InvalidInputError(
            f"the {method} threshold is a p-value and must be in (0, 1), got {value:g}"
        )
    if method not in TESTS and not (value > 0 and value < float("inf")):
        raise InvalidInputError(f"the {method} threshold must be above 0, got {value:g}")
