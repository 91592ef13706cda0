"""A drift check: every feature of a reference against the current data, and a verdict.

Each feature gets every statistic of its kind (numeric: KS, Wasserstein normed by the
reference's standard deviation, PSI and Jensen-Shannon over the reference's decile bins;
categorical: chi-square, PSI and Jensen-Shannon over its categories plus one bucket for
categories the reference never saw). The configured method decides the feature's status;
the share of drifted features decides the dataset's. A feature that cannot be computed gets
`error` or `insufficient_data` and the others are still checked: a check never raises for
bad data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from workbench.core.drift.config import DriftConfig
from workbench.core.drift.profile import (
    CategoricalProfile,
    FeatureProfile,
    NumericProfile,
    Profile,
    bin_counts,
    category_counts,
    is_numeric,
    numeric_sample,
    profile_categorical,
    profile_numeric,
)
from workbench.core.drift.statistics import (
    chi_square,
    jensen_shannon,
    ks_p_value,
    ks_statistic,
    psi,
    wasserstein,
)
from workbench.core.errors import first_line

OK, DRIFT, INSUFFICIENT, ERROR = "ok", "drift", "insufficient_data", "error"
MAX_HISTOGRAM_BARS = 30
_STD_FLOOR = 0.001  # Wasserstein is normed by the reference's std, floored (a constant column)


@dataclass(frozen=True)
class Reference:
    """What a check compares against: a profile, plus the sorted raw values of numeric
    features when the reference is data at hand (then KS and Wasserstein are exact; from a
    stored profile they use its quantiles, within 1/QUANTILE_POINTS)."""

    profile: Profile
    samples: Mapping[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> Reference:
        """Profile `columns`, keeping each numeric column's sorted values."""
        return cls.read(list(columns), columns.__getitem__)

    @classmethod
    def read(cls, names: list[str], read: Callable[[str], Any]) -> Reference:
        """Profile the columns `read(name)` gives, a few at a time in threads: each column is
        dropped once sorted, so a large reference never sits in memory twice."""

        def one(name: str) -> tuple[FeatureProfile, np.ndarray | None]:
            column = read(name)
            if is_numeric(column):
                sample = numeric_sample(column)
                return profile_numeric(name, sample), sample.values
            return profile_categorical(name, column), None

        built = _map(one, names)
        features = tuple(feature for feature, _ in built)
        samples = {f.feature: values for f, values in built if values is not None}
        rows = max((f.rows for f in features), default=0)
        return cls(Profile(features, rows), samples)


@dataclass(frozen=True)
class Statistic:
    """One statistic of one feature; `drifted` compares it with its threshold."""

    name: str
    value: float
    threshold: float
    drifted: bool
    p_value: float | None = None


@dataclass(frozen=True)
class Histogram:
    """Reference and current shares over the same bins, for a chart."""

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]


@dataclass(frozen=True)
class FeatureDrift:
    """The verdict on one feature and everything behind it."""

    feature: str
    kind: str
    status: str
    method: str
    statistics: tuple[Statistic, ...] = ()
    reference_rows: int = 0
    current_rows: int = 0
    reference_missing: float = 0.0
    current_missing: float = 0.0
    unseen_share: float | None = None
    message: str = ""
    histogram: Histogram | None = None

    def primary(self) -> Statistic | None:
        """The statistic of the deciding method, if computed."""
        return next((s for s in self.statistics if s.name == self.method), None)

    def to_json(self) -> dict[str, Any]:
        """The `drift check --json` form of this feature (NaN and inf as null)."""
        return {
            "feature": self.feature,
            "kind": self.kind,
            "status": self.status,
            "method": self.method,
            "message": self.message,
            "reference_missing": self.reference_missing,
            "current_missing": self.current_missing,
            "unseen_share": self.unseen_share,
            "statistics": {
                s.name: {
                    "value": _finite(s.value),
                    "threshold": _finite(s.threshold),
                    "drifted": s.drifted,
                    "p_value": _finite(s.p_value),
                }
                for s in self.statistics
            },
        }


@dataclass(frozen=True)
class DriftReport:
    """A whole check: per-feature results, the drifted share and the dataset verdict."""

    features: tuple[FeatureDrift, ...]
    status: str
    drifted: bool
    share: float
    drift_share: float
    reference_rows: int
    current_rows: int
    ignored_columns: tuple[str, ...] = ()

    def drifted_features(self) -> list[str]:
        """Names of the features whose status is drift."""
        return [f.feature for f in self.features if f.status == DRIFT]

    def checked_features(self) -> int:
        """How many features got a verdict (ok or drift): the drifted share's denominator."""
        return sum(f.status in (OK, DRIFT) for f in self.features)

    def to_json(self) -> dict[str, Any]:
        """The `drift check --json` form of the whole check."""
        return {
            "status": self.status,
            "drifted": self.drifted,
            "share": self.share,
            "drift_share": self.drift_share,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "ignored_columns": list(self.ignored_columns),
            "drifted_features": self.drifted_features(),
            "features": [f.to_json() for f in self.features],
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def compare(
    reference: Reference,
    current: Mapping[str, Any],
    config: DriftConfig,
    *,
    current_rows: int | None = None,
) -> DriftReport:
    """Check `current` columns against `reference`; features in parallel threads."""
    wanted = [
        f for f in reference.profile.features if not config.features or f.feature in config.features
    ]
    rows = current_rows if current_rows is not None else _rows(current)
    numeric_method, categorical_method = config.methods(rows)

    def check(profile: FeatureProfile) -> FeatureDrift:
        method = numeric_method if isinstance(profile, NumericProfile) else categorical_method
        base = FeatureDrift(
            profile.feature,
            profile.kind,
            ERROR,
            method,
            reference_rows=profile.rows,
            current_rows=rows,
            reference_missing=_missing_share(profile),
        )
        if profile.feature not in current:
            return _with(base, message="not in the current data")
        try:
            if isinstance(profile, NumericProfile):
                sample = reference.samples.get(profile.feature)
                return _numeric(base, profile, sample, current[profile.feature], config)
            return _categorical(base, profile, current[profile.feature], config)
        except Exception as error:  # bad data in one feature never stops the others
            return _with(base, message=first_line(error)[:300])

    features = tuple(_map(check, wanted))
    considered = [f for f in features if f.status in (OK, DRIFT)]
    drifted = sum(f.status == DRIFT for f in considered)
    share = drifted / len(considered) if considered else 0.0
    verdict = bool(considered) and share >= config.drift_share
    status = (DRIFT if verdict else OK) if considered else INSUFFICIENT
    known = set(reference.profile.names())
    return DriftReport(
        features=features,
        status=status,
        drifted=verdict,
        share=share,
        drift_share=config.drift_share,
        reference_rows=reference.profile.rows,
        current_rows=rows,
        ignored_columns=tuple(name for name in current if name not in known),
    )


def _numeric(
    base: FeatureDrift,
    profile: NumericProfile,
    reference_values: np.ndarray | None,
    column: Any,
    config: DriftConfig,
) -> FeatureDrift:
    try:
        sample = numeric_sample(column)
    except (TypeError, ValueError) as error:  # Arrow's ArrowInvalid is a ValueError
        return _with(base, message=f"expected numbers: {first_line(error)[:200]}")
    left_out = sample.missing + sample.nonfinite
    found = _with(
        base,
        current_missing=left_out / sample.rows if sample.rows else 0.0,
        current_rows=sample.rows,
    )
    notes = [f"{sample.nonfinite} infinite values left out"] if sample.nonfinite else []
    if min(profile.count, sample.values.size) < config.min_rows:
        return _with(
            found,
            status=INSUFFICIENT,
            message=_too_few(profile.count, sample.values.size, config.min_rows),
        )
    # From a stored profile its quantiles stand for the reference; from data, every value.
    ref = profile.quantiles if reference_values is None else reference_values
    d, distance = ks_statistic(ref, sample.values), wasserstein(ref, sample.values)
    current_counts = bin_counts(sample.values, profile.edges)
    chi, chi_p = chi_square(profile.histogram, current_counts)
    values = {
        "ks": (d, ks_p_value(d, profile.count, sample.values.size)),
        "wasserstein": (distance / max(profile.std, _STD_FLOOR), None),
        "psi": (psi(profile.histogram, current_counts), None),
        "jensenshannon": (jensen_shannon(profile.histogram, current_counts), None),
        "chisquare": (chi, chi_p),
    }
    histogram = _histogram(_bin_labels(profile.edges), profile.histogram, current_counts)
    return _verdict(found, values, config, histogram, "; ".join(notes))


def _categorical(
    base: FeatureDrift, profile: CategoricalProfile, column: Any, config: DriftConfig
) -> FeatureDrift:
    counted = category_counts(column)
    counts, missing = dict(counted.counts), counted.missing
    total = sum(counts.values())
    known = [counts.pop(name, 0) for name in profile.categories]
    unseen = sum(counts.values())
    rows = total + missing
    found = _with(
        base,
        current_rows=rows,
        current_missing=missing / rows if rows else 0.0,
        unseen_share=unseen / total if total else None,
    )
    if min(profile.count, total) < config.min_rows:
        return _with(
            found, status=INSUFFICIENT, message=_too_few(profile.count, total, config.min_rows)
        )
    reference_counts = np.append(profile.frequencies, profile.other)
    current_counts = np.array([*known, unseen], dtype=np.int64)
    chi, chi_p = chi_square(reference_counts, current_counts)
    values = {
        "chisquare": (chi, chi_p),
        "psi": (psi(reference_counts, current_counts), None),
        "jensenshannon": (jensen_shannon(reference_counts, current_counts), None),
    }
    labels = [*profile.categories, "(other)" if profile.other else "(unseen)"]
    histogram = _histogram(labels, reference_counts, current_counts)
    notes = f"{len(counts)} unseen categories" if counts else ""
    return _verdict(found, values, config, histogram, notes)


def _verdict(
    found: FeatureDrift,
    values: Mapping[str, tuple[float, float | None]],
    config: DriftConfig,
    histogram: Histogram,
    message: str,
) -> FeatureDrift:
    statistics = tuple(
        Statistic(
            name, value, config.threshold(name), config.is_drift(name, value, p_value), p_value
        )
        for name, (value, p_value) in values.items()
    )
    primary = next(s for s in statistics if s.name == found.method)
    return _with(
        found,
        status=DRIFT if primary.drifted else OK,
        statistics=statistics,
        histogram=histogram,
        message=message,
    )


def _histogram(labels: list[str], reference: np.ndarray, current: np.ndarray) -> Histogram:
    ref = reference / max(reference.sum(), 1)
    cur = current / max(current.sum(), 1)
    if len(labels) > MAX_HISTOGRAM_BARS:  # keep the largest reference bars, the rest as one
        keep = MAX_HISTOGRAM_BARS - 1
        labels = [*labels[:keep], "(rest)"]
        ref = np.append(ref[:keep], ref[keep:].sum())
        cur = np.append(cur[:keep], cur[keep:].sum())
    return Histogram(tuple(labels), tuple(map(float, ref)), tuple(map(float, cur)))


def _bin_labels(edges: np.ndarray) -> list[str]:
    if edges.size == 0:
        return ["all"]
    text = [f"{e:.4g}" for e in edges]
    inner = [f"({a}, {b}]" for a, b in zip(text[:-1], text[1:], strict=True)]
    return [f"<= {text[0]}", *inner, f"> {text[-1]}"]


def _missing_share(profile: FeatureProfile) -> float:
    left_out = profile.missing + (profile.nonfinite if isinstance(profile, NumericProfile) else 0)
    return left_out / profile.rows if profile.rows else 0.0


def _too_few(reference: int, current: int, minimum: int) -> str:
    return f"{reference} reference and {current} current values; a check needs {minimum} of each"


def _with(feature: FeatureDrift, **changes: Any) -> FeatureDrift:
    return replace(feature, **changes)


def _rows(columns: Mapping[str, Any]) -> int:
    return max((len(column) for column in columns.values()), default=0)


def _map(work: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """`work` over `items` in threads, in order: sorting and searching in numpy release the
    GIL."""
    workers = min(len(items), os.cpu_count() or 1)
    if workers <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, items))
