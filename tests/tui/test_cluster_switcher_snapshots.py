"""Snapshots of the cluster switcher and its connect form on the Cluster screen.

Two shared clusters are saved (one checks no token, shown in red); nothing listens on their
addresses, so both read as down on every machine. Paths are relative to the test's own
temporary directory and the clock is frozen, as in test_overview_snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.catalogue_fixture import NOW, build_fixed_catalogue
from tests.tui.test_cluster_switcher import save_shared
from workbench.core.settings import Settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.base import DataScreen
from workbench.tui.widgets.cluster_switcher import ClusterSwitcher
from workbench.tui.widgets.connect_form import ConnectForm

SnapCompare = Callable[..., bool]


@pytest.fixture
def switcher_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkbenchApp:
    """The app on the fixed catalogue at `home` with two shared clusters, clock frozen."""
    monkeypatch.chdir(tmp_path)
    build_fixed_catalogue(Path("home"))
    settings = Settings(home=Path("home"))
    save_shared(settings, "open-lab", "127.0.0.1:2", insecure=True)
    save_shared(settings, "gpu-lab", "127.0.0.1:1")  # saved last: the one in use
    return make_app(Workspace(settings, now=lambda: NOW, live=False))


async def _until(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"waited in vain for {what}")


async def _switcher(pilot: Pilot[Any]) -> ClusterSwitcher:
    """Cluster screen loaded, then the switcher with its list read."""
    overview = pilot.app.screen
    assert isinstance(overview, DataScreen)
    await _until(pilot, lambda: overview.loaded_at is not None, "the overview")
    await pilot.press("c")
    screen = pilot.app.screen
    assert isinstance(screen, DataScreen)
    await _until(pilot, lambda: screen.loaded_at is not None, "the cluster screen")
    await pilot.press("s")
    switcher = pilot.app.screen
    assert isinstance(switcher, ClusterSwitcher)
    await _until(pilot, lambda: switcher.rows, "the saved clusters")
    return switcher


def test_cluster_switcher(snap_compare: SnapCompare, switcher_app: WorkbenchApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _switcher(pilot)
        await pilot.pause(0.1)

    assert snap_compare(switcher_app, terminal_size=(120, 40), run_before=run_before)


def test_connect_form_with_a_refusal(snap_compare: SnapCompare, switcher_app: WorkbenchApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _switcher(pilot)
        await pilot.press("n")
        form = pilot.app.screen
        assert isinstance(form, ConnectForm)
        await pilot.press(*"Lab", "enter", *"10.0.0.5:6379", "ctrl+s")
        await _until(pilot, lambda: form.query_one("#connect-error").display, "the refusal")
        await pilot.pause(0.1)

    assert snap_compare(switcher_app, terminal_size=(120, 40), run_before=run_before)
