"""Threads of one process opening the catalogue at once (two screens of the app)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from tests.fixtures.settings import outside_ray
from workbench.catalogue import Statement
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.owner import open_catalogue


def test_threads_opening_at_once_all_succeed_and_the_stale_run_is_swept_once(
    tmp_path: Path,
) -> None:
    settings = outside_ray(tmp_path / "home")
    backend = DuckDBBackend(settings.catalogue_path)
    backend.write(
        [
            Statement(
                "INSERT INTO runs (run_id, project, status, created_at, heartbeat_at) "
                "VALUES (?, 'p', 'running', ?, ?)",
                (f"run{i}", datetime(2020, 1, 1), datetime(2020, 1, 1)),
            )
            for i in range(50)
        ]
    )
    backend.close()

    def read(_: int) -> int:
        with open_catalogue(settings) as catalogue:
            return len(catalogue.search_runs(limit=100))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(read, range(16))) == [50] * 16
    with open_catalogue(settings) as catalogue:
        statuses = {run.status.value for run in catalogue.search_runs(limit=100)}
    assert statuses == {"crashed"}
