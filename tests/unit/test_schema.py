"""Migrations produce the designed schema, are recorded, and newer catalogues are refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.schema import TABLES, TELEMETRY_TABLES, known_migrations
from workbench.core.errors import CatalogueError

EXPECTED_COLUMNS = {
    "runs": [
        "run_id",
        "project",
        "name",
        "kind",
        "parent_run_id",
        "pipeline_run_id",
        "status",
        "attempt",
        "created_at",
        "started_at",
        "ended_at",
        "heartbeat_at",
        "git_commit",
        "git_dirty",
        "data_fingerprint",
        "environment",
        "cluster_id",
        "nodes",
        "error",
        "traceback",
        "gate",
        "driver",
    ],
    "params": ["run_id", "key", "value"],
    "metrics": ["run_id", "key", "step", "timestamp", "value", "attempt"],
    "latest_metrics": ["run_id", "key", "step", "timestamp", "value"],
    "model_versions": [
        "name",
        "version",
        "run_id",
        "uri",
        "sha256",
        "flavor",
        "signature",
        "gate",
        "description",
        "created_at",
    ],
    "model_aliases": ["name", "alias", "version", "updated_at"],
    "requests": [
        "deployment_id",
        "request_id",
        "ts",
        "model_version",
        "status_code",
        "latency_ms",
        "inputs",
        "outputs",
        "shadow_outputs",
    ],
    "audit_events": ["event_id", "ts", "actor", "action", "target", "reason", "details"],
    "pipeline_runs": [
        "run_id",
        "step",
        "attempt",
        "status",
        "cached",
        "cache_key",
        "started_at",
        "ended_at",
        "error",
        "outputs",
        "metrics",
    ],
    "migrations": ["name", "applied_at"],
    "telemetry_nodes": [
        "ts",
        "node_id",
        "hostname",
        "cpu_percent",
        "cpu_per_core",
        "load_1m",
        "load_5m",
        "load_15m",
        "mem_used_bytes",
        "mem_total_bytes",
        "swap_used_bytes",
        "swap_total_bytes",
        "disk_read_bps",
        "disk_write_bps",
        "net_recv_bps",
        "net_sent_bps",
        "gpu_note",
    ],
    "telemetry_gpus": [
        "ts",
        "node_id",
        "gpu_index",
        "uuid",
        "name",
        "utilization_percent",
        "memory_used_bytes",
        "memory_total_bytes",
        "temperature_c",
        "power_w",
        "power_limit_w",
        "sm_clock_mhz",
        "memory_clock_mhz",
        "error",
    ],
    "telemetry_processes": [
        "ts",
        "node_id",
        "pid",
        "run_id",
        "deployment",
        "cpu_percent",
        "rss_bytes",
        "gpu_uuid",
        "gpu_memory_bytes",
        "gpu_utilization_percent",
    ],
    "run_resources": [
        "run_id",
        "updated_at",
        "final",
        "samples",
        "cpu_hours",
        "gpu_hours",
        "peak_rss_bytes",
        "peak_gpu_memory_bytes",
        "cost",
    ],
    "run_alerts": ["run_id", "kind", "node_id", "gpu_uuid", "started_at", "ended_at", "detail"],
}


def _columns(path: Path) -> dict[str, list[str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


def test_fresh_catalogue_has_every_table_and_column(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    DuckDBBackend(path).close()
    columns = _columns(path)
    assert sorted(columns) == sorted(TABLES + TELEMETRY_TABLES)
    for table, expected in EXPECTED_COLUMNS.items():
        assert columns[table] == expected, table


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    DuckDBBackend(path).close()
    DuckDBBackend(path).close()  # reopening applies nothing twice
    con = duckdb.connect(str(path))
    names = [r[0] for r in con.execute("SELECT name FROM migrations").fetchall()]
    con.close()
    assert names == known_migrations()


def test_catalogue_from_a_newer_workbench_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    DuckDBBackend(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO migrations VALUES ('9999_from_the_future', now())")
    con.close()
    before = path.read_bytes()
    with pytest.raises(CatalogueError, match="newer version") as info:
        DuckDBBackend(path)
    assert "upgrade" in info.value.hint
    assert path.read_bytes() == before


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogueError, match="not a valid DuckDB database"):
        DuckDBBackend(path)
    assert path.read_bytes() == b"this is not a database" * 100
