"""The Runs table of the TUI: every run read in one short catalogue visit, then queried in memory.

Filtering (the `runs ls --where` language, or plain text), sorting and column choice run
over Arrow in an in-memory DuckDB, so a keystroke in the filter box never touches the
catalogue file, and the file is held only for the moment of the read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from workbench.catalogue.run_table import (
    KEY_COLUMN,
    RUN_COLUMNS,
    ColumnKeys,
    FirstPage,
    RunTableSnapshot,
)
from workbench.core.settings import Settings
from workbench.owner import open_catalogue

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "KEY_COLUMN",
    "RUN_COLUMNS",
    "ColumnKeys",
    "FirstPage",
    "RunTable",
    "load_run_table",
    "read_first_page",
]


@dataclass(frozen=True)
class RunTable:
    """A snapshot of every run, read at `read_at`; select() filters, sorts and picks columns."""

    snapshot: RunTableSnapshot
    read_at: datetime

    @property
    def num_runs(self) -> int:
        """How many runs the snapshot holds (before any filter)."""
        return self.snapshot.num_runs

    def keys(self) -> ColumnKeys:
        """Param and metric keys present, most common first."""
        return self.snapshot.keys

    def select(self, where: str = "", sort: str = "", columns: tuple[str, ...] = ()) -> pa.Table:
        """Rows matching `where` (a `runs ls --where` expression or plain text), by `sort`.

        Columns: `run_id` (full), then id, project, status, attempt, created, duration, then
        `columns` (`params.X` / `metrics.X`). `sort` is a column name, `-` for descending.
        Raises InvalidInputError for an expression that does not parse.
        """
        return self.snapshot.select(where, sort, columns)

    def close(self) -> None:
        """Release the in-memory database (the catalogue file is not held)."""
        self.snapshot.close()


def load_run_table(
    settings: Settings,
    *,
    now: datetime,
    first_page: Callable[[FirstPage], None] | None = None,
    columns: tuple[str, ...] | None = None,
    default_keys: int = 3,
) -> RunTable:
    """Read every run with its params, latest metrics and tags; `now` ends running durations.

    With `first_page`, the newest runs (with `columns`, or the `default_keys` commonest
    metrics and params) are read first, in the same visit, and handed to it to paint.
    """
    with open_catalogue(settings) as catalogue:
        if first_page is not None:
            first_page(RunTableSnapshot.read_first_page(catalogue, now, columns, default_keys))
        snapshot = RunTableSnapshot.read(catalogue, now)
    return RunTable(snapshot, now)


def read_first_page(
    settings: Settings, *, now: datetime, columns: tuple[str, ...] | None, default_keys: int = 3
) -> FirstPage:
    """Only the newest runs, as `load_run_table` hands them to `first_page`: a short visit."""
    with open_catalogue(settings) as catalogue:
        return RunTableSnapshot.read_first_page(catalogue, now, columns, default_keys)
