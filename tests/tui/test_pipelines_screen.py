"""The Pipelines screen: projects under the roots, the params form and its checks, launch, cancel."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from tests.fixtures.projects import write_project
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.settings import load_settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.pipelines import PipelinesScreen
from workbench.tui.widgets.param_form import ParamForm

SLEEPY_SPEC = """
[project]
name = "sleepy"

[params]
seconds = { type = "float", default = 10.0, min = 0.0, max = 600.0, help = "prepare's nap" }

[[steps]]
name = "prepare"
function = "sleepy.steps:prepare"
params = ["seconds"]

[[steps]]
name = "train"
function = "sleepy.steps:train"
"""
SLEEPY_STEPS = """
import time


def prepare(ctx):
    deadline = time.monotonic() + ctx.params["seconds"]
    while time.monotonic() < deadline:
        time.sleep(0.1)


def train(ctx):
    return None
"""


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    root = tmp_path / "projects"
    write_project(root / "tiny", name="tiny")
    return root


@pytest.fixture
def pipelines_app(fixed_workspace: Workspace, project_root: Path) -> WorkbenchApp:
    fixed_workspace.project_roots = (project_root,)
    return make_app(fixed_workspace)


async def _projects_loaded(app: WorkbenchApp, pilot: object) -> PipelinesScreen:
    await pilot.press("p")  # type: ignore[attr-defined]
    screen = app.screen
    assert isinstance(screen, PipelinesScreen)
    for _ in range(100):
        if screen.data is not None:
            break
        await pilot.pause(0.02)  # type: ignore[attr-defined]
    assert screen.data is not None, "the project list never loaded"
    return screen


async def test_pipelines_lists_projects_under_the_root_and_recent_ones(
    pipelines_app: WorkbenchApp,
) -> None:
    async with pipelines_app.run_test(size=(120, 40)) as pilot:
        screen = await _projects_loaded(pipelines_app, pilot)
        assert screen.data is not None
        entries = [(e.name, e.shown, e.source) for e in screen.data.projects]
        assert entries[0] == ("tiny", "tiny", "found")
        # The fixture catalogue registers two projects whose folders are gone.
        assert ("fraud_detection", "/src/fraud_detection", "recent") in entries
        assert screen.query_one("#projects", OptionList).option_count == len(entries)
        detail = str(screen.query_one("#project-detail", Static).content)
        assert "rows  int, default 200, >= 10" in detail
        assert "1. prepare" in detail


async def test_the_form_refuses_an_out_of_bounds_param_by_its_field(
    pipelines_app: WorkbenchApp,
) -> None:
    async with pipelines_app.run_test(size=(120, 40)) as pilot:
        await _projects_loaded(pipelines_app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        form = pipelines_app.screen
        assert isinstance(form, ParamForm)
        rows = form.query_one("#param-rows", Input)
        rows.value = "5"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert pipelines_app.screen is form, "an invalid form must not launch"
        error = str(form.query_one("#error-rows", Static).content)
        assert "5 is below min 10" in error
        assert str(form.query_one("#error-scale", Static).content) == ""
        rows.value = "50"
        await pilot.pause()
        assert str(form.query_one("#error-rows", Static).content) == ""
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pipelines_app.screen, PipelinesScreen)


@pytest.mark.slow
@pytest.mark.ray
async def test_launch_from_the_form_then_cancel_the_run(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    project = root / "sleepy"
    (project / "sleepy").mkdir(parents=True)
    (project / "workbench.toml").write_text(SLEEPY_SPEC)
    (project / "sleepy" / "__init__.py").write_text("")
    (project / "sleepy" / "steps.py").write_text(SLEEPY_STEPS)
    settings = load_settings(tmp_path / "home")
    app = make_app(Workspace(settings, refresh_s=0.5, project_roots=(root,)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _projects_loaded(app, pilot)
        try:
            run_id = await _launch_and_cancel(screen, pilot)
        finally:
            if screen.launched is not None and screen.launched.process.poll() is None:
                os.killpg(screen.launched.process.pid, signal.SIGKILL)  # never leave a driver
    backend = DuckDBBackend(settings.catalogue_path)
    try:
        stored = backend.query("SELECT status, error FROM runs WHERE run_id = ?", (run_id,))
        params = backend.query("SELECT key, value FROM params WHERE run_id = ?", (run_id,))
    finally:
        backend.close()
    assert stored.to_pylist() == [{"status": "cancelled", "error": "cancelled"}]
    assert params.to_pylist() == [{"key": "seconds", "value": "10.0"}]


async def _launch_and_cancel(screen: PipelinesScreen, pilot: Pilot[None]) -> str:
    """Launch with the form's defaults, wait for the run, cancel it; the run's id."""
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press("ctrl+s")
    run_id = None
    for _ in range(900):  # Ray starts in the child: allow it up to ~90 s
        await pilot.pause(0.1)
        state = screen.launch_state
        assert state is None or state.run is not None or state.exit_code is None, state.log_tail
        if state is not None and state.run is not None and state.run.status == "running":
            run_id = state.run.run_id
            break
    assert run_id is not None, "the launched run never showed as running"
    assert f"run {run_id[:12]} running" in str(screen.query_one("#launch", Static).content)
    await pilot.press("x")
    await pilot.pause()
    await pilot.press("y")
    for _ in range(600):
        await pilot.pause(0.1)
        state = screen.launch_state
        if state is not None and state.run is not None and state.run.status != "running":
            break
    assert screen.launch_state is not None
    assert screen.launch_state.run is not None
    assert screen.launch_state.run.status == "cancelled"
    launched = screen.launched
    assert launched is not None
    for _ in range(600):  # the driver records the cancel itself, then exits 130
        await pilot.pause(0.1)
        if launched.process.poll() is not None:
            break
    assert launched.process.poll() == 130, screen.launch_state.log_tail
    return run_id
