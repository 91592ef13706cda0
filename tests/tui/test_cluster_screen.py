"""The Cluster screen with no cluster: it says so, and shows the catalogue file and its size."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import psutil
from textual.pilot import Pilot
from textual.widgets import Static

from tests.tui.catalogue_fixture import (
    GIB,
    MEM_TOTAL,
    SAMPLES,
    TELEMETRY_NODES,
    cpu_at,
    drop_telemetry,
    gpu_at,
    mem_at,
)
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.base import DataScreen
from workbench.tui.screens.cluster import ClusterScreen, human_bytes
from workbench.tui.widgets.chart import Chart
from workbench.tui.widgets.confirm import ConfirmDialog
from workbench.tui.widgets.node_panel import NodePanel


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


async def test_each_node_shows_its_newest_sample_and_the_hours_charts(app: WorkbenchApp) -> None:
    newest = SAMPLES - 1
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(app, pilot)
        assert _text(screen, "#telemetry-source").startswith("live: the cluster's samplers (2")
        panels = [str(panel.content) for panel in screen.query(NodePanel)]
        assert [panel.split()[0] for panel in panels] == ["cpu-box-2", "gpu-box-1"]
        cpu_box, gpu_box = panels
        assert f"{cpu_at(1, newest):3.0f}%" in cpu_box.splitlines()[1]
        assert f"{mem_at(1, newest) / GIB:.1f}/{MEM_TOTAL / GIB:.1f} GiB" in cpu_box
        assert "GPU  no GPU" in cpu_box
        assert "GPU0 NVIDIA H100 80GB HBM3" in gpu_box
        assert "GPU1 NVIDIA H100 80GB HBM3" in gpu_box
        utilisation = [line for line in gpu_box.splitlines() if line.startswith(" UTL ")]
        assert [line.split("%")[0].split()[-1] for line in utilisation] == [
            f"{gpu_at(0, newest):.0f}",
            f"{gpu_at(1, newest):.0f}",
        ]
        cpu, memory, gpu = screen.query(Chart)
        assert [line.name for line in cpu.series] == [
            host for _, host, _ in reversed(TELEMETRY_NODES)
        ]
        assert [y for _, y in cpu.series[1].points] == [cpu_at(0, i) for i in range(SAMPLES)]
        assert cpu.series[1].points[-1][0] < 0  # minutes ago
        assert [y for _, y in memory.series[0].points][-1] == 100 * mem_at(1, newest) / MEM_TOTAL
        assert [line.name for line in gpu.series] == ["gpu-box-1 GPU0", "gpu-box-1 GPU1"]
        assert [y for _, y in gpu.series[1].points] == [gpu_at(1, i) for i in range(SAMPLES)]


async def test_without_fresh_samples_it_samples_this_machine(
    app: WorkbenchApp, fixed_home: Path
) -> None:
    drop_telemetry(fixed_home)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(app, pilot)
        assert _text(screen, "#telemetry-source").startswith("live: this machine")
        (panel,) = screen.query(NodePanel)
        assert str(panel.content).split()[0] == socket.gethostname()
        assert f"{psutil.cpu_count()} cores" in str(panel.content)
        assert all(not chart.series or not any(s.points for s in chart.series)
                   for chart in screen.query(Chart))  # fmt: skip
