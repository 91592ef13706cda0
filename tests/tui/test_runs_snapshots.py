"""Snapshots of the Runs screen on the fixed catalogue, at 120x40 and 80x24."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.catalogue_fixture import NOW, RUNS, build_fixed_catalogue
from workbench.core.settings import Settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.runs import RunsScreen

SnapCompare = Callable[..., bool]


@pytest.fixture
def snapshot_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkbenchApp:
    """The app on the fixed catalogue at the relative home `home`, so the top bar is stable."""
    monkeypatch.setattr("workbench.catalogue.pipelines.utcnow", lambda: NOW)  # no stale sweep
    monkeypatch.chdir(tmp_path)
    build_fixed_catalogue(tmp_path / "home")
    settings = Settings(home=Path("home"), may_join_ray=False)
    return make_app(Workspace(settings, now=lambda: NOW, live=False))


async def show_runs(pilot: Pilot[Any]) -> None:
    """Open Runs and wait (bounded) for the fixture's rows."""
    await pilot.press("r")
    for _ in range(200):
        await pilot.pause(0.02)
        screen = pilot.app.screen
        if isinstance(screen, RunsScreen) and screen.table.row_count == len(RUNS):
            return
    raise AssertionError("the Runs table never filled")


async def filtered_sorted_marked(pilot: Pilot[Any]) -> None:
    await show_runs(pilot)
    await pilot.press("slash", *"project = 'fraud_detection'", "enter")
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    column = screen.table.columns.index("metrics.auc")
    await pilot.press(*["right"] * column, "s", "space", "down", "space")
    await pilot.pause()


async def bad_filter(pilot: Pilot[Any]) -> None:
    """A pasted filter that does not parse: the error shows, the six rows stay."""
    await show_runs(pilot)
    await pilot.press("slash")
    pilot.app.screen.query_one("#filter", Input).value = "metrics.auc >> 1"
    await pilot.pause()


def test_runs_120x40(snap_compare: SnapCompare, snapshot_app: WorkbenchApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=(120, 40), run_before=show_runs)


def test_runs_80x24(snap_compare: SnapCompare, snapshot_app: WorkbenchApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=show_runs)


def test_runs_filtered_sorted_marked_120x40(
    snap_compare: SnapCompare, snapshot_app: WorkbenchApp
) -> None:
    assert snap_compare(snapshot_app, terminal_size=(120, 40), run_before=filtered_sorted_marked)


def test_runs_filter_error_80x24(snap_compare: SnapCompare, snapshot_app: WorkbenchApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=bad_filter)
