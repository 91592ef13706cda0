"""The Runs screen's first page read ahead (tui.prefetch): painted on mount, honestly dated.

The screen's own read is held on an event in these tests, so what the table shows before
it is released can only have come from the page the app read ahead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.catalogue_fixture import FRAUD, NOW, RUNS
from workbench.core.entities import RunStatus
from workbench.owner import open_catalogue
from workbench.services.run_table import RunTable, load_run_table
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.prefetch import RunsPrefetch
from workbench.tui.screens.base import Freshness
from workbench.tui.screens.runs import RunsScreen

NEWEST_FIRST = [r[0] for r in sorted(RUNS, key=lambda r: r[3], reverse=True)]


@pytest.fixture(autouse=True)
def no_stale_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stale-run sweep reads the fixture clock, as in test_runs_screen."""
    monkeypatch.setattr("workbench.catalogue.pipelines.utcnow", lambda: NOW)


@pytest.fixture
def held_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The Runs screen's own catalogue read waits for this event (bounded) before it runs."""
    release = threading.Event()

    def held(*args: Any, **kwargs: Any) -> RunTable:
        release.wait(timeout=30)
        return load_run_table(*args, **kwargs)

    monkeypatch.setattr("workbench.tui.screens.runs.load_run_table", held)
    yield release
    release.set()


async def until(pilot: Pilot[None], condition: Any, what: str) -> None:
    """Pause (bounded) until `condition()` holds."""
    for _ in range(250):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


async def read_ahead(pilot: Pilot[None]) -> None:
    """Wait until the app has read the Runs screen's first page (after the Overview loaded)."""
    app = pilot.app
    assert isinstance(app, WorkbenchApp)
    await until(pilot, lambda: app.runs_prefetch.ready, "the first page read ahead")


def shown_ids(screen: RunsScreen) -> list[str]:
    return [str(k) for k in screen.table.data.column("run_id").to_pylist()]


def freshness(screen: RunsScreen) -> tuple[str, bool]:
    line = screen.query_one(Freshness)
    return str(line.render()), line.has_class("-stale")


async def test_runs_paints_the_page_read_ahead_before_its_own_read(
    app: WorkbenchApp, held_read: threading.Event
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await read_ahead(pilot)
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await until(pilot, lambda: screen.table.row_count == len(RUNS), "the page on screen")
        assert screen.data is None  # its own read is still held
        assert shown_ids(screen) == NEWEST_FIRST
        assert freshness(screen) == (f"as of {NOW:%H:%M:%S}", False)
        held_read.set()
        await until(pilot, lambda: screen.data is not None, "the screen's own read")
        assert shown_ids(screen) == NEWEST_FIRST
        assert freshness(screen) == (f"as of {NOW:%H:%M:%S}", False)


async def test_a_page_read_before_a_change_is_marked_stale_then_replaced(
    app: WorkbenchApp, fixed_workspace: Workspace, held_read: threading.Event
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await read_ahead(pilot)
        with open_catalogue(fixed_workspace.settings) as catalogue:
            new_run = catalogue.create_run(FRAUD, status=RunStatus.FINISHED)
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await until(pilot, lambda: screen.table.row_count == len(RUNS), "the old page on screen")
        text, stale = freshness(screen)
        assert stale
        assert text == f"as of {NOW:%H:%M:%S}: the catalogue has changed since, reading it again …"
        held_read.set()
        await until(pilot, lambda: screen.table.row_count == len(RUNS) + 1, "the new run")
        assert shown_ids(screen) == [new_run, *NEWEST_FIRST]
        assert freshness(screen) == (f"as of {NOW:%H:%M:%S}", False)


async def test_nothing_is_read_ahead_when_turned_off(fixed_workspace: Workspace) -> None:
    fixed_workspace.prefetch_runs = False
    app = make_app(fixed_workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: getattr(app.screen, "data", None) is not None, "Overview data")
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await until(pilot, lambda: screen.data is not None, "the screen's own read")
        assert not app.runs_prefetch.ready
        assert shown_ids(screen) == NEWEST_FIRST


def test_a_page_read_after_the_runs_screen_opened_is_dropped(
    fixed_workspace: Workspace,
) -> None:
    prefetch = RunsPrefetch()
    assert prefetch.claim()
    assert prefetch.take() is None  # the Runs screen opened before the read finished
    prefetch.read(fixed_workspace)
    assert not prefetch.ready
    assert not prefetch.claim()  # and no second read-ahead starts


def test_a_page_is_taken_once(fixed_workspace: Workspace) -> None:
    prefetch = RunsPrefetch()
    assert prefetch.claim()
    prefetch.read(fixed_workspace)
    taken = prefetch.take()
    assert taken is not None
    assert taken.read_at == NOW
    assert isinstance(taken.read_at, datetime)
    assert taken.is_current(fixed_workspace)
    assert taken.page.total == len(RUNS)
    assert prefetch.take() is None
