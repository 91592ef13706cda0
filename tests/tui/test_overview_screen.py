"""The Overview on the fixed catalogue: runs in flight, a deployment's last minute, audit trail."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from pathlib import Path

from textual.widgets import Static

from tests.tui.catalogue_fixture import (
    MEM_TOTAL,
    NOW,
    RUNS,
    SAMPLES,
    cpu_at,
    drop_telemetry,
    gpu_at,
    mem_at,
)
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.services.overview import NodeTrend
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.overview import (
    NO_TELEMETRY,
    NO_TELEMETRY_SHORT,
    OverviewScreen,
    _nodes_text,
)
from workbench.tui.widgets.sparkline import BLOCKS

RUNNING_ID = next(run[0] for run in RUNS if run[2] == "running")


async def _loaded(app: WorkbenchApp, pilot: object) -> OverviewScreen:
    screen = app.screen
    assert isinstance(screen, OverviewScreen)
    for _ in range(100):
        if screen.data is not None:
            break
        await pilot.pause(0.02)  # type: ignore[attr-defined]
    assert screen.data is not None, "the overview never loaded"
    return screen


def _text(screen: OverviewScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


async def test_overview_shows_the_running_run_with_its_step_progress(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(app, pilot)
        running = _text(screen, "#running")
        # prepare finished, train running; its project's finished runs had four steps.
        assert f"{RUNNING_ID[:4]} predictive_maintenance" in running
        assert "train" in running
        assert "1/4 steps" in running
        assert "10m00s" in running  # started at T0 + 170 min, the clock reads T0 + 180 min
        assert running.count("\n") == 0  # only the one run is in flight


async def test_overview_summarises_the_last_minute_of_requests(
    app: WorkbenchApp, fixed_home: Path
) -> None:
    backend = DuckDBBackend(fixed_home / "catalogue.duckdb")
    try:
        rows = backend.query(
            "SELECT status_code, latency_ms FROM requests WHERE deployment_id = 'fraud' "
            "AND ts >= ? AND ts < ?",
            (NOW - timedelta(minutes=1), NOW),
        ).to_pylist()
    finally:
        backend.close()
    good = sorted(row["latency_ms"] for row in rows if row["status_code"] < 400)
    p95 = statistics.quantiles(good, n=100, method="inclusive")[94]
    errors = sum(1 for row in rows if row["status_code"] >= 500) / len(rows)
    expected = f"{len(rows) / 60:.1f} qps  p95 {p95:.1f} ms  {errors:.1%} 5xx"
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(app, pilot)
        deployments = _text(screen, "#deployments")
        assert deployments.startswith("fraud unreachable")  # recorded running; no cluster
        assert expected in deployments
        assert errors > 0  # the window holds a 5xx, so the rate is not trivially zero


async def test_overview_lists_audit_events_newest_first(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(app, pilot)
        lines = _text(screen, "#recent").splitlines()
        assert len(lines) == 5
        assert "deploy.canary" in lines[0]
        assert "try v3 on 10%" in lines[0]
        assert "alias.move" in lines[2]
        assert lines[-1].startswith("11-30 09:25 model.register")
        assert [line.split()[1] for line in lines] == sorted(
            (line.split()[1] for line in lines), reverse=True
        )


async def test_overview_without_a_cluster_says_so(app: WorkbenchApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _loaded(app, pilot)
        assert "no cluster: offline / history only" in _text(screen, "#cluster-line")
        assert "gpu-box-1" in _text(screen, "#nodes")
        assert "no open drift alerts" in _text(screen, "#alerts")


async def test_overview_draws_each_nodes_sparklines_and_current_values(app: WorkbenchApp) -> None:
    newest = SAMPLES - 1
    gpu_mean = (gpu_at(0, newest) + gpu_at(1, newest)) / 2
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(app, pilot)
        lines = _text(screen, "#nodes").splitlines()
        gpu_node = lines.index("gpu-box-1  2 GPU")
        cpu, mem, gpu = lines[gpu_node + 1 : gpu_node + 4]
        assert cpu.startswith(" CPU ")
        assert cpu.endswith(f" {cpu_at(0, newest):3.0f}%")
        assert mem.endswith(f" {100 * mem_at(0, newest) / MEM_TOTAL:3.0f}%")
        assert gpu.startswith(" GPU ")
        assert gpu.endswith(f" {gpu_mean:3.0f}%")
        # ten minutes at a sample every 30 s: twenty cells, each one sample's block
        cells = cpu.split()[1]
        assert len(cells) == 20
        assert all(cell in BLOCKS for cell in cells)
        expected = BLOCKS[int(cpu_at(0, newest) / 100 * len(BLOCKS))]
        assert cells[-1] == expected
        cpu_node = lines.index("cpu-box-2  no GPU")
        assert lines[cpu_node + 1].endswith(f" {cpu_at(1, newest):3.0f}%")
        assert lines[cpu_node + 2].startswith(" MEM ")
        assert lines[cpu_node + 3] == "gpu-box-1  2 GPU"  # a node without GPUs has no GPU line


async def test_overview_without_telemetry_says_how_to_get_it(
    app: WorkbenchApp, fixed_home: Path
) -> None:
    drop_telemetry(fixed_home)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(app, pilot)
        assert _text(screen, "#nodes").replace("\n", " ") == NO_TELEMETRY


def _trend(host: str, gpus: int) -> NodeTrend:
    return NodeTrend(host, host, (10.0, 32.4), (50.0, None), (70.0, 91.0), gpus)


def test_nodes_that_do_not_fit_become_one_line_each_then_a_count() -> None:
    trends = (_trend("a", 0), _trend("b", 2), _trend("c", 8))
    full = _nodes_text(trends, 22, 20).plain.splitlines()
    assert len(full) == 3 + 4 + 4  # a heading and CPU, MEM (and GPU) sparklines each
    compact = _nodes_text(trends, 22, 6).plain.splitlines()
    assert compact == ["a  no GPU", " C32% M50%", "b  2 GPU", " C32% M50% G91%",
                       "c  8 GPU", " C32% M50% G91%"]  # fmt: skip
    counted = _nodes_text(trends, 22, 4).plain.splitlines()
    assert counted == ["a  no GPU", " C32% M50%", "+2 more: c shows every node"]
    assert _nodes_text((), 22, 4).plain == NO_TELEMETRY_SHORT
    assert _nodes_text((), 60, 4).plain == NO_TELEMETRY


def test_the_cluster_line_names_a_shared_cluster_and_how_it_is_guarded() -> None:
    from workbench.services.cluster import ClusterProfile, ClusterStatus
    from workbench.services.overview import Overview
    from workbench.tui.screens.overview import _cluster_text

    shared = ClusterProfile("10.0.0.5:6379", "", 0, 0, 0, "2026-12-01T00:00:00+00:00",
                            name="team", remote=True)  # fmt: skip
    overview = Overview(cluster=ClusterStatus(profile=shared, up=True), running=(),
                        deployments=(), recent=(), window_end=datetime(2026, 12, 1))  # fmt: skip
    assert _cluster_text(overview).plain == (
        "shared cluster team at 10.0.0.5:6379: up, token auth  (Cluster screen: s switches)"
    )
