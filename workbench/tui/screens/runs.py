"""The Runs screen (r): every run in one table, filtered, sorted and compared.

The data is one in-memory snapshot of all runs (`services.run_table`), read in a worker;
filtering and sorting query that snapshot, so a keystroke in the filter box never touches
the catalogue file. Reloads keep the filter, the sort, the marks and the cursor's run.
Until the snapshot is read the table shows the newest runs: the page the app read ahead
(`tui.prefetch`), painted on mount, else one read first in the screen's own visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, Static

from workbench.core.errors import WorkbenchError
from workbench.services.run_table import KEY_COLUMN, FirstPage, RunTable, load_run_table
from workbench.tui.prefetch import (
    COLUMNS_PREF,
    DEFAULT_KEYS,
    PrefetchedPage,
    RunsPrefetch,
    remembered_columns,
)
from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.arrow_table import ArrowTable
from workbench.tui.widgets.column_chooser import ColumnChooser
from workbench.tui.widgets.topbar import TopBar

if TYPE_CHECKING:
    import pyarrow as pa

STATUS_STYLES = {
    "status": {
        "finished": "green",
        "failed": "bold red",
        "crashed": "red",
        "running": "bold yellow",
        "queued": "cyan",
        "cancelled": "dim",
    }
}
FILTER_PLACEHOLDER = (
    "/ filter: metrics.auc > 0.9 and params.lr = '0.01'  (or text in id, project, name)"
)


@dataclass(frozen=True)
class RunQuery:
    """What the table shows: a filter, a sort (column, descending) and the chosen columns."""

    where: str
    sort: tuple[str, bool] | None
    columns: tuple[str, ...]

    def rows(self, table: RunTable) -> pa.Table:
        """The rows of `table` for this query; InvalidInputError when the filter is bad."""
        sort = "" if self.sort is None else ("-" if self.sort[1] else "") + self.sort[0]
        return table.select(self.where, sort, self.columns)


@dataclass(frozen=True)
class RunsRead:
    """A fresh snapshot, plus its rows for the query in force when it was read (None: bad)."""

    table: RunTable
    query: RunQuery
    rows: pa.Table | None


def default_columns(table: RunTable) -> tuple[str, ...]:
    """With nothing remembered: the commonest metrics, then the commonest params."""
    keys = table.keys()
    return (
        *(f"metrics.{k}" for k in keys.metrics[:DEFAULT_KEYS]),
        *(f"params.{k}" for k in keys.params[:DEFAULT_KEYS]),
    )


class RunsScreen(DataScreen[RunsRead]):
    """All runs: `/` filters, `s` or a header click sorts, space marks, `C` compares."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("k", "choose_columns", "Columns"),
        Binding("C", "compare", "Compare"),
        Binding("escape", "leave_filter", "Table", show=False),
    ]
    DEFAULT_CSS = """
    RunsScreen #filter { border: none; height: 1; padding: 0 1; background: $boost; }
    RunsScreen #filter:focus { background: $primary 20%; }
    RunsScreen #filter-error { height: auto; color: $error; padding: 0 1; display: none; }
    RunsScreen #filter-error.-shown { display: block; }
    RunsScreen #summary { height: 1; color: $text-muted; padding: 0 1; }
    """
    LIVE = True
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Filter runs", "focus the filter box: runs ls --where language or text", "focus_filter"),
        ("Choose run columns", "pick params and metrics columns (remembered)", "choose_columns"),
        ("Compare marked runs", "overlay the metrics of the runs marked with space", "compare"),
        ("Open run", "the detail of the run under the cursor", "open_run"),
        ("Sort runs", "sort by the column under the column cursor (again: reverse)", "sort"),
        ("Clear run marks", "unmark every marked run", "clear_marks"),
        ("Refresh runs", "read the catalogue again now", "reload"),
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.where = ""
        self.sort: tuple[str, bool] | None = None
        self.columns: tuple[str, ...] | None = None
        self._snapshot: RunTable | None = None
        self._current_page = False

    @property
    def table(self) -> ArrowTable:
        """The runs table widget."""
        return self.query_one("#runs", ArrowTable)

    def compose(self) -> ComposeResult:
        yield TopBar("Runs")
        yield Freshness()
        yield Input(placeholder=FILTER_PLACEHOLDER, id="filter")
        yield Static("", id="filter-error")
        yield Static("loading runs…", id="summary")
        yield ArrowTable(key_column=KEY_COLUMN, value_styles=STATUS_STYLES, id="runs")
        yield Footer()

    def on_mount(self) -> None:
        self.columns = remembered_columns(self.workspace)
        self.table.focus()
        prefetch = getattr(self.app, "runs_prefetch", None)
        prefetched = prefetch.take() if isinstance(prefetch, RunsPrefetch) else None
        if prefetched is not None and self.columns in (None, prefetched.page.columns):
            self._show_prefetched(prefetched)

    def _show_prefetched(self, prefetched: PrefetchedPage) -> None:
        # Painted with the screen's first frame; the fetch on resume reads the whole table.
        self._current_page = prefetched.is_current(self.workspace)
        self._show_first_page(prefetched.page, prefetched.read_at, current=self._current_page)

    # -- data ---------------------------------------------------------------------------------

    def fetch(self) -> RunsRead:
        # The rows for the current query are selected here too, off the UI thread; `show`
        # uses them unless the user changed the query meanwhile.
        first = self._snapshot is None and not self.where and self.sort is None
        first = first and not self._current_page  # a current page is on screen already
        now = self.workspace.now()
        table = load_run_table(
            self.workspace.settings,
            now=now,
            first_page=partial(self._first_page_read, now) if first else None,
            columns=self.columns,
            default_keys=DEFAULT_KEYS,
        )
        query = RunQuery(self.where, self.sort, self.columns or default_columns(table))
        try:
            rows: pa.Table | None = query.rows(table)
        except WorkbenchError:
            rows = None
        return RunsRead(table, query, rows)

    def _first_page_read(self, read_at: datetime, page: FirstPage) -> None:
        # In the fetch worker: paint the newest runs while the rest is read.
        self.app.call_from_thread(self._show_first_page, page, read_at)

    def _show_first_page(self, page: FirstPage, read_at: datetime, *, current: bool = True) -> None:
        """The newest runs until the whole table is read; `current`: nothing written since."""
        if self._snapshot is not None or self.where or self.sort is not None:
            return  # the whole table, or the user's own query, is already on screen
        self.table.set_table(page.rows)
        summary = f"{page.total:,} runs"
        if page.total > page.rows.num_rows:
            summary += f" · newest {page.rows.num_rows:,} shown, reading the rest …"
        self.query_one("#summary", Static).update(summary)
        when = f"as of {read_at:%H:%M:%S}"
        if not current:
            when += ": the catalogue has changed since, reading it again …"
        self._set_freshness(when, stale=not current)

    def show(self, data: RunsRead) -> None:
        previous, self._snapshot = self._snapshot, data.table
        if self.columns is None:
            self.columns = data.query.columns
        if data.rows is not None and data.query == self.current_query:
            self._show_rows(data.rows)
        else:
            self.apply()
        if previous is not None:
            previous.close()

    @property
    def current_query(self) -> RunQuery:
        """The filter, sort and columns in force."""
        return RunQuery(self.where, self.sort, self.columns or ())

    def apply(self) -> None:
        """Query the snapshot with the filter, sort and columns; a bad filter changes nothing."""
        if self._snapshot is None:
            return
        error = self.query_one("#filter-error", Static)
        try:
            rows = self.current_query.rows(self._snapshot)
        except WorkbenchError as problem:
            error.update(f"{problem.message}\n{problem.hint}" if problem.hint else problem.message)
            error.add_class("-shown")
            return
        self._show_rows(rows)

    def _show_rows(self, rows: pa.Table) -> None:
        self.query_one("#filter-error", Static).remove_class("-shown")
        self.table.set_table(rows, sort=self.sort)
        self._summarise()

    def _summarise(self) -> None:
        if self._snapshot is None:
            return
        total, shown = self._snapshot.num_runs, self.table.row_count
        parts = [f"{shown:,} of {total:,} runs" if self.where else f"{total:,} runs"]
        if total == 0:
            parts = ["no runs yet: start one with `workbench run PROJECT`"]
        if self.table.marked:
            parts.append(f"{len(self.table.marked)} marked (C compares)")
        if self.sort is not None:
            parts.append(f"sort {self.sort[0]} {'▼' if self.sort[1] else '▲'}")
        self.query_one("#summary", Static).update(" · ".join(parts))

    # -- events -------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.where = event.value
            self.apply()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.table.focus()

    def on_arrow_table_sort_changed(self, event: ArrowTable.SortChanged) -> None:
        self.sort = (event.column, event.descending)
        self.apply()

    def on_arrow_table_marks_changed(self, event: ArrowTable.MarksChanged) -> None:
        self._summarise()

    def on_arrow_table_row_selected(self, event: ArrowTable.RowSelected) -> None:
        self._open(event.key)

    # -- actions ------------------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        """Put the cursor in the filter box (/)."""
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        """Back from the filter box to the table (esc)."""
        self.table.focus()

    def action_sort(self) -> None:
        """Sort by the column under the column cursor (s on the table)."""
        self.table.action_sort()

    def action_open_run(self) -> None:
        """Open the run under the cursor."""
        key = self.table.cursor_key
        if key is not None:
            self._open(key)

    def action_clear_marks(self) -> None:
        """Unmark every run."""
        self.table.marked.clear()
        self.table.refresh()
        self._summarise()

    def action_choose_columns(self) -> None:
        """Pick the params and metrics columns; the choice is remembered (k)."""
        if self._snapshot is None:
            self.notify("no runs read yet", severity="warning")
            return
        keys = self._snapshot.keys()
        offered = [*(f"metrics.{k}" for k in keys.metrics), *(f"params.{k}" for k in keys.params)]
        offered += [c for c in self.columns or () if c not in offered]
        self.app.push_screen(ColumnChooser(offered, self.columns or ()), self._columns_chosen)

    def _columns_chosen(self, chosen: list[str] | None) -> None:
        if chosen is None:
            return
        self.columns = tuple(chosen)
        self.workspace.remember(COLUMNS_PREF, chosen)
        if self.sort is not None and self.sort[0] not in (*self.table.columns, *chosen):
            self.sort = None
        self.apply()

    def action_compare(self) -> None:
        """Compare the marked runs (C); needs two or more."""
        marked = sorted(self.table.marked)
        if len(marked) < 2:
            self.notify("mark two or more runs with space, then press C", severity="warning")
            return
        # Deferred: the compare screen (and its chart libraries) load only when asked for.
        from workbench.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(marked))

    def _open(self, run_id: str) -> None:
        # Deferred: the detail screen (and its chart libraries) load only when asked for.
        from workbench.tui.screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(run_id))
