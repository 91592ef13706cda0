"""The Drift screen (f) and the Overview's drift alerts, on the fixed catalogue plus the
drift fixture's checks (tests/tui/drift_fixture.py): order, colours, histograms, the
history chart, the filter, `x`, the empty state, and that opening it stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.coordinate import Coordinate
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.fixtures.settings import outside_ray
from tests.tui.catalogue_fixture import FRAUD, MAINT, NOW, build_fixed_catalogue
from tests.tui.drift_fixture import CHECKS, NEWEST, add_drift_checks, current_columns
from tests.tui.screen_text import shows
from workbench.catalogue import Catalogue
from workbench.catalogue.drift import CheckTarget, DriftLedger
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.drift.check import Histogram, Reference, compare
from workbench.core.drift.config import DriftConfig
from workbench.core.errors import NotFoundError
from workbench.core.settings import Settings
from workbench.services.drift_view import drift_checks, format_age, open_drift_alerts
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens import drift as drift_screen
from workbench.tui.screens.base import DataScreen
from workbench.tui.screens.drift import DriftScreen
from workbench.tui.widgets.drift_histogram import DriftHistogram, histogram_lines

SnapCompare = Callable[..., bool]
NEWEST_FIRST = [c.check_id for c in sorted(CHECKS, key=lambda c: c.minutes_ago)]


@pytest.fixture
def drift_home(tmp_path: Path) -> Path:
    """The fixed catalogue with the drift fixture's checks."""
    home = tmp_path / "home"
    build_fixed_catalogue(home)
    add_drift_checks(home)
    return home


@pytest.fixture
def drift_app(drift_home: Path) -> WorkbenchApp:
    """The real app on the drift catalogue, clock frozen at NOW."""
    return make_app(Workspace(outside_ray(drift_home), now=lambda: NOW, live=False))


async def until(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    """Wait (bounded) for `condition`."""
    for _ in range(300):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"waited in vain for {what}")


async def open_drift(pilot: Pilot[Any], app: WorkbenchApp) -> DriftScreen:
    """Press f and wait for the screen's first read (and its detail) to land."""
    await pilot.press("f")
    screen = app.screen
    assert isinstance(screen, DriftScreen)
    await until(pilot, lambda: screen.loaded_at is not None, "the drift read")
    await pilot.pause(0.05)
    return screen


def keys(table: DataTable[Any]) -> list[str]:
    """Row keys of `table`, top to bottom."""
    return [
        str(table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value)
        for row in range(table.row_count)
    ]


def column(table: DataTable[Any], header: str) -> list[Text]:
    """The cells under `header`, top to bottom."""
    return [table.get_row_at(row)[_column_index(table, header)] for row in range(table.row_count)]


def _column_index(table: DataTable[Any], header: str) -> int:
    return [str(c.key.value) for c in table.ordered_columns].index(header)


# -- the view ------------------------------------------------------------------------------


def test_checks_come_newest_first_with_ages_from_the_given_clock(drift_home: Path) -> None:
    read = drift_checks(outside_ray(drift_home), NOW)
    assert [c.check_id for c in read.checks] == NEWEST_FIRST
    assert read.checks[0].age_s == NEWEST.minutes_ago * 60
    assert read.detail is not None
    assert read.detail.check.check_id == NEWEST.check_id


def test_checks_filter_by_model_and_deployment(drift_home: Path) -> None:
    settings = outside_ray(drift_home)
    maint = drift_checks(settings, NOW, model=MAINT)
    assert [c.model for c in maint.checks] == [f"{MAINT}:1"]
    fraud = drift_checks(settings, NOW, deployment="fraud")
    assert {c.model_name for c in fraud.checks} == {FRAUD}
    assert len(fraud.checks) == 4


def test_a_check_in_detail_sorts_drift_first_and_charts_its_deployments_checks(
    drift_home: Path,
) -> None:
    detail = drift_checks(outside_ray(drift_home), NOW, selected=NEWEST.check_id).detail
    assert detail is not None
    statuses = [f.status for f in detail.features]
    assert statuses == ["drift"] * 3 + ["error", "insufficient_data", "ok", "ok"]
    amount = detail.features[0]
    assert (amount.feature, amount.method, amount.is_p_value) == ("amount", "ks", True)
    assert amount.value is not None
    assert amount.value < 0.05
    assert amount.threshold == 0.05
    assert amount.current_missing == pytest.approx(0.05)
    country = next(f for f in detail.features if f.feature == "country")
    assert country.unseen_share is not None
    assert 0.2 < country.unseen_share < 0.4
    assert detail.history_scope == "deployment fraud"
    fraud = [c for c in CHECKS if c.deployment == "fraud"]
    assert [p.check_id for p in detail.history] == [c.check_id for c in fraud]
    assert [p.hours_ago for p in detail.history] == [c.minutes_ago / 60 for c in fraud]


def test_open_alerts_are_the_versions_whose_newest_check_drifted(drift_home: Path) -> None:
    alerts = open_drift_alerts(outside_ray(drift_home), NOW)
    assert [(a.model, a.deployment, a.check_id) for a in alerts] == [
        (f"{FRAUD}:3", "fraud", "c0ffee000005"),
        (f"{FRAUD}:2", "fraud", "c0ffee000002"),
    ]
    assert alerts[0].drifted_features == ("amount", "merchant", "country")
    assert format_age(alerts[0].age_s) == "40m ago"
    assert format_age(alerts[1].age_s) == "3h ago"


def test_a_histogram_line_draws_both_shares_in_one_row() -> None:
    histogram = Histogram(("low", "high"), (0.5, 0.25), (0.25, 0.5))
    lines = histogram_lines(histogram, width=60, height=10).plain.splitlines()
    assert lines[0] == "■ reference  ■ current"
    low, high = lines[1], lines[2]
    # bars of 39 cells (60 - label 4 - a space - numbers 16): the larger share fills them
    assert low.count("▀") == 39
    assert low.count("▄") == 0
    assert "50.0% → 25.0%" in low
    # the reference's half (20 cells) on top of the current's full bar: 20 ▀ then 19 ▄
    assert high.count("▀") == 20
    assert high.count("▄") == 19
    assert "25.0% → 50.0%" in high
    assert max(len(line) for line in lines) <= 60


def test_a_histogram_too_tall_for_its_room_says_how_many_bins_it_left_out() -> None:
    labels = tuple(f"b{i}" for i in range(12))
    shares = tuple(1 / 12 for _ in labels)
    lines = histogram_lines(Histogram(labels, shares, shares), 60, 6).plain.splitlines()
    assert len(lines) == 6
    assert lines[-1] == "… 8 more bins"


# -- the screen ----------------------------------------------------------------------------


async def test_f_opens_drift_with_the_checks_newest_first(drift_app: WorkbenchApp) -> None:
    async with drift_app.run_test(size=(120, 40)) as pilot:
        screen = await open_drift(pilot, drift_app)
        checks = screen.query_one("#checks", DataTable)
        assert keys(checks) == NEWEST_FIRST
        drift = column(checks, "DRIFT")
        assert drift[0].plain == "drift 60%"
        assert "red" in str(drift[0].style)
        assert drift[1].plain == "ok 0%"
        assert "green" in str(drift[1].style)
        assert [c.plain for c in column(checks, "MODEL")][:2] == [
            "fraud_detect…:3",
            "predictive_m…:1",
        ]
        assert shows(drift_app, "fraud_detection:3 @fraud · last 1h")
        assert shows(drift_app, "drift: 3 of 5 features drifted, 60% (drift at 50%)")


async def test_features_are_coloured_by_status_drift_first(drift_app: WorkbenchApp) -> None:
    async with drift_app.run_test(size=(120, 40)) as pilot:
        screen = await open_drift(pilot, drift_app)
        features = screen.query_one("#features", DataTable)
        assert keys(features) == [
            "amount", "merchant", "country", "device_score", "tip", "age", "hour",
        ]  # fmt: skip
        statuses = column(features, "STATUS")
        assert [s.plain for s in statuses] == [
            "drift", "drift", "drift", "error", "too few", "ok", "ok",
        ]  # fmt: skip
        styles = [str(s.style) for s in statuses]
        assert styles[0] == "bold red"
        assert styles[3] == "magenta"
        assert styles[4] == "yellow"
        assert styles[5] == "green"
        values = [v.plain.strip() for v in column(features, "VALUE")]
        assert values[0].startswith("p=")
        assert values[3] == "-"
        assert column(features, "MISSING")[0].plain.strip() == "5.0%"
        assert column(features, "UNSEEN")[2].plain.strip().endswith("%")


async def test_moving_down_the_features_redraws_the_histogram(drift_app: WorkbenchApp) -> None:
    async with drift_app.run_test(size=(120, 40)) as pilot:
        screen = await open_drift(pilot, drift_app)
        histogram = screen.query_one("#histogram", DriftHistogram)
        assert histogram.border_title == "amount: reference vs current"
        first = histogram.histogram
        assert first is not None
        assert len(first.labels) == 10
        screen.query_one("#features", DataTable).focus()
        await pilot.press("down")
        await until(pilot, lambda: histogram.histogram is not first, "the merchant histogram")
        assert histogram.border_title == "merchant: reference vs current"
        merchant = histogram.histogram
        assert merchant is not None
        # the reference's categories, most frequent first, then the bucket for unseen ones
        assert merchant.labels == ("grocery", "online", "travel", "fuel", "(unseen)")
        assert merchant.reference[1] == pytest.approx(0.3, abs=0.03)
        assert merchant.current[1] == pytest.approx(0.6, abs=0.04)  # online went 30% -> 60%
        await pilot.press("down", "down")
        await until(pilot, lambda: histogram.histogram is None, "the error feature")
        assert "expected numbers" in histogram.note
        assert shows(drift_app, "expected numbers")


async def test_another_check_shows_its_own_features_and_history(drift_app: WorkbenchApp) -> None:
    async with drift_app.run_test(size=(120, 40)) as pilot:
        screen = await open_drift(pilot, drift_app)
        screen.query_one("#checks", DataTable).focus()
        await pilot.press("down")
        await until(
            pilot,
            lambda: screen._detail is not None and screen._detail.check.model_name == MAINT,
            "the file check's detail",
        )
        await pilot.pause(0.05)
        assert shows(drift_app, "predictive_maintenance:1 · today.parquet")
        assert (
            screen.query_one("#history").border_title
            == "Drifted share: model predictive_maintenance"
        )
        statuses = column(screen.query_one("#features", DataTable), "STATUS")
        assert {s.plain for s in statuses} == {"ok"}


async def test_a_narrow_terminal_drops_columns_and_a_wide_one_brings_them_back(
    drift_app: WorkbenchApp,
) -> None:
    async with drift_app.run_test(size=(120, 40)) as pilot:
        screen = await open_drift(pilot, drift_app)
        checks = screen.query_one("#checks", DataTable)
        features = screen.query_one("#features", DataTable)
        wide = [str(c.key.value) for c in features.ordered_columns]
        assert wide == ["FEATURE", "STATUS", "METH", "VALUE", "THRESH", "MISSING", "UNSEEN"]
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: len(checks.ordered_columns) == 3, "the narrow columns")
        assert [str(c.key.value) for c in features.ordered_columns] == [
            "FEATURE", "STATUS", "VALUE", "MISS", "UNSEEN",
        ]  # fmt: skip
        assert keys(checks) == NEWEST_FIRST
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: len(checks.ordered_columns) == 5, "the wide columns")


async def test_the_filter_keeps_the_checks_of_one_model(drift_app: WorkbenchApp) -> None:
    async with drift_app.run_test(size=(120, 40)) as pilot:
        screen = await open_drift(pilot, drift_app)
        await pilot.press("slash", *"predictive")
        checks = screen.query_one("#checks", DataTable)
        await until(pilot, lambda: checks.row_count == 1, "the filtered list")
        assert checks.border_title == "Checks (1 of 5)"
        await until(
            pilot,
            lambda: screen._detail is not None and screen._detail.check.model_name == MAINT,
            "the remaining check in detail",
        )


async def test_without_checks_the_screen_says_how_to_run_one(app: WorkbenchApp) -> None:
    notes: list[Notification] = []

    def keep_notifications(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification)

    async with app.run_test(size=(80, 24), message_hook=keep_notifications) as pilot:
        screen = await open_drift(pilot, app)
        assert screen.has_class("-empty")
        assert shows(app, "no drift checks yet: `workbench drift check NAME`")
        await pilot.press("x")
        await until(pilot, lambda: notes, "the warning")
    assert "select a check of a model version" in notes[0].message


class FakeCheck:
    """In place of run_json: records the command and stores a check as the command would."""

    def __init__(self, home: Path, error: Exception | None = None) -> None:
        self.home = home
        self.error = error
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, settings: Settings, *args: str) -> dict[str, Any]:
        self.calls.append(args)
        if self.error is not None:
            raise self.error
        reference = Reference.from_columns(current_columns(CHECKS[0]))
        report = compare(reference, current_columns(NEWEST), DriftConfig())
        target = CheckTarget(FRAUD, 3, "fraud", source="last 1h")
        with Catalogue(DuckDBBackend(self.home / "catalogue.duckdb")) as catalogue:
            check_id = DriftLedger(catalogue).save_check(target, report)
        return {"check_id": check_id, "model": f"{FRAUD}:3", **report.to_json()}


async def test_x_checks_the_selected_version_again_and_shows_the_new_check(
    drift_app: WorkbenchApp, drift_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = FakeCheck(drift_home)
    monkeypatch.setattr(drift_screen, "run_json", child)
    async with drift_app.run_test(size=(120, 40)) as pilot:
        screen = await open_drift(pilot, drift_app)
        await pilot.press("x")
        checks = screen.query_one("#checks", DataTable)
        await until(pilot, lambda: checks.row_count == len(CHECKS) + 1, "the new check")
        await until(pilot, lambda: screen._check_id not in NEWEST_FIRST, "its selection")
        # the new check is stamped with the real clock, so it sorts first
        assert keys(checks)[0] == screen._check_id
        assert checks.cursor_row == 0
    assert child.calls == [("drift", "check", f"{FRAUD}:3", "--deployment", "fraud")]


async def test_a_failed_check_becomes_a_notification_with_its_hint(
    drift_app: WorkbenchApp, drift_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = NotFoundError(f"{FRAUD}:3 has no reference profile", "workbench drift profile")
    monkeypatch.setattr(drift_screen, "run_json", FakeCheck(drift_home, refusal))
    notes: list[Notification] = []

    def keep_notifications(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification)

    async with drift_app.run_test(size=(120, 40), message_hook=keep_notifications) as pilot:
        screen = await open_drift(pilot, drift_app)
        await pilot.press("x")
        await until(pilot, lambda: any(n.title.endswith("refused") for n in notes), "refusal")
        assert isinstance(drift_app.screen, DriftScreen)
        assert screen.data is not None
    (note,) = [n for n in notes if n.title.endswith("refused")]
    assert note.message == f"{FRAUD}:3 has no reference profile\nworkbench drift profile"


async def test_the_overview_lists_the_open_drift_alerts(drift_app: WorkbenchApp) -> None:
    async with drift_app.run_test(size=(120, 40)) as pilot:
        screen = drift_app.screen
        assert isinstance(screen, DataScreen)
        await until(pilot, lambda: screen.loaded_at is not None, "the overview")
        assert shows(drift_app, "fraud_detection:3 @fraud 60% drifted 40m ago")
        assert shows(drift_app, "amount, merchant, country")
        assert shows(drift_app, "fraud_detection:2 @fraud 60% drifted 3h ago")
        assert screen.query_one("#alerts").border_subtitle == "2 open"


async def test_the_overview_says_when_no_drift_alert_is_open(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, DataScreen)
        await until(pilot, lambda: screen.loaded_at is not None, "the overview")
        assert shows(app, "no open drift alerts")


PROBE = textwrap.dedent(
    """
    import asyncio, json, sys
    from workbench.core.settings import load_settings
    from workbench.tui.app import make_app
    from workbench.tui.context import Workspace

    async def main():
        app = make_app(Workspace(load_settings(sys.argv[1]), live=False))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("f")
            for _ in range(200):
                await pilot.pause(0.05)
                if getattr(app.screen, "loaded_at", None) is not None:
                    break
            await pilot.press("down", "down")
            await pilot.pause(0.3)
            rows = app.screen.query_one("#features").row_count
        heavy = ("ray", "mlflow", "docker", "torch", "sklearn", "scipy")
        print(json.dumps({"rows": rows, "heavy": [m for m in heavy if m in sys.modules]}))

    asyncio.run(main())
    """
)


def test_opening_drift_imports_no_engine_and_no_scipy(drift_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(drift_home)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"rows": 7, "heavy": []}
