"""Snapshots of Run detail (finished, failed, the gate) and Compare on the fixed catalogue.

The home is given as the relative path `home` (the test runs beside it), so the catalogue
path in the top bar is the same on every machine and the SVGs compare byte for byte.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.catalogue_fixture import NOW, RUNS
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.base import DataScreen
from workbench.tui.screens.compare import CompareScreen
from workbench.tui.screens.run_detail import RunDetailScreen

FINISHED = RUNS[0][0]
FAILED = RUNS[2][0]
RUNNING = RUNS[5][0]  # inside the fixed catalogue's telemetry: resource charts
COMPARED = [RUNS[0][0], RUNS[1][0], RUNS[4][0]]
Snap = Callable[..., bool]


@pytest.fixture
def snapshot_app(
    fixed_home: Path, fixed_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> WorkbenchApp:
    """The app on the fixed catalogue, its home named by a path that never changes."""
    monkeypatch.chdir(fixed_home.parent)
    settings = dataclasses.replace(fixed_workspace.settings, home=Path(fixed_home.name))
    return make_app(Workspace(settings, now=lambda: NOW, live=False))


def opened(screen: DataScreen[Any]) -> Callable[[Pilot[None]], Any]:
    """A run_before that pushes `screen` and waits (bounded) for its data."""

    async def run_before(pilot: Pilot[None]) -> None:
        pilot.app.push_screen(screen)
        for _ in range(200):
            await pilot.pause(0.02)
            if screen.data is not None:
                break
        assert screen.data is not None, "the screen never loaded"
        await pilot.pause()

    return run_before


def test_finished_run(snap_compare: Snap, snapshot_app: WorkbenchApp) -> None:
    assert snap_compare(
        snapshot_app, terminal_size=(120, 40), run_before=opened(RunDetailScreen(FINISHED))
    )


def test_failed_run_with_its_traceback(snap_compare: Snap, snapshot_app: WorkbenchApp) -> None:
    assert snap_compare(
        snapshot_app, terminal_size=(120, 40), run_before=opened(RunDetailScreen(FAILED))
    )


def test_running_run_with_its_resource_charts(
    snap_compare: Snap, snapshot_app: WorkbenchApp
) -> None:
    assert snap_compare(
        snapshot_app, terminal_size=(120, 40), run_before=opened(RunDetailScreen(RUNNING))
    )


def test_gate_of_a_finished_run(snap_compare: Snap, snapshot_app: WorkbenchApp) -> None:
    assert snap_compare(
        snapshot_app, terminal_size=(120, 40), press=["g"],
        run_before=opened(RunDetailScreen(FINISHED)),
    )  # fmt: skip


def test_failed_run_at_80x24(snap_compare: Snap, snapshot_app: WorkbenchApp) -> None:
    assert snap_compare(
        snapshot_app, terminal_size=(80, 24), run_before=opened(RunDetailScreen(FAILED))
    )


def test_compare_three_runs(snap_compare: Snap, snapshot_app: WorkbenchApp) -> None:
    assert snap_compare(
        snapshot_app, terminal_size=(120, 40), run_before=opened(CompareScreen(COMPARED))
    )


def test_compare_at_80x24(snap_compare: Snap, snapshot_app: WorkbenchApp) -> None:
    assert snap_compare(
        snapshot_app, terminal_size=(80, 24), run_before=opened(CompareScreen(COMPARED[:2]))
    )
