"""The Cluster screen with no cluster: it says so, and shows the catalogue file and its size."""

from __future__ import annotations

import json
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Static

from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.base import DataScreen
from workbench.tui.screens.cluster import ClusterScreen, human_bytes
from workbench.tui.widgets.confirm import ConfirmDialog


async def _loaded(app: WorkbenchApp, pilot: Pilot[None]) -> ClusterScreen:
    """Open the Cluster screen once the Overview has read (and let go of) the catalogue."""
    overview = app.screen
    assert isinstance(overview, DataScreen)
    for _ in range(100):
        if overview.data is not None:
            break
        await pilot.pause(0.02)
    await pilot.press("c")
    screen = app.screen
    assert isinstance(screen, ClusterScreen)
    for _ in range(100):
        if screen.data is not None:
            break
        await pilot.pause(0.02)
    assert screen.data is not None, "the cluster screen never loaded"
    return screen


def _text(screen: ClusterScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


async def test_without_a_cluster_it_says_so_and_shows_the_catalogue(
    app: WorkbenchApp, fixed_home: Path
) -> None:
    catalogue = fixed_home / "catalogue.duckdb"
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(app, pilot)
        assert _text(screen, "#head").startswith("no cluster: offline")
        assert "no cluster: offline" in _text(screen, "#nodes")
        shown = _text(screen, "#catalogue")
        assert f"file   {catalogue}" in shown
        assert f"size   {human_bytes(catalogue.stat().st_size)}" in shown
        assert "owner  none" in shown


async def test_a_saved_head_that_is_gone_shows_down(app: WorkbenchApp, fixed_home: Path) -> None:
    profile = {
        "address": "127.0.0.1:1", "dashboard_url": "http://127.0.0.1:2",
        "process_group": 2**22 + 12345, "cpus": 2, "gpus": 0,
        "started_at": "2026-11-30T09:00:00+00:00",
    }  # fmt: skip
    (fixed_home / "cluster.json").write_text(json.dumps(profile))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _loaded(app, pilot)
        head = _text(screen, "#head")
        assert "state      DOWN" in head
        assert "address    127.0.0.1:1" in head
        assert "the saved head is down" in _text(screen, "#nodes")


async def test_stop_asks_first_and_no_leaves_everything_alone(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await _loaded(app, pilot)
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ClusterScreen)
        await pilot.press("D")  # nothing saved: refused without a dialog
        await pilot.pause()
        assert isinstance(app.screen, ClusterScreen)
