"""Every drift statistic equals scipy's on the same data and bins (within 1e-6), on
continuous data, heavy ties, different sizes and one side much bigger; and a stored
profile's KS stays within 1/QUANTILE_POINTS of the exact one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from workbench.core.drift.check import Reference, compare
from workbench.core.drift.config import DriftConfig
from workbench.core.drift.profile import (
    QUANTILE_POINTS,
    NumericProfile,
    build_profile,
    numeric_sample,
)
from workbench.core.drift.statistics import (
    EMPTY_BIN_SHARE,
    EXACT_KS_N,
    chi_square,
    jensen_shannon,
    ks,
    ks_at_points,
    psi,
    wasserstein,
    wasserstein_to_points,
)

TOLERANCE = 1e-6
SEEDS = range(8)

Draw = Callable[[np.random.Generator, int], np.ndarray]


def _normal(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.normal(size=size)


def _shifted_gamma(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.gamma(2.0, size=size) + 0.2


def _few_integers(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, 6, size=size).astype(np.float64)  # heavy ties


def _many_integers(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.poisson(30, size=size).astype(np.float64)


# (reference draw, current draw, reference size, current size)
SHAPES: dict[str, tuple[Draw, Draw, int, int]] = {
    "continuous": (_normal, _normal, 2000, 700),
    "continuous-vs-skewed": (_normal, _shifted_gamma, 1500, 400),
    "heavy-ties": (_few_integers, _few_integers, 3000, 500),
    "ties-shifted": (_few_integers, _many_integers, 800, 800),
    "current-tiny": (_normal, _normal, 5000, 40),
    "reference-huge": (_many_integers, _many_integers, 100_000, 300),
    "current-bigger": (_shifted_gamma, _shifted_gamma, 200, 20_000),
}


def _samples(shape: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    draw_reference, draw_current, m, n = SHAPES[shape]
    rng = np.random.default_rng([seed, len(shape)])
    return draw_reference(rng, m), draw_current(rng, n)


def _shares(counts: np.ndarray) -> np.ndarray:
    """The documented convention, written independently: empty bins get EMPTY_BIN_SHARE."""
    share = counts / counts.sum()
    share[share == 0] = EMPTY_BIN_SHARE
    return share


def _decile_counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples binned on the reference's profile edges, by np.digitize (not bin_counts)."""
    (feature,) = build_profile({"x": reference}).features
    assert isinstance(feature, NumericProfile)
    bins = len(feature.edges) + 1
    return (
        np.bincount(np.digitize(reference, feature.edges, right=True), minlength=bins),
        np.bincount(np.digitize(current, feature.edges, right=True), minlength=bins),
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_ks_statistic_and_asymptotic_p_value_equal_scipy(shape: str) -> None:
    for seed in SEEDS:
        reference, current = _samples(shape, seed)
        statistic, p_value = ks(np.sort(reference), np.sort(current))
        expected = ks_2samp(reference, current, method="asymp")
        assert statistic == pytest.approx(expected.statistic, abs=TOLERANCE)
        m, n = reference.size, current.size
        assert round(m * n / (m + n)) <= EXACT_KS_N  # the range where ours is scipy's formula
        assert p_value == pytest.approx(expected.pvalue, abs=TOLERANCE)


def test_ks_p_value_past_exact_n_stays_near_scipy() -> None:
    rng = np.random.default_rng(3)
    reference, current = rng.normal(size=60_000), rng.normal(0.01, size=30_000)
    statistic, p_value = ks(np.sort(reference), np.sort(current))
    expected = ks_2samp(reference, current, method="asymp")
    assert statistic == pytest.approx(expected.statistic, abs=TOLERANCE)
    assert abs(p_value - expected.pvalue) < 2e-3  # the documented bound of the limit form


@pytest.mark.parametrize("shape", SHAPES)
def test_wasserstein_equals_scipy(shape: str) -> None:
    for seed in SEEDS:
        reference, current = _samples(shape, seed)
        expected = wasserstein_distance(reference, current)
        assert wasserstein(np.sort(reference), np.sort(current)) == pytest.approx(
            expected, abs=TOLERANCE
        )


@pytest.mark.parametrize("shape", SHAPES)
def test_binned_statistics_equal_scipy_on_the_same_bins(shape: str) -> None:
    for seed in SEEDS:
        reference, current = _samples(shape, seed)
        expected_counts, actual_counts = _decile_counts(reference, current)
        p, q = _shares(expected_counts), _shares(actual_counts)
        assert jensen_shannon(expected_counts, actual_counts) == pytest.approx(
            jensenshannon(p, q), abs=TOLERANCE
        )
        assert psi(expected_counts, actual_counts) == pytest.approx(
            np.sum((q - p) * np.log(q / p)), abs=TOLERANCE
        )
        table = np.vstack([expected_counts, actual_counts])
        table = table[:, table.sum(axis=0) > 0]
        scipy_chi = chi2_contingency(table)
        statistic, p_value = chi_square(expected_counts, actual_counts)
        assert statistic == pytest.approx(scipy_chi.statistic, abs=TOLERANCE)
        assert p_value == pytest.approx(scipy_chi.pvalue, abs=TOLERANCE)


@pytest.mark.parametrize(
    ("reference_counts", "current_counts"),
    [
        ([500, 300, 200], [0, 10, 90]),  # a bin the current window never reached
        ([400, 0, 600], [20, 30, 50]),  # a bin the reference never saw
        ([250, 0, 250, 0], [100, 0, 0, 100]),  # empty on both sides: dropped by chi-square
        ([700, 300], [40, 60]),  # 2 x 2: Yates-corrected, as scipy is by default
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
    ],
)
def test_empty_bins_follow_the_empty_bin_share(
    reference_counts: list[int], current_counts: list[int]
) -> None:
    expected_counts, actual_counts = np.array(reference_counts), np.array(current_counts)
    p, q = _shares(expected_counts), _shares(actual_counts)
    assert jensen_shannon(expected_counts, actual_counts) == pytest.approx(
        jensenshannon(p, q), abs=TOLERANCE
    )
    assert psi(expected_counts, actual_counts) == pytest.approx(
        np.sum((q - p) * np.log(q / p)), abs=TOLERANCE
    )
    table = np.vstack([expected_counts, actual_counts])
    scipy_chi = chi2_contingency(table[:, table.sum(axis=0) > 0])
    assert chi_square(expected_counts, actual_counts) == pytest.approx(
        (scipy_chi.statistic, scipy_chi.pvalue), abs=TOLERANCE
    )


def test_identical_bins_give_zero_distances_and_one_category_no_test() -> None:
    counts = np.array([10, 20, 30])
    assert psi(counts, counts * 3) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon(counts, counts * 3) == pytest.approx(0.0, abs=1e-7)
    assert chi_square(np.array([50, 0]), np.array([20, 0])) == (0.0, 1.0)


@pytest.mark.parametrize("shape", SHAPES)
def test_compare_reports_scipy_statistics_for_a_raw_reference(shape: str) -> None:
    """Through a check: KS, its p-value, Wasserstein normed by the reference's std, and the
    binned statistics over the reference's deciles."""
    for seed in SEEDS[:3]:
        reference, current = _samples(shape, seed)
        report = compare(
            Reference.from_columns({"x": reference}), {"x": current}, DriftConfig(min_rows=1)
        )
        (feature,) = report.features
        assert feature.status in ("ok", "drift")
        found = {s.name: s for s in feature.statistics}
        expected_ks = ks_2samp(reference, current, method="asymp")
        assert found["ks"].value == pytest.approx(expected_ks.statistic, abs=TOLERANCE)
        assert found["ks"].p_value == pytest.approx(expected_ks.pvalue, abs=TOLERANCE)
        assert found["wasserstein"].value == pytest.approx(
            wasserstein_distance(reference, current) / np.std(reference), abs=TOLERANCE
        )
        expected_counts, actual_counts = _decile_counts(reference, current)
        p, q = _shares(expected_counts), _shares(actual_counts)
        assert found["jensenshannon"].value == pytest.approx(jensenshannon(p, q), abs=TOLERANCE)
        assert found["psi"].value == pytest.approx(np.sum((q - p) * np.log(q / p)), abs=TOLERANCE)
        table = np.vstack([expected_counts, actual_counts])
        scipy_chi = chi2_contingency(table[:, table.sum(axis=0) > 0])
        assert found["chisquare"].value == pytest.approx(scipy_chi.statistic, abs=TOLERANCE)
        assert found["chisquare"].p_value == pytest.approx(scipy_chi.pvalue, abs=TOLERANCE)


def test_compare_reports_scipy_statistics_for_categories() -> None:
    """Chi-square, PSI and Jensen-Shannon over the reference's categories plus one bucket for
    categories it never saw."""
    rng = np.random.default_rng(11)
    reference = rng.choice(["a", "b", "c", "d"], p=[0.4, 0.3, 0.2, 0.1], size=5000)
    current = rng.choice(["a", "b", "c", "e"], p=[0.3, 0.3, 0.3, 0.1], size=600)
    report = compare(Reference.from_columns({"x": reference}), {"x": current}, DriftConfig())
    (feature,) = report.features
    found = {s.name: s for s in feature.statistics}
    expected_counts = np.array([np.sum(reference == c) for c in "abcd"] + [0])
    actual_counts = np.array([np.sum(current == c) for c in "abcd"] + [np.sum(current == "e")])
    p, q = _shares(expected_counts), _shares(actual_counts)
    scipy_chi = chi2_contingency(np.vstack([expected_counts, actual_counts]))
    assert found["chisquare"].value == pytest.approx(scipy_chi.statistic, abs=TOLERANCE)
    assert found["chisquare"].p_value == pytest.approx(scipy_chi.pvalue, abs=TOLERANCE)
    assert found["psi"].value == pytest.approx(np.sum((q - p) * np.log(q / p)), abs=TOLERANCE)
    assert found["jensenshannon"].value == pytest.approx(jensenshannon(p, q), abs=TOLERANCE)
    assert feature.unseen_share == pytest.approx(np.mean(current == "e"))


@pytest.mark.parametrize("shape", SHAPES)
def test_profile_ks_is_within_one_quantile_step_of_exact(shape: str) -> None:
    """A stored profile keeps QUANTILE_POINTS quantiles: its KS statistic is the exact one
    to within 1/QUANTILE_POINTS."""
    for seed in SEEDS[:3]:
        reference, current = _samples(shape, seed)
        report = compare(
            Reference(build_profile({"x": reference})), {"x": current}, DriftConfig(min_rows=1)
        )
        found = {s.name: s for s in report.features[0].statistics}
        exact = ks_2samp(reference, current).statistic
        assert abs(found["ks"].value - exact) <= 1 / QUANTILE_POINTS + 1e-9


def test_numeric_sample_sorts_finite_values_and_counts_what_it_leaves_out() -> None:
    sample = numeric_sample(np.array([3.0, np.nan, -np.inf, 1.0, np.inf, 2.0, np.nan]))
    assert sample.values.tolist() == [1.0, 2.0, 3.0]
    assert (sample.missing, sample.nonfinite, sample.rows) == (2, 2, 7)


@pytest.mark.parametrize(
    ("n", "k"), [(100_000, 1000), (12_345, 1000), (5000, 999), (1000, 1000), (300, 1000), (3000, 7)]
)
@pytest.mark.parametrize("tied", [False, True])
def test_the_profile_path_equals_scipy_against_the_points(n: int, k: int, tied: bool) -> None:
    """KS at the points and Wasserstein by quantile functions: what a stored profile's K
    quantiles give against every current value, equal to scipy on that sample."""
    rng = np.random.default_rng(n + k)
    if tied:
        points = np.sort(rng.integers(0, 5, k).astype(float))
        current = np.sort(rng.integers(0, 6, n).astype(float))
    else:
        points, current = np.sort(rng.normal(size=k)), np.sort(rng.normal(0.1, 1.2, size=n))
    assert ks_at_points(points, current) == pytest.approx(
        ks_2samp(points, current).statistic, abs=1e-12
    )
    assert wasserstein_to_points(points, current) == pytest.approx(
        wasserstein_distance(points, current), abs=1e-9
    )
