"""The Models screen's Quality panel: the selected version's labelled quality over the last day.

On the fixed catalogue plus the delayed labels of tests/tui/quality_fixture.py: v2 of
fraud_detection has labelled rows over six hours, v3 over the last one, v1 none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.fixtures.settings import outside_ray
from tests.tui.catalogue_fixture import FRAUD, MAINT, NOW, build_fixed_catalogue
from tests.tui.quality_fixture import SERVED, add_feedback
from tests.tui.screen_text import shows
from tests.tui.test_models_screen import open_models, until
from tests.tui.test_models_snapshots import showing
from workbench.core.quality import QualityMetrics
from workbench.core.settings import Settings
from workbench.services.quality_view import (
    DeploymentQuality,
    QualityPoint,
    VersionQuality,
    serving_deployments,
    version_quality,
)
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.models import ModelsScreen
from workbench.tui.widgets.quality_panel import QualityPanel, quality_text
from workbench.tui.widgets.sparkline import BLOCKS

SnapCompare = Callable[..., bool]


@pytest.fixture
def labelled_home(fixed_home: Path) -> Path:
    """The fixed catalogue with served rows and labels for the `fraud` deployment."""
    add_feedback(fixed_home)
    return fixed_home


@pytest.fixture
def labelled_app(labelled_home: Path) -> WorkbenchApp:
    """The real app on the labelled catalogue, clock frozen at NOW."""
    return make_app(Workspace(outside_ray(labelled_home), now=lambda: NOW, live=False))


def panel_text(screen: ModelsScreen) -> str:
    """What the Quality panel draws now, as plain text."""
    return screen.query_one(QualityPanel).render().plain


def labelled_rows(version: int, since: timedelta) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) of the fixture's labelled rows of `version` served in the `since`
    before NOW: what the quality of that window is computed from."""
    picked = [r for r in SERVED if r.version == version and r.label is not None
              and NOW - since <= r.ts < NOW]  # fmt: skip
    return np.array([r.label for r in picked]), np.array([r.score for r in picked])


async def select_version(pilot: Pilot[Any], screen: ModelsScreen, row: int) -> None:
    """Focus the versions table and put its cursor on `row`."""
    versions = screen.query_one("#versions", DataTable)
    versions.focus()
    versions.move_cursor(row=row)
    await until(pilot, lambda: versions.cursor_row == row, f"version row {row}")


def test_the_view_keeps_the_selected_versions_buckets(labelled_home: Path) -> None:
    settings = outside_ray(labelled_home)
    assert serving_deployments(settings, FRAUD) == ["fraud"]
    assert serving_deployments(settings, MAINT) == []
    v2 = version_quality(settings, FRAUD, 2, now=NOW)
    (fraud,) = v2.deployments
    assert (fraud.deployment, fraud.kind, len(fraud.points)) == ("fraud", "classifier", 24)
    assert (v2.start, v2.end) == (NOW - timedelta(hours=24), NOW)
    labels, _ = labelled_rows(2, timedelta(hours=24))
    assert v2.rows == fraud.rows == len(labels) > 0  # v3's rows are not counted
    assert [p.start for p in fraud.points if p.metrics] == [
        NOW - timedelta(hours=h) for h in range(6, 0, -1)
    ]
    v3 = version_quality(settings, FRAUD, 3, now=NOW)
    assert v3.rows == len(labelled_rows(3, timedelta(hours=1))[0]) > 0
    assert version_quality(settings, FRAUD, 1, now=NOW).rows == 0
    assert version_quality(settings, MAINT, 1, now=NOW).deployments == ()


def test_a_regressor_shows_rmse_and_mae_of_its_busiest_deployment() -> None:
    hour = timedelta(hours=1)
    start = NOW - 3 * hour

    def points(*rmse: float | None) -> tuple[QualityPoint, ...]:
        return tuple(
            QualityPoint(start + i * hour, start + (i + 1) * hour,
                         None if value is None
                         else QualityMetrics("regressor", 10, rmse=value, mae=value / 2))
            for i, value in enumerate(rmse)
        )  # fmt: skip

    busy = DeploymentQuality("pumps", "regressor", points(4.0, None, 12.5))
    quiet = DeploymentQuality("pumps-eu", "regressor", points(None, None, 1.0))
    found = VersionQuality(MAINT, 1, start, NOW, hour, (busy, quiet))
    lines = quality_text(found, 60).plain.splitlines()
    # 4.0 of the largest 12.5 is the third block of eight; the empty hour is a dot
    assert lines[0].split() == ["RMSE", "▃·█", "12.5"], lines
    assert lines[1].split() == ["MAE", "▃·█", "6.250"], lines
    assert lines[2] == "newest values: 11:00-12:00 UTC"
    assert lines[3] == "20 labelled rows on pumps (+1 more)"
    assert found.rows == 30


async def test_the_panel_shows_the_selected_versions_quality(
    labelled_app: WorkbenchApp, labelled_home: Path
) -> None:
    settings = outside_ray(labelled_home)
    async with labelled_app.run_test(size=(120, 40)) as pilot:
        screen = await open_models(pilot, labelled_app)
        for row, version in ((0, 3), (1, 2)):
            await select_version(pilot, screen, row)
            expected = version_quality(settings, FRAUD, version, now=NOW)
            latest = expected.deployments[0].latest
            assert latest is not None
            assert latest.metrics is not None
            metrics = latest.metrics
            title = f"Quality v{version}: last 24 h, hourly"
            await until(pilot, lambda t=title: screen.query_one(QualityPanel).border_title == t,
                        f"the panel to show v{version}")  # fmt: skip
            text = panel_text(screen)
            assert f"{metrics.accuracy:.3f}" in text.splitlines()[0], text
            assert f"{metrics.auc:.3f}" in text.splitlines()[1], text
            assert f"precision {metrics.precision:.3f}  recall {metrics.recall:.3f}" in text
            assert "newest values: 11:00-12:00 UTC" in text
            assert f"{expected.rows:,} labelled rows on fraud" in text
            # one block per hour with labels, a gap for each hour without
            trend = text.splitlines()[0]
            hours = 6 if version == 2 else 1
            assert sum(trend.count(block) for block in BLOCKS) == hours, trend
        # the newest hour of v2, computed from the stored rows themselves
        labels, scores = labelled_rows(2, timedelta(hours=1))
        accuracy = float(((scores >= 0.5) == (labels == 1)).mean())
        assert f"{accuracy:.3f}" in panel_text(screen).splitlines()[0]
        assert shows(labelled_app, "Quality v2: last 24 h, hourly")
        count = len(labelled_rows(2, timedelta(hours=24))[0])
        assert shows(labelled_app, f"{count:,} labelled rows on fraud")


async def test_no_labels_says_how_to_send_them(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_models(pilot, app)
        reads = 0
        fetch = screen.fetch

        def counted() -> Any:
            nonlocal reads
            reads += 1
            return fetch()

        screen.fetch = counted  # type: ignore[method-assign]
        await until(pilot, lambda: "v3 has no labelled rows" in panel_text(screen), "fraud v3")
        assert "no labels yet: `workbench feedback fraud --labels FILE`" in panel_text(screen)
        # another model: read again, for its versions
        screen.query_one("#models", DataTable).move_cursor(row=1)
        await until(pilot, lambda: "no deployment serves" in panel_text(screen), "the other model")
        text = panel_text(screen)
        assert "no labels yet: `workbench feedback DEPLOYMENT --labels FILE`" in text
        assert f"(no deployment serves {MAINT})" in text
        assert shows(app, "no labels yet")
        await pilot.pause(0.3)
        assert reads == 1, "refilling the tables must not start another read"


def test_models_quality_snapshot(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the relative home `home` keeps paths on screen the same on every machine
    monkeypatch.chdir(tmp_path)
    build_fixed_catalogue(Path("home"))
    add_feedback(Path("home"))
    app = make_app(Workspace(Settings(home=Path("home")), now=lambda: NOW, live=False))
    # enter on the model focuses its versions; down highlights v2
    assert snap_compare(app, terminal_size=(120, 40), run_before=showing("m", "enter", "down"))
