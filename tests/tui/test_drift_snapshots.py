"""Snapshots of the Drift screen (f) and of the Overview with open drift alerts, on the
fixed catalogue plus the drift fixture's checks under the relative home `home` (the test
runs in its own temporary directory), so every path on screen is the same everywhere."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.catalogue_fixture import NOW, build_fixed_catalogue
from tests.tui.drift_fixture import add_drift_checks
from tests.tui.test_drift_screen import until
from workbench.core.settings import Settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.base import DataScreen

SnapCompare = Callable[..., bool]


@pytest.fixture
def snapshot_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkbenchApp:
    """The drift catalogue under the relative home `home`: the same paths on every machine."""
    monkeypatch.chdir(tmp_path)
    build_fixed_catalogue(Path("home"))
    add_drift_checks(Path("home"))
    settings = dataclasses.replace(Settings(home=Path("home")), may_join_ray=False)
    return make_app(Workspace(settings, now=lambda: NOW, live=False))


def showing(key: str | None, *then: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the Overview, press `key` and wait for its read, then press `then`."""

    async def run_before(pilot: Pilot[Any]) -> None:
        first = pilot.app.screen
        assert isinstance(first, DataScreen)
        await until(pilot, lambda: first.loaded_at is not None, "the overview")
        if key is not None:
            await pilot.press(key)
            screen = pilot.app.screen
            assert isinstance(screen, DataScreen)
            await until(pilot, lambda: screen.loaded_at is not None, f"screen {key}")
        if then:
            await pilot.press(*then)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_drift_snapshot(snap_compare: SnapCompare, snapshot_app: WorkbenchApp, size: Any) -> None:
    assert snap_compare(snapshot_app, terminal_size=size, run_before=showing("f"))


def test_drift_snapshot_of_a_categorical_feature(
    snap_compare: SnapCompare, snapshot_app: WorkbenchApp
) -> None:
    # tab moves to the features table; down twice: country, with its unseen categories
    run_before = showing("f", "tab", "down", "down")
    assert snap_compare(snapshot_app, terminal_size=(120, 40), run_before=run_before)


def test_overview_with_drift_alerts_snapshot(
    snap_compare: SnapCompare, snapshot_app: WorkbenchApp
) -> None:
    assert snap_compare(snapshot_app, terminal_size=(120, 40), run_before=showing(None))
