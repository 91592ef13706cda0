"""Snapshots of Overview, Pipelines (list and params form) and Cluster (no cluster).

The app reads the fixed catalogue under the relative home `home` and finds projects under
the relative root `projects` (the test runs in its own temporary directory), so every path
on screen is the same on every run and every machine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.fixtures.projects import write_project
from tests.tui.catalogue_fixture import NOW, build_fixed_catalogue
from workbench.core.settings import Settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.base import DataScreen
from workbench.tui.widgets.param_form import ParamForm

SIZES = [(120, 40), (80, 24)]
SnapCompare = Callable[..., bool]


@pytest.fixture
def snapshot_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkbenchApp:
    """The app on the fixed catalogue at `home`, projects under `projects`, clock frozen."""
    monkeypatch.chdir(tmp_path)
    build_fixed_catalogue(Path("home"))
    write_project(Path("projects") / "tiny", name="tiny")
    workspace = Workspace(
        Settings(home=Path("home")), now=lambda: NOW, live=False, project_roots=(Path("projects"),)
    )
    return make_app(workspace)


async def _until(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"waited in vain for {what}")


def showing(key: str | None, *then: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the Overview's read, press `key` and wait for that screen, then press `then`."""

    async def run_before(pilot: Pilot[Any]) -> None:
        first = pilot.app.screen
        assert isinstance(first, DataScreen)
        await _until(pilot, lambda: first.loaded_at is not None, "the overview")
        if key is not None:
            await pilot.press(key)
            screen = pilot.app.screen
            assert isinstance(screen, DataScreen)
            await _until(pilot, lambda: screen.loaded_at is not None, f"screen {key}")
        if then:
            await pilot.press(*then)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_overview(snap_compare: SnapCompare, snapshot_app: WorkbenchApp, size: Any) -> None:
    assert snap_compare(snapshot_app, terminal_size=size, run_before=showing(None))


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_pipelines_list(snap_compare: SnapCompare, snapshot_app: WorkbenchApp, size: Any) -> None:
    assert snap_compare(snapshot_app, terminal_size=size, run_before=showing("p"))


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_pipelines_form_with_an_error(
    snap_compare: SnapCompare, snapshot_app: WorkbenchApp, size: Any
) -> None:
    # the first field (rows, min 10) loses its last two digits: 200 -> 2, shown as an error
    run_before = showing("p", "enter", "end", "backspace", "backspace")

    async def then_check(pilot: Pilot[Any]) -> None:
        await run_before(pilot)
        assert isinstance(pilot.app.screen, ParamForm)

    assert snap_compare(snapshot_app, terminal_size=size, run_before=then_check)


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_cluster_without_a_cluster(
    snap_compare: SnapCompare, snapshot_app: WorkbenchApp, size: Any
) -> None:
    assert snap_compare(snapshot_app, terminal_size=size, run_before=showing("c"))
