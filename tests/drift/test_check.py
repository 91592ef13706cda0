"""Drift checks: KS is calibrated (5% of null windows flagged at alpha 0.05, shifted ones all
flagged) from a stored profile and from raw data, and bad data in one feature never raises
and never disturbs the others."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats import ks_2samp

from workbench.core.drift.check import DriftReport, FeatureDrift, Reference, compare
from workbench.core.drift.config import DriftConfig
from workbench.core.drift.profile import CategoryCounts, build_profile

WINDOWS = 1000
WINDOW_ROWS = 500
REFERENCE_ROWS = 20_000
BATCH = 50  # windows checked as the features of one check, so they run in its threads


def _reference(kind: str, columns: dict[str, Any]) -> Reference:
    """What a file check builds (raw values kept) or what a model check loads (a profile)."""
    return Reference.from_columns(columns) if kind == "raw" else Reference(build_profile(columns))


def _flagged(reference_values: np.ndarray, windows: np.ndarray, kind: str) -> np.ndarray:
    """Whether KS (the default method for windows of <= 1,000 rows) flags each window."""
    names = [f"w{i}" for i in range(BATCH)]
    reference = _reference(kind, dict.fromkeys(names, reference_values))
    flags = []
    for start in range(0, len(windows), BATCH):
        batch = windows[start : start + BATCH]
        report = compare(reference, dict(zip(names, batch, strict=False)), DriftConfig())
        assert {f.method for f in report.features} == {"ks"}
        flags += [f.status == "drift" for f in report.features]
    return np.array(flags)


@pytest.mark.parametrize("kind", ["profile", "raw"])
def test_ks_flags_five_percent_of_windows_from_the_reference_distribution(kind: str) -> None:
    rng = np.random.default_rng(2024)
    reference = rng.normal(10.0, 2.0, size=REFERENCE_ROWS)
    windows = rng.normal(10.0, 2.0, size=(WINDOWS, WINDOW_ROWS))  # fresh draws each
    rate = _flagged(reference, windows, kind).mean()
    assert 0.035 <= rate <= 0.065, rate


@pytest.mark.parametrize("kind", ["profile", "raw"])
def test_ks_flags_windows_shifted_by_a_third_of_a_deviation(kind: str) -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(10.0, 2.0, size=REFERENCE_ROWS)
    windows = rng.normal(10.0 + 0.3 * 2.0, 2.0, size=(200, WINDOW_ROWS))
    assert _flagged(reference, windows, kind).mean() >= 0.95


# -- edge cases: each through a check of several features ---------------------------------

ROWS = 2000


def _clean(rng: np.random.Generator, rows: int) -> dict[str, Any]:
    return {
        "age": rng.normal(40.0, 10.0, size=rows),
        "income": rng.gamma(2.0, 1000.0, size=rows),
        "city": rng.choice(["paris", "lyon", "nice"], p=[0.5, 0.3, 0.2], size=rows),
        "visits": rng.poisson(3.0, size=rows),
    }


@pytest.fixture(params=["raw", "profile"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def reference_columns() -> dict[str, Any]:
    return _clean(np.random.default_rng(1), ROWS)


@pytest.fixture
def current_columns() -> dict[str, Any]:
    return _clean(np.random.default_rng(2), 800)


def _check(kind: str, reference: dict[str, Any], current: dict[str, Any]) -> DriftReport:
    return compare(_reference(kind, reference), current, DriftConfig())


def _by_name(report: DriftReport) -> dict[str, FeatureDrift]:
    return {f.feature: f for f in report.features}


def _assert_untouched(report: DriftReport, clean: DriftReport, touched: set[str]) -> None:
    """Every feature but `touched` has the same status and statistics as in a clean check."""
    found, expected = _by_name(report), _by_name(clean)
    assert set(found) == set(expected)
    for name in set(found) - touched:
        assert found[name].status == expected[name].status, name
        assert found[name].statistics == expected[name].statistics, name
        assert found[name].status in ("ok", "drift"), name
        assert found[name].statistics, name


def _statistic(feature: FeatureDrift, name: str) -> float:
    return next(s.value for s in feature.statistics if s.name == name)


def test_nan_in_both_sides_is_left_out_and_reported_as_missing(
    kind: str, reference_columns: dict[str, Any], current_columns: dict[str, Any]
) -> None:
    clean = _check(kind, reference_columns, current_columns)
    reference_age = reference_columns["age"].copy()
    reference_age[::10] = np.nan
    current_age = current_columns["age"].copy()
    current_age[::5] = np.nan
    report = _check(
        kind, {**reference_columns, "age": reference_age}, {**current_columns, "age": current_age}
    )
    age = _by_name(report)["age"]
    assert age.status in ("ok", "drift")
    assert age.reference_missing == pytest.approx(0.1)
    assert age.current_missing == pytest.approx(0.2)
    if kind == "raw":  # exact KS on what is left: the finite values
        finite = ks_2samp(reference_age[~np.isnan(reference_age)],
                          current_age[~np.isnan(current_age)])  # fmt: skip
        assert _statistic(age, "ks") == pytest.approx(finite.statistic, abs=1e-9)
    _assert_untouched(report, clean, {"age"})


@pytest.mark.parametrize("side", ["reference", "current"])
def test_all_missing_on_either_side_is_insufficient_data(
    kind: str, side: str, reference_columns: dict[str, Any], current_columns: dict[str, Any]
) -> None:
    clean = _check(kind, reference_columns, current_columns)
    changed = reference_columns if side == "reference" else current_columns
    rows = len(changed["age"])
    nulls = {
        "age": np.full(rows, np.nan),
        "income": np.full(rows, None, dtype=object),  # a served window's nulls
        "city": CategoryCounts({}, rows),  # a file's text column, counted: all null
    }
    if side == "reference":
        report = _check(kind, {**reference_columns, **nulls}, current_columns)
    else:
        report = _check(kind, reference_columns, {**current_columns, **nulls})
    found = _by_name(report)
    for name in nulls:
        assert found[name].status == "insufficient_data", (name, found[name].message)
        assert found[name].statistics == ()
        assert "a check needs 30 of each" in found[name].message
    missing = (
        found["age"].reference_missing if side == "reference" else found["age"].current_missing
    )
    assert missing == 1.0
    _assert_untouched(report, clean, set(nulls))
    assert report.share == (found["visits"].status == "drift") * 1.0  # only "visits" counts


@pytest.mark.parametrize("rows", [0, 1])
def test_empty_and_one_row_windows_are_insufficient_data(
    kind: str, rows: int, reference_columns: dict[str, Any], current_columns: dict[str, Any]
) -> None:
    window = {name: column[:rows] for name, column in current_columns.items()}
    report = _check(kind, reference_columns, window)
    assert [f.status for f in report.features] == ["insufficient_data"] * 4
    assert (report.status, report.drifted, report.share) == ("insufficient_data", False, 0.0)
    assert report.current_rows == rows
    assert all(f.current_rows == rows for f in report.features)


def test_an_empty_window_in_any_column_form_is_insufficient_data(kind: str) -> None:
    reference = _clean(np.random.default_rng(3), 500)
    window = {
        "age": np.empty(0),
        "income": np.empty(0, dtype=object),
        "city": CategoryCounts({}, 0),
        "visits": np.empty(0, dtype=np.int64),
    }
    report = _check(kind, reference, window)
    assert [f.status for f in report.features] == ["insufficient_data"] * 4


def test_unseen_categories_are_a_share_and_the_status_is_computed(
    kind: str, reference_columns: dict[str, Any], current_columns: dict[str, Any]
) -> None:
    clean = _check(kind, reference_columns, current_columns)
    city = current_columns["city"].copy()
    city[::4] = "atlantis"
    city[1::8] = "el dorado"
    report = _check(kind, reference_columns, {**current_columns, "city": city})
    found = _by_name(report)["city"]
    assert found.unseen_share == pytest.approx(0.375)
    assert found.status == "drift"  # a quarter of unseen values is drift by any method
    assert found.message == "2 unseen categories"
    assert found.histogram is not None
    assert found.histogram.labels == ("paris", "lyon", "nice", "(unseen)")
    assert found.histogram.current[-1] == pytest.approx(0.375)
    assert _by_name(clean)["city"].unseen_share == 0.0
    names, counts = np.unique(city, return_counts=True)
    counted = CategoryCounts(dict(zip(names.tolist(), counts.tolist(), strict=True)), 0)
    as_counted = _check(kind, reference_columns, {**current_columns, "city": counted})
    assert _by_name(as_counted)["city"] == found  # what a file check passes: the same result
    _assert_untouched(report, clean, {"city"})


def test_infinities_are_left_out_and_noted(
    kind: str, reference_columns: dict[str, Any], current_columns: dict[str, Any]
) -> None:
    clean = _check(kind, reference_columns, current_columns)
    income = current_columns["income"].copy()
    income[:3] = np.inf
    income[3:5] = -np.inf
    reference_income = reference_columns["income"].copy()
    reference_income[:20] = np.inf
    report = _check(
        kind,
        {**reference_columns, "income": reference_income},
        {**current_columns, "income": income},
    )
    found = _by_name(report)["income"]
    assert found.status in ("ok", "drift")
    assert found.message == "5 infinite values left out"
    assert found.current_missing == pytest.approx(5 / 800)
    assert found.reference_missing == pytest.approx(20 / ROWS)
    assert all(np.isfinite(s.value) for s in found.statistics)
    if kind == "raw":
        finite = ks_2samp(reference_income[20:], income[5:])
        assert _statistic(found, "ks") == pytest.approx(finite.statistic, abs=1e-9)
    _assert_untouched(report, clean, {"income"})


def test_constant_columns_on_both_sides_are_ok(
    kind: str, reference_columns: dict[str, Any], current_columns: dict[str, Any]
) -> None:
    clean = _check(kind, reference_columns, current_columns)
    constant_reference = {"age": np.full(ROWS, 7.5), "city": np.full(ROWS, "paris")}
    constant_current = {"age": np.full(800, 7.5), "city": np.full(800, "paris")}
    for config in (DriftConfig(), *(DriftConfig(numeric_method=m, categorical_method=c)
                   for m, c in (("wasserstein", "psi"), ("psi", "jensenshannon"),
                                ("jensenshannon", "chisquare")))):  # fmt: skip
        report = compare(
            _reference(kind, {**reference_columns, **constant_reference}),
            {**current_columns, **constant_current},
            config,
        )
        found = _by_name(report)
        for name in constant_reference:
            assert found[name].status == "ok", (name, config)
            assert found[name].statistics
            assert all(np.isfinite(s.value) for s in found[name].statistics), found[name]
            assert all(s.p_value is None or s.p_value == 1.0 for s in found[name].statistics)
        if config == DriftConfig():
            _assert_untouched(report, clean, set(constant_reference))


def test_a_constant_that_moves_is_drift(kind: str) -> None:
    report = _check(kind, {"age": np.full(500, 7.5)}, {"age": np.full(500, 8.5)})
    (age,) = report.features
    assert age.status == "drift"
    assert all(np.isfinite(s.value) for s in age.statistics)


@pytest.mark.parametrize(
    "text",
    [
        CategoryCounts({"forty": 400, "41": 400}, 0),  # a file's column of words, counted
        np.array(["forty", "41"] * 400),
        np.array(["forty", 41] * 400, dtype=object),
    ],
)
def test_text_in_a_numeric_feature_is_an_error_with_a_message(
    kind: str, text: Any, reference_columns: dict[str, Any], current_columns: dict[str, Any]
) -> None:
    clean = _check(kind, reference_columns, current_columns)
    report = _check(kind, reference_columns, {**current_columns, "age": text})
    age = _by_name(report)["age"]
    assert age.status == "error"
    assert age.message.startswith("expected numbers")
    assert "\n" not in age.message
    assert age.statistics == ()
    _assert_untouched(report, clean, {"age"})
    considered = [f for f in report.features if f.status in ("ok", "drift")]
    assert report.share == pytest.approx(
        sum(f.status == "drift" for f in considered) / len(considered)
    )


def test_a_feature_missing_from_the_current_data_is_an_error(
    kind: str, reference_columns: dict[str, Any], current_columns: dict[str, Any]
) -> None:
    clean = _check(kind, reference_columns, current_columns)
    window = {k: v for k, v in current_columns.items() if k != "income"}
    report = _check(kind, reference_columns, window)
    income = _by_name(report)["income"]
    assert (income.status, income.message) == ("error", "not in the current data")
    _assert_untouched(report, clean, {"income"})
    assert report.ignored_columns == ()


def test_extra_current_columns_are_ignored_and_listed(
    kind: str, reference_columns: dict[str, Any], current_columns: dict[str, Any]
) -> None:
    clean = _check(kind, reference_columns, current_columns)
    extra = {"request_id": np.arange(800), "note": np.full(800, "x")}
    report = _check(kind, reference_columns, {**current_columns, **extra})
    assert report.ignored_columns == ("request_id", "note")
    assert [f.feature for f in report.features] == ["age", "income", "city", "visits"]
    _assert_untouched(report, clean, set())


def test_every_edge_at_once_still_checks_the_clean_feature(kind: str) -> None:
    rng = np.random.default_rng(5)
    reference = {
        "clean": rng.normal(size=1000),
        "nan": np.where(rng.random(1000) < 0.5, np.nan, rng.normal(size=1000)),
        "all_nan": np.full(1000, np.nan),
        "inf": np.append(rng.normal(size=990), [np.inf] * 10),
        "constant": np.zeros(1000),
        "words": rng.normal(size=1000),
        "gone": rng.normal(size=1000),
        "city": rng.choice(["a", "b"], size=1000),
    }
    current = {
        "clean": rng.normal(size=300),
        "nan": np.full(300, np.nan),
        "all_nan": rng.normal(size=300),
        "inf": np.append(rng.normal(size=290), [-np.inf] * 10),
        "constant": np.zeros(300),
        "words": np.array(["x"] * 300),
        "city": rng.choice(["c", "d"], size=300),
        "extra": np.ones(300),
    }
    report = _check(kind, reference, current)
    statuses = {f.feature: f.status for f in report.features}
    assert statuses == {
        "clean": "ok",
        "nan": "insufficient_data",
        "all_nan": "insufficient_data",
        "inf": "ok",
        "constant": "ok",
        "words": "error",
        "gone": "error",
        "city": "drift",
    }
    assert report.ignored_columns == ("extra",)
    assert report.share == pytest.approx(1 / 4)
    assert report.status == "ok"  # 1 of 4 computed features is under the 0.5 share
    clean = compare(
        _reference(kind, {"clean": reference["clean"]}), {"clean": current["clean"]}, DriftConfig()
    )
    assert _by_name(report)["clean"].statistics == clean.features[0].statistics
