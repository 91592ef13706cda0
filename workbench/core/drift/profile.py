"""Reference profiles: what a check needs to know of the training data, in a few KB a feature.

A numeric feature keeps its count, missing and non-finite counts, QUANTILE_POINTS quantiles
(the reference ECDF to within 1/QUANTILE_POINTS, for KS and Wasserstein), inner bin edges at
its deciles and the histogram over them (PSI, Jensen-Shannon, chi-square). A categorical
feature keeps its category counts (the most frequent MAX_CATEGORIES; the rest as one count).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

QUANTILE_POINTS = 1000
BINS = 10
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


def numeric_sample(column: Any) -> NumericSample:
    """Sort the finite values of a numeric column (numpy or Arrow); count NaN/null and inf."""
    array = _as_float(column)
    finite = np.isfinite(array)
    values = np.sort(array if finite.all() else array[finite])
    missing = int(np.isnan(array).sum())
    return NumericSample(values, missing=missing, nonfinite=array.size - missing - values.size)


def profile_numeric(feature: str, sample: NumericSample) -> NumericProfile:
    """The profile of a numeric feature from its sorted sample."""
    values = sample.values
    if values.size == 0:
        empty = np.empty(0)
        return NumericProfile(feature, 0, sample.missing, sample.nonfinite, empty, empty,
                              np.zeros(1, dtype=np.int64))  # fmt: skip
    points = (np.arange(QUANTILE_POINTS) + 0.5) / QUANTILE_POINTS
    quantiles = values[np.minimum((points * values.size).astype(np.int64), values.size - 1)]
    deciles = values[np.minimum((np.arange(1, BINS) / BINS * values.size).astype(np.int64),
                                values.size - 1)]  # fmt: skip
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
        mean=float(values.mean()),
        std=float(values.std()),
        minimum=float(values[0]),
        maximum=float(values[-1]),
    )


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in the bins (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], cuts, [sorted_values.size]])).astype(np.int64)


def category_counts(column: Any) -> tuple[dict[str, int], int]:
    """Counts per category of a column (numpy or Arrow; values read as text) and its nulls."""
    array = _as_text(column)
    counted = pc.value_counts(array.drop_null())
    values = counted.field("values").to_pylist()
    counts = counted.field("counts").to_pylist()
    return dict(zip(values, counts, strict=True)), array.null_count


def profile_categorical(feature: str, column: Any) -> CategoricalProfile:
    """The profile of a categorical feature."""
    counts, missing = category_counts(column)
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
    """True for a numeric column (numpy or Arrow): bools, ints and floats; text is not."""
    if isinstance(column, pa.ChunkedArray | pa.Array):
        kind = column.type
        return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    return np.asarray(column).dtype.kind in "biuf"


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
    """float64 values, nulls as NaN (raises TypeError/ValueError for text that is no number)."""
    if isinstance(column, pa.ChunkedArray | pa.Array):
        column = pc.cast(column, pa.float64())
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    array = np.asarray(column)
    if array.dtype.kind == "O":
        array = np.array([np.nan if v is None else v for v in array], dtype=np.float64)
    return np.asarray(array, dtype=np.float64)


def _as_text(column: Any) -> pa.Array:
    """A column as an Arrow string array (numbers and bools read as text, NaN as null)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not isinstance(column, pa.Array):
        column = pa.array(np.asarray(column, dtype=object), from_pandas=True)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_floating(column.type):  # 1.0 and 1 are the same category
        column = pc.if_else(pc.is_nan(column), None, column)
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    return column
