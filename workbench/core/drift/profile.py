"""Reference profiles: what a check needs to know of the training data, in a few KB a feature.

A numeric feature keeps its count, missing and non-finite counts, QUANTILE_POINTS quantiles
(the reference ECDF to within 1/QUANTILE_POINTS, for KS and Wasserstein), inner bin edges at
its deciles and the histogram over them (PSI, Jensen-Shannon, chi-square). A categorical
feature keeps its category counts (the most frequent MAX_CATEGORIES; the rest as one count).

Columns are numpy arrays (numeric, or objects read as text) or, for large text columns, the
`CategoryCounts` a caller already counted (services count Arrow columns without Python
objects); core never touches Arrow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

QUANTILE_POINTS = 1000
BINS = 10
BLOCK = 1 << 16
MAX_CATEGORIES = 1000


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """A numeric feature of the reference data."""

    feature: str
    count: int  # finite values
    missing: int  # null or NaN
    nonfinite: int  # +-inf, left out of every statistic
    quantiles: np.ndarray  # QUANTILE_POINTS mid-point quantiles, each standing for 1/n of the mass
    edges: np.ndarray  # inner bin edges; bins are (-inf, e0], (e0, e1], ..., (e_last, inf)
    histogram: np.ndarray  # counts per bin, len(edges) + 1
    mean: float = float("nan")
    std: float = float("nan")
    minimum: float = float("nan")
    maximum: float = float("nan")
    kind: str = field(default="numeric", init=False)

    @property
    def rows(self) -> int:
        """Every row, missing ones included."""
        return self.count + self.missing + self.nonfinite


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """A categorical feature of the reference data."""

    feature: str
    count: int  # non-null values
    missing: int
    categories: tuple[str, ...]  # most frequent first
    frequencies: np.ndarray  # counts, aligned with categories
    other: int = 0  # values of categories beyond MAX_CATEGORIES
    kind: str = field(default="categorical", init=False)

    @property
    def rows(self) -> int:
        """Every row, missing ones included."""
        return self.count + self.missing


FeatureProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class Profile:
    """Every profiled feature of one reference dataset, in column order."""

    features: tuple[FeatureProfile, ...]
    rows: int

    def names(self) -> list[str]:
        """Feature names in order."""
        return [f.feature for f in self.features]

    def get(self, name: str) -> FeatureProfile | None:
        """The profile of `name`, or None."""
        return next((f for f in self.features if f.feature == name), None)


@dataclass(frozen=True, eq=False)
class NumericSample:
    """A numeric column split for checking: its finite values sorted, and what was left out."""

    values: np.ndarray
    missing: int
    nonfinite: int

    @property
    def rows(self) -> int:
        """Every row, missing ones included."""
        return self.values.size + self.missing + self.nonfinite


@dataclass(frozen=True, eq=False)
class SortedColumn:
    """A numeric column its reader already sorted (NaN last), so a check need not copy it."""

    values: np.ndarray

    def __len__(self) -> int:
        return int(self.values.size)


def numeric_sample(column: Any) -> NumericSample:
    """Sort a numeric column (one copy; none for a SortedColumn); count NaN/null and inf."""
    if isinstance(column, SortedColumn):
        ordered = column.values
    else:
        ordered = np.sort(_as_float(column))  # NaN sorts last, -inf first, inf before NaN
    present = int(np.searchsorted(ordered, np.inf, side="right"))
    below = int(np.searchsorted(ordered, -np.inf, side="right"))
    above = present - int(np.searchsorted(ordered, np.inf, side="left"))
    values = ordered[below : present - above]
    return NumericSample(values, missing=ordered.size - present, nonfinite=below + above)


def profile_numeric(feature: str, sample: NumericSample) -> NumericProfile:
    """The profile of a numeric feature from its sorted sample."""
    values = sample.values
    if values.size == 0:
        empty = np.empty(0)
        return NumericProfile(
            feature, 0, sample.missing, sample.nonfinite, empty, empty, np.zeros(1, dtype=np.int64)
        )
    points = (np.arange(QUANTILE_POINTS) + 0.5) / QUANTILE_POINTS
    quantiles = values[np.minimum((points * values.size).astype(np.int64), values.size - 1)]
    deciles = values[
        np.minimum((np.arange(1, BINS) / BINS * values.size).astype(np.int64), values.size - 1)
    ]
    mean = float(values.mean())
    edges = np.unique(deciles)
    edges = edges[edges < values[-1]]  # a last bin that holds nothing would only add noise
    return NumericProfile(
        feature=feature,
        count=int(values.size),
        missing=sample.missing,
        nonfinite=sample.nonfinite,
        quantiles=quantiles,
        edges=edges,
        histogram=bin_counts(values, edges),
        mean=mean,
        std=_std(values, mean),
        minimum=float(values[0]),
        maximum=float(values[-1]),
    )


def _std(values: np.ndarray, mean: float) -> float:
    """Population standard deviation (np.std's), in one pass over the deviations."""
    total = 0.0
    for start in range(0, values.size, BLOCK):  # in blocks: no column-sized temporary
        deviations = values[start : start + BLOCK] - mean
        total += float(np.einsum("i,i->", deviations, deviations))
    return float(np.sqrt(total / values.size))


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in the bins (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], cuts, [sorted_values.size]])).astype(np.int64)


@dataclass(frozen=True)
class CategoryCounts:
    """A categorical column already counted: values per category, and its nulls."""

    counts: Mapping[str, int]
    missing: int

    def __len__(self) -> int:
        return sum(self.counts.values()) + self.missing


def category_counts(column: Any) -> CategoryCounts:
    """Counts per category of a column (values read as text; None and NaN are missing)."""
    if isinstance(column, CategoryCounts):
        return column
    values = np.asarray(column, dtype=object)
    present = np.array([not _is_missing(v) for v in values], dtype=bool)
    names, counts = np.unique(
        np.array([str(v) for v in values[present]], dtype=object), return_counts=True
    )
    found = {str(n): int(c) for n, c in zip(names, counts, strict=True)}
    return CategoryCounts(found, int(values.size - present.sum()))


def profile_categorical(feature: str, column: Any) -> CategoricalProfile:
    """The profile of a categorical feature."""
    counted = category_counts(column)
    counts, missing = counted.counts, counted.missing
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept, rest = ranked[:MAX_CATEGORIES], ranked[MAX_CATEGORIES:]
    return CategoricalProfile(
        feature=feature,
        count=sum(counts.values()),
        missing=missing,
        categories=tuple(name for name, _ in kept),
        frequencies=np.array([count for _, count in kept], dtype=np.int64),
        other=sum(count for _, count in rest),
    )


def is_numeric(column: Any) -> bool:
    """True for a numeric column: a numpy array of bools, ints or floats, or a SortedColumn."""
    if isinstance(column, SortedColumn):
        return True
    return isinstance(column, np.ndarray) and column.dtype.kind in "biuf"


def build_profile(columns: Mapping[str, Any]) -> Profile:
    """Profile every column: numeric ones by quantiles and deciles, the rest by category."""
    features: list[FeatureProfile] = []
    rows = 0
    for name, column in columns.items():
        if is_numeric(column):
            feature: FeatureProfile = profile_numeric(name, numeric_sample(column))
        else:
            feature = profile_categorical(name, column)
        features.append(feature)
        rows = max(rows, feature.rows)
    return Profile(features=tuple(features), rows=rows)


def _as_float(column: Any) -> np.ndarray:
    """float64 values, None as NaN (TypeError/ValueError for text that is no number)."""
    if isinstance(column, CategoryCounts):
        raise TypeError("got text categories")
    if isinstance(column, SortedColumn):
        return column.values
    array = np.asarray(column)
    if array.dtype.kind == "O":
        return np.array([np.nan if v is None else v for v in array], dtype=np.float64)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"got {array.dtype.name} values")
    return np.asarray(array, dtype=np.float64)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
