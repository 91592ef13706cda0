"""The Runs screen driven with Pilot: filter, sort, mark, compare, open, choose columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import Static

from tests.tui.catalogue_fixture import MAINT, NOW, RUNS
from tests.tui.many_runs import build_many_runs, expected_auc_above
from workbench.core.settings import load_settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.compare import CompareScreen
from workbench.tui.screens.run_detail import RunDetailScreen
from workbench.tui.screens.runs import COLUMNS_PREF, RunsScreen
from workbench.tui.widgets.column_chooser import ColumnChooser

AUC = {run_id: auc for run_id, *_, auc, _ in RUNS}


@pytest.fixture(autouse=True)
def no_stale_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening the catalogue crashes runs whose heartbeat is old by the wall clock; the
    fixture's running run beat at NOW, so the sweep reads the fixture clock too."""
    monkeypatch.setattr("workbench.catalogue.pipelines.utcnow", lambda: NOW)


async def open_runs(pilot: Pilot[None], rows: int = len(RUNS)) -> RunsScreen:
    """Switch to Runs and wait (bounded) until the table holds `rows` rows."""
    await pilot.press("r")
    for _ in range(200):
        await pilot.pause(0.02)
        screen = pilot.app.screen
        if isinstance(screen, RunsScreen) and screen.data is not None:
            if screen.table.row_count == rows:
                return screen
    raise AssertionError(f"the Runs table never showed {rows} rows")


def shown_ids(screen: RunsScreen) -> list[str]:
    return [str(k) for k in screen.table.data.column("run_id").to_pylist()]


def filter_error(screen: RunsScreen) -> str:
    error = screen.query_one("#filter-error", Static)
    return str(error.render()) if error.has_class("-shown") else ""


async def test_a_filter_expression_keeps_only_matching_runs(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot)
        await pilot.press("slash", *"metrics.auc > 0.9 and params.lr = '0.05'")
        await pilot.pause()
        assert set(shown_ids(screen)) == {
            r[0] for r in RUNS if AUC[r[0]] > 0.9 and r[5]["lr"] == "0.05"
        }
        assert screen.table.row_count == 2
        assert filter_error(screen) == ""


async def test_a_filter_that_does_not_parse_shows_the_error_and_keeps_the_rows(
    app: WorkbenchApp,
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot)
        await pilot.press("slash", *"metrics.auc > 0.9")
        await pilot.pause()
        before = shown_ids(screen)
        assert len(before) == 3
        await pilot.press(*" and")
        await pilot.pause()
        assert "malformed filter" in filter_error(screen)
        assert shown_ids(screen) == before
        await pilot.press("backspace", "backspace", "backspace", "backspace")
        await pilot.pause()
        assert filter_error(screen) == ""


async def test_plain_text_filters_by_id_project_or_name(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot)
        await pilot.press("slash", *"maint")
        await pilot.pause()
        assert set(screen.table.data.column("project").to_pylist()) == {MAINT}
        assert screen.table.row_count == sum(1 for r in RUNS if r[1] == MAINT)
        assert filter_error(screen) == ""
        await pilot.press("enter")  # back to the table; typed letters are not screen keys
        assert screen.table.has_focus
        assert not isinstance(pilot.app.screen, ColumnChooser)


async def test_s_sorts_by_the_column_under_the_column_cursor(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot)
        column = screen.table.columns.index("metrics.auc")
        await pilot.press(*["right"] * column, "s")
        await pilot.pause()
        by_auc = sorted(AUC, key=AUC.__getitem__, reverse=True)
        assert shown_ids(screen) == by_auc
        assert "metrics.auc ▼" in screen.table.render_line(0).text
        await pilot.press("s")
        await pilot.pause()
        assert shown_ids(screen) == by_auc[::-1]


async def test_clicking_a_header_sorts_by_it(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot)
        x = screen.table.render_line(0).text.index("metrics.loss")
        await pilot.click("#runs", offset=(x + 2, 0))
        await pilot.pause()
        assert screen.sort == ("metrics.loss", True)
        losses = {r[0]: r[7] for r in RUNS}
        assert shown_ids(screen) == sorted(losses, key=losses.__getitem__, reverse=True)


async def test_compare_needs_two_marked_runs(app: WorkbenchApp) -> None:
    notes: list[Notification] = []

    def keep_notifications(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification)

    async with app.run_test(size=(120, 40), message_hook=keep_notifications) as pilot:
        screen = await open_runs(pilot)
        await pilot.press("space", "C")
        await pilot.pause()
        assert isinstance(pilot.app.screen, RunsScreen)
        assert any("mark two or more" in note.message for note in notes)
        await pilot.press("space", "C")  # the cursor moved down: a second run is marked
        await pilot.pause()
        compare = pilot.app.screen
        assert isinstance(compare, CompareScreen)
        assert compare.run_ids == sorted(shown_ids(screen)[:2])


async def test_enter_opens_the_run_under_the_cursor(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        detail = pilot.app.screen
        assert isinstance(detail, RunDetailScreen)
        assert detail.run_id == shown_ids(screen)[1]


async def test_reload_keeps_filter_sort_marks_and_cursor(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot)
        await pilot.press("slash", *"project = 'fraud_detection'", "enter")
        await pilot.press("right", "right", "s", "space", "down")
        await pilot.pause()
        before = (shown_ids(screen), screen.table.cursor_key, set(screen.table.marked))
        first = screen.data
        screen.action_reload()
        for _ in range(200):
            await pilot.pause(0.02)
            if screen.data is not first:
                break
        assert screen.data is not first
        assert (shown_ids(screen), screen.table.cursor_key, set(screen.table.marked)) == before
        assert screen.sort == ("status", False)


async def test_the_column_choice_survives_a_restart(fixed_workspace: Workspace) -> None:
    app = make_app(fixed_workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot)
        assert "metrics.auc" in screen.table.columns
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ColumnChooser)
        await pilot.press("space")  # metrics.auc, first offered and chosen: unchoose it
        # Offered: metrics auc, loss, then params lr, max_depth, n_estimators (all shown by
        # default), epochs, hidden: the sixth is params.epochs.
        await pilot.press(*["down"] * 5, "space")
        await pilot.press("enter")
        await pilot.pause()
        assert "metrics.auc" not in screen.table.columns
        chosen = fixed_workspace.prefs()[COLUMNS_PREF]
        assert "params.epochs" in chosen
        assert "metrics.auc" not in chosen
    fresh = make_app(Workspace(load_settings(fixed_workspace.settings.home), now=lambda: NOW))
    async with fresh.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot)
        assert tuple(screen.table.columns[6:]) == tuple(chosen)


@pytest.mark.slow
async def test_a_hundred_thousand_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_many_runs(home)
    app = make_app(Workspace(load_settings(home), now=lambda: NOW, live=False))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(pilot, rows=100_000)
        await pilot.press("end")
        assert screen.table.cursor_row == 99_999
        screen.query_one("#filter").value = "metrics.auc > 0.9"  # type: ignore[attr-defined]
        await pilot.pause()
        assert screen.table.row_count == expected_auc_above(0.9)
        screen.query_one("#filter").value = "trial-99999"  # type: ignore[attr-defined]
        await pilot.pause()
        assert screen.table.row_count == 1
