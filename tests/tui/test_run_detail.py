"""Run detail and Compare on the fixed catalogue: what a run shows, its panels, the param diff."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import SelectionList, Static

from tests.tui.catalogue_fixture import (
    MEM_TOTAL,
    NOW,
    RUNS,
    SAMPLES,
    T0,
    TRACEBACK,
    cpu_at,
    gpu_at,
    mem_at,
    sample_ts,
)
from workbench.catalogue.pipelines import PipelineLedger
from workbench.core.entities import Run, RunStatus
from workbench.core.settings import Settings, load_settings
from workbench.owner import open_catalogue
from workbench.services.runs import run_log
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.base import DataScreen
from workbench.tui.screens.compare import CompareScreen
from workbench.tui.screens.run_detail import CHART_PREFS, NO_RUN_TELEMETRY, RunDetailScreen
from workbench.tui.widgets.chart import Chart, ChartPicker

FINISHED = RUNS[0][0]  # fraud_detection, lr 0.1, auc 0.912, model fraud_detection:1
FAILED = RUNS[2][0]  # fraud_detection, failed in train with TRACEBACK
SIBLING = RUNS[1][0]  # lr 0.05, n_estimators 200, max_depth 6
RUNNING = RUNS[5][0]  # predictive_maintenance, started 10 minutes before NOW: has telemetry
BEST = RUNS[4][0]  # lr 0.05, n_estimators 400, max_depth 6: differs from SIBLING in one param


async def open_screen(app: WorkbenchApp, pilot: Pilot[None], screen: DataScreen[Any]) -> None:
    """Push `screen` and wait (bounded) until its first fetch has landed."""
    app.push_screen(screen)
    for _ in range(200):
        await pilot.pause(0.02)
        if screen.data is not None or screen.loaded_at is not None:
            break
        if screen._last_error is not None:
            return
    await pilot.pause()
    assert screen.data is not None or screen._last_error is not None, "the screen never loaded"


def text_of(screen: DataScreen[Any], selector: str) -> str:
    """What a Static shows, as plain text."""
    console = Console(file=io.StringIO(), width=100, record=True, color_system=None)
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


async def test_a_finished_run_shows_params_metrics_steps_and_lineage(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        status = text_of(screen, "#run-status")
        assert "finished" in status
        assert "attempt 1" in status
        assert "6m00s" in status
        assert "fraud_detection:1" in status
        params = text_of(screen, "#run-params")
        for key, value in RUNS[0][5].items():
            assert key in params
            assert value in params
        metrics = text_of(screen, "#run-metrics")
        assert "0.912" in metrics
        assert "0.31" in metrics
        steps = text_of(screen, "#run-steps").splitlines()
        for step in ("prepare", "train", "evaluate", "register"):
            row = next(line for line in steps if step in line)
            assert "finished" in row
            assert "ran" in row
            assert "25s" in row
        lineage = text_of(screen, "#run-lineage")
        assert "0e3f0c9a7b1d" in lineage
        assert "sha256:0f00d" in lineage
        assert "ray 2.60.0" in lineage


async def test_a_cached_step_says_so(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(SIBLING)
        await open_screen(app, pilot, screen)
        steps = text_of(screen, "#run-steps").splitlines()
        assert "cached" in next(line for line in steps if "prepare" in line)
        assert "ran" in next(line for line in steps if "train" in line)


async def test_the_charts_draw_each_metric_history(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        charts = list(screen.query(Chart))
        assert [chart.title for chart in charts] == ["auc", "loss"]
        assert [len(chart.series[0].points) for chart in charts] == [10, 10]
        assert charts[0].series[0].points[-1] == (10, 0.912)
        drawn = charts[0].render().plain
        assert "auc" in drawn.splitlines()[0]
        assert any("\u2800" <= char <= "\u28ff" for char in drawn), "no braille line was drawn"


async def test_a_failed_run_shows_its_traceback(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FAILED)
        await open_screen(app, pilot, screen)
        assert screen.panel == "traceback"  # a failed run opens on its traceback
        await pilot.press("l")
        assert "no log kept for this run" in text_of(screen, "#run-text-body")
        await pilot.press("t")
        shown = text_of(screen, "#run-text-body")
        assert TRACEBACK.splitlines()[-1][:60] in shown.replace("\n", " ")
        assert screen.query_one("#run-text").border_title == "Traceback"
        assert "ValueError: Input contains NaN" in text_of(screen, "#run-status")


async def test_a_finished_run_has_no_traceback(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        await pilot.press("t")
        assert "no traceback: the run is finished" in text_of(screen, "#run-text-body")


async def test_g_shows_the_gate_of_the_registered_model(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        await pilot.press("g")
        gate = " ".join(text_of(screen, "#run-text-body").split())
        assert gate.startswith("passed")
        assert "recorded with model fraud_detection:1" in gate
        assert "✓ metrics.auc >= 0.9" in gate
        assert "auc = 0.912" in gate


async def test_g_shows_a_refusing_gate_check_by_check(app: WorkbenchApp, fixed_home: Path) -> None:
    verdict = {
        "passed": False,
        "checks": [
            {"name": "metrics.auc >= 0.9", "passed": False, "detail": "auc = 0.702"},
            {"name": "max regression 0.02", "passed": True, "detail": "no champion"},
        ],
    }
    with open_catalogue(Settings(home=fixed_home)) as catalogue:
        PipelineLedger(catalogue).set_gate(FAILED, verdict)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FAILED)
        await open_screen(app, pilot, screen)
        await pilot.press("g")
        gate = " ".join(text_of(screen, "#run-text-body").split())
        assert gate.startswith("refused")
        assert "recorded with the run" in gate
        assert "✗ metrics.auc >= 0.9" in gate
        assert "✓ max regression 0.02" in gate


async def test_a_run_without_a_gate_says_so(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FAILED)
        await open_screen(app, pilot, screen)
        await pilot.press("g")
        assert "no gate verdict recorded" in text_of(screen, "#run-text-body")


async def test_a_detached_run_shows_the_tail_of_its_ray_job_log(
    app: WorkbenchApp, fixed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = f"workbench-{FINISHED[:12]}"
    logs = tmp_path / "raytmp" / "ray" / "session_2026-11-30_09-00-00_1" / "logs"
    logs.mkdir(parents=True)
    (logs / f"job-driver-{job_id}.log").write_text(
        "".join(f"epoch {n}\n" for n in range(500)) + f"run {FINISHED[:12]} finished\n"
    )
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "raytmp"))
    with open_catalogue(Settings(home=fixed_home)) as catalogue:
        PipelineLedger(catalogue).set_driver(FINISHED, {"job_id": job_id, "pid": 1})
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        shown = text_of(screen, "#run-text-body").splitlines()
        assert shown[0] == f"driver log of Ray job {job_id}"
        assert shown[-1] == f"run {FINISHED[:12]} finished"
        assert "epoch 499" in shown
        assert "epoch 300" not in shown


def test_run_log_says_why_there_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    settings = Settings(home=tmp_path / "home")
    run = Run(FINISHED, "fraud_detection", None, RunStatus.FINISHED, 1, datetime(2026, 11, 30, 9))
    foreground = run_log(settings, run, {"host": "box", "pid": 4242, "job_id": None})
    assert foreground.lines == ()
    assert foreground.source is None
    assert "no log kept for this run" in foreground.note
    assert "pid 4242 on box" in foreground.note
    assert "no log kept" in run_log(settings, run, {}).note
    missing = run_log(settings, run, {"job_id": "workbench-0123456789ab"})
    assert missing.lines == ()
    assert "not on this machine" in missing.note
    assert str(tmp_path / "ray") in missing.note


async def test_a_run_launched_from_the_app_shows_its_launch_log(
    app: WorkbenchApp, fixed_home: Path
) -> None:
    logs = fixed_home / "logs"
    logs.mkdir()
    created = datetime(2026, 11, 30, 9).replace(tzinfo=UTC).timestamp()
    for name, run_id, last in (
        ("run-fraud_detection-20261130T085959000000.log", FINISHED, "registered v1"),
        ("run-fraud_detection-20261130T091959000000.log", SIBLING, "another run's output"),
    ):
        (logs / name).write_text(f"run {run_id[:12]} fraud_detection\nprepare ok\n{last}\n")
        os.utime(logs / name, (created + 30, created + 30))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        shown = text_of(screen, "#run-text-body").splitlines()
        assert shown[0] == "output of run-fraud_detection-20261130T085959000000.log"
        assert shown[1:] == [f"run {FINISHED[:12]} fraud_detection", "prepare ok", "registered v1"]


async def test_k_picks_the_charts_and_remembers_them_for_the_project(
    app: WorkbenchApp,
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(app.screen, ChartPicker)
        assert app.screen.query_one(SelectionList).selected == ["auc", "loss"]
        await pilot.press("down", "space", "escape")  # untick loss
        await pilot.pause()
        assert app.screen is screen
        assert [chart.title for chart in screen.query(Chart)] == ["auc"]
        assert app.workspace.prefs()[CHART_PREFS] == {"fraud_detection": ["auc"]}
        await pilot.press("escape")
        other = RunDetailScreen(BEST)
        await open_screen(app, pilot, other)
        assert [chart.title for chart in other.query(Chart)] == ["auc"]


async def test_esc_goes_back(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        under = app.screen
        await open_screen(app, pilot, RunDetailScreen(FINISHED))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is under


async def test_an_unknown_run_says_so(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen("ffff0000")
        await open_screen(app, pilot, screen)
        assert "no run matches 'ffff0000'" in text_of(screen, "Problem")


async def test_compare_shows_only_the_params_that_differ(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = CompareScreen([SIBLING, BEST])
        await open_screen(app, pilot, screen)
        params = text_of(screen, "#compare-params")
        assert "n_estimators" in params
        assert "200" in params
        assert "400" in params
        assert "max_depth" not in params
        assert "lr" not in params.split()
        assert "2 params equal in all runs" in params
        metrics = text_of(screen, "#compare-metrics")
        assert "0.941" in metrics
        assert "0.953" in metrics
        runs = text_of(screen, "#compare-runs")
        assert SIBLING[:8] in runs
        assert BEST[:8] in runs


async def test_compare_overlays_one_line_per_run(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = CompareScreen([FINISHED, SIBLING, BEST])
        await open_screen(app, pilot, screen)
        charts = list(screen.query(Chart))
        assert [chart.title for chart in charts] == ["auc", "loss"]
        for chart in charts:
            assert [line.name for line in chart.series] == [FINISHED[:8], SIBLING[:8], BEST[:8]]
            assert len({line.color for line in chart.series}) == 3
        header = charts[0].render().plain.splitlines()[0]
        assert all(run[:8] in header for run in (FINISHED, SIBLING, BEST))  # the legend


async def test_compare_needs_two_runs(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = CompareScreen([FINISHED])
        await open_screen(app, pilot, screen)
        assert "compare needs two or more runs" in text_of(screen, "Problem")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)


async def test_compare_across_projects_names_each_project(app: WorkbenchApp) -> None:
    maintenance = RUNS[3][0]  # predictive_maintenance: epochs, hidden, lr
    async with app.run_test(size=(120, 40)) as pilot:
        screen = CompareScreen([FINISHED, maintenance])
        await open_screen(app, pilot, screen)
        runs = text_of(screen, "#compare-runs")
        assert "fraud_detection" in runs
        assert "predictive_maintenance" in runs
        rows = {
            line.split()[0]: line.split()[1:]
            for line in text_of(screen, "#compare-params").splitlines()
            if line.strip()
        }
        assert rows["epochs"] == ["-", "10"]  # a param one run lacks differs
        assert rows["lr"] == ["0.1", "0.001"]
        assert "0 params equal in all runs" in text_of(screen, "#compare-params")


RUNNING = RUNS[5][0]  # predictive_maintenance, running, 6 epochs logged


async def test_a_running_run_is_live_and_a_finished_one_stops_polling(fixed_home: Path) -> None:
    settings = load_settings(fixed_home)
    live = make_app(Workspace(settings, now=lambda: NOW, refresh_s=0.1, live=True))
    async with live.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(RUNNING)
        await open_screen(live, pilot, screen)
        assert "running for 10m00s" in text_of(screen, "#run-status")
        with open_catalogue(settings) as catalogue:
            catalogue.log_metric(RUNNING, "auc", 0.875, step=7)
        for _ in range(100):
            await pilot.pause(0.05)
            points = screen.query(Chart).first().series[0].points
            if len(points) == 7:
                break
        assert points[-1] == (7, 0.875)
        await pilot.press("escape")
        finished = RunDetailScreen(FINISHED)
        await open_screen(live, pilot, finished)
        assert finished.loaded_at is not None
        assert finished._timer is None  # a finished run will not change: no polling


@pytest.mark.parametrize("screen_class", [RunDetailScreen, CompareScreen])
def test_every_key_is_in_the_palette(screen_class: type[DataScreen[Any]]) -> None:
    bound = {binding.action for binding in screen_class.BINDINGS if isinstance(binding, Binding)}
    assert bound <= {action for _, _, action in screen_class.PALETTE} | {"reload"}


async def test_the_palette_shows_the_gate(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        commands = app.get_system_commands(app.screen)
        command = next(c for c in commands if c.title == "Run gate result")
        app.call_later(command.callback)  # as the palette runs it
        await pilot.pause()
        assert screen.panel == "gate"
        assert screen.query_one("#run-text").border_title == "Register gate"


async def test_a_garbled_chart_choice_falls_back_to_the_first_keys(app: WorkbenchApp) -> None:
    app.workspace.remember(CHART_PREFS, {"fraud_detection": "auc", "other": ["x"]})
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        assert [chart.title for chart in screen.query(Chart)] == ["auc", "loss"]


async def test_a_running_run_charts_its_nodes_resources_over_its_span(app: WorkbenchApp) -> None:
    started = T0 + timedelta(minutes=RUNS[5][3])
    inside = [i for i in range(SAMPLES) if started <= sample_ts(i) < NOW]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(RUNNING)
        await open_screen(app, pilot, screen)
        charts = {chart.title: chart for chart in screen.query_one("#run-resources").query(Chart)}
        assert sorted(charts) == ["cpu-box-2 %", "gpu-box-1 %"]
        gpu_node = {line.name: line for line in charts["gpu-box-1 %"].series}
        assert list(gpu_node) == ["CPU", "MEM", "GPU0", "GPU1"]
        assert [y for _, y in gpu_node["CPU"].points] == [cpu_at(0, i) for i in inside]
        assert [y for _, y in gpu_node["MEM"].points] == pytest.approx(
            [100 * mem_at(0, i) / MEM_TOTAL for i in inside]
        )
        assert [y for _, y in gpu_node["GPU1"].points] == [gpu_at(1, i) for i in inside]
        xs = [x for x, _ in gpu_node["CPU"].points]
        assert 0 <= xs[0] < 0.5  # minutes since the run started
        assert 9.5 < xs[-1] < 10
        cpu_node = [line.name for line in charts["cpu-box-2 %"].series]
        assert cpu_node == ["CPU", "MEM"]


async def test_a_run_outside_the_telemetry_says_there_is_none(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(FINISHED)
        await open_screen(app, pilot, screen)
        box = screen.query_one("#run-resources")
        assert not box.query(Chart)
        shown = str(box.query_one(Static).content)
        assert shown == NO_RUN_TELEMETRY.format(span="09:00:00-09:06:00")
