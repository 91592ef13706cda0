"""Keep the fixed catalogue's running run "running" when a test opens it.

Opening the catalogue without an owner sweeps runs whose last heartbeat is older than a few
seconds of the real clock to `crashed`; the fixture's heartbeat sits at its frozen NOW, which
the real clock has passed. Pushing that heartbeat far ahead keeps the run in flight.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from workbench.catalogue import Statement
from workbench.catalogue.duckdb_backend import DuckDBBackend

FAR_FUTURE = datetime(2100, 1, 1)


def keep_running_runs_alive(home: Path) -> None:
    """Move every running run's heartbeat to FAR_FUTURE so no sweep marks it crashed."""
    backend = DuckDBBackend(home / "catalogue.duckdb")
    try:
        backend.write(
            [Statement("UPDATE runs SET heartbeat_at = ? WHERE status = 'running'", (FAR_FUTURE,))]
        )
    finally:
        backend.close()
