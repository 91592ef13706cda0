"""`catalogue export` / `import` round-trip every table through Parquet, all or nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from workbench.catalogue import Catalogue, Statement
from workbench.catalogue.catalogue import utcnow
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.run_resources import RunResourceLedger
from workbench.catalogue.schema import TABLES, TELEMETRY_TABLES
from workbench.catalogue.telemetry import TelemetryLedger
from workbench.catalogue.transfer import export_catalogue, import_catalogue
from workbench.core.errors import CatalogueError, CatalogueWriteError, InvalidInputError
from workbench.core.telemetry import GpuProcess, GpuSample, NodeSample, ProcessUsage

# One row for each table the API does not fill yet, so the round trip covers every column type.
_ROWS = [
    "INSERT INTO projects VALUES ('fraud', '/src/fraud', '{\"steps\": 3}', now())",
    "INSERT INTO artifacts VALUES ('r1', 'model/model.pkl', 'model', 'file:///a', 12, 'ab', now())",
    "INSERT INTO model_versions VALUES ('fraud', 1, 'r1', 'file:///m', 'ff', 'sklearn', "
    "'{\"inputs\": []}', '{\"passed\": true}', 'first', now())",
    "INSERT INTO model_aliases VALUES ('fraud', 'champion', 1, now())",
    "INSERT INTO deployments VALUES ('d1', 'fraud', 'fraud', 1, '/fraud', "
    "'http://127.0.0.1:8000/fraud', 'running', '{}', now(), NULL)",
    "INSERT INTO requests VALUES ('d1', 'q1', now(), 1, 200, 1.5, '[1, 2]', '[0]', NULL)",
    "INSERT INTO drift_profiles VALUES ('p1', 'fraud', 1, 'training', now(), '{}', 'r1')",
    "INSERT INTO drift_profile_features VALUES ('p1', 'amount', 0, 'numeric', 10, 0, [1.5], "
    "[5, 5], [1.0, 2.0], NULL, NULL, '{}')",
    "INSERT INTO drift_checks VALUES ('c1', 'p1', 'fraud', 1, now(), now(), now(), true, '{}', "
    "'d1', 'last 1h', 'drift', 1.0, 10, 5)",
    "INSERT INTO drift_results VALUES ('c1', 'amount', 'psi', 0.31, 0.2, true, 'numeric', "
    "'drift', NULL, true, 0.0, 0.0, NULL, '')",
    "INSERT INTO drift_histograms VALUES ('c1', 'amount', ['<= 1.5', '> 1.5'], [0.5, 0.5], "
    "[0.1, 0.9])",
    "INSERT INTO drift_schedules VALUES ('d1', 600, 3600, false, now())",
    "INSERT INTO request_layouts VALUES ('l1', ['amount'], ['country'])",
    "INSERT INTO request_rows VALUES ('d1', 'q1', 0, now(), 1, 'l1', [12.5], ['FR'], [0.1, 0.9])",
    "INSERT INTO feedback VALUES ('d1', 'q1', 0, 1.0, now())",
    "INSERT INTO resource_samples VALUES (now(), 'node1', NULL, 12.5, 1000, 2000, 0, 50.0, 10, 20, 70.5)",
    "INSERT INTO pipeline_runs VALUES ('r1', 'train', 1, 'finished', false, 'k', now(), now(), NULL, "
    "'{\"model\": {}}', '{\"auc\": 0.9}')",
    "INSERT INTO audit_events VALUES (1, now(), 'alice', 'alias.move', 'fraud@champion', 'why', '{}')",
    "INSERT INTO run_resources VALUES ('r1', now(), true, 120, 0.5, 0.25, 2000, 4000, 1.75)",
    "INSERT INTO run_alerts VALUES ('r1', 'gpu_idle', 'node1', 'GPU-0', now(), now(), 'idle')",
]


def _fill(catalogue: Catalogue) -> None:
    run_id = catalogue.create_run("fraud", params={"lr": 0.1}, tags={"t": "x"})
    catalogue.log_metric(run_id, "loss", 0.5)
    catalogue.backend.write([Statement(sql) for sql in _ROWS])
    catalogue.flush()


def _dump(catalogue: Catalogue) -> dict[str, list[dict[str, object]]]:
    return {
        table: catalogue.sql(f"SELECT * FROM {table} ORDER BY ALL").to_pylist() for table in TABLES
    }


def test_round_trip_keeps_every_row_of_every_table(catalogue: Catalogue, tmp_path: Path) -> None:
    _fill(catalogue)
    counts = export_catalogue(catalogue, tmp_path / "export")
    assert set(counts) == set(TABLES)
    assert all(counts[t] >= 1 for t in TABLES), counts
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert manifest["tables"] == counts

    fresh = Catalogue(DuckDBBackend(tmp_path / "other.duckdb"))
    try:
        import_catalogue(fresh, tmp_path / "export")
        original, copy = _dump(catalogue), _dump(fresh)
        for table in TABLES:
            if table != "migrations":  # applied_at differs: each file migrated itself
                assert copy[table] == original[table], table
    finally:
        fresh.close()


def test_import_conflict_writes_nothing(catalogue: Catalogue, tmp_path: Path) -> None:
    _fill(catalogue)
    export_catalogue(catalogue, tmp_path / "export")
    before = _dump(catalogue)
    with pytest.raises(CatalogueWriteError, match="(?i)constraint|duplicate"):
        import_catalogue(catalogue, tmp_path / "export")  # same rows again: primary keys clash
    assert _dump(catalogue) == before


def test_export_refuses_a_non_empty_directory(catalogue: Catalogue, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not empty"):
        export_catalogue(catalogue, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_import_refuses_non_exports_and_newer_schemas(catalogue: Catalogue, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a catalogue export"):
        import_catalogue(catalogue, tmp_path)
    export_catalogue(catalogue, tmp_path / "e")
    manifest = tmp_path / "e" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["migrations"].append("9999_future")
    manifest.write_text(json.dumps(data))
    with pytest.raises(CatalogueError, match="unknown to Workbench"):
        import_catalogue(catalogue, tmp_path / "e")


def _telemetry(catalogue: Catalogue) -> None:
    """Samples two hours old (compacted into minute aggregates) and fresh ones, with a run's
    attributed CPU and GPU processes."""
    now = utcnow()
    samples = [
        NodeSample(
            ts=now - timedelta(seconds=ago),
            node_id="node1",
            hostname="host1",
            cpu_percent=40.0,
            cpu_per_core=(40.0, 40.0),
            load_1m=1.0,
            load_5m=1.0,
            load_15m=1.0,
            mem_used_bytes=10,
            mem_total_bytes=20,
            swap_used_bytes=0,
            swap_total_bytes=0,
            gpus=(GpuSample(0, "GPU-0", "H200", 55.0, 1, 2, processes=(GpuProcess(7, 1, "r1"),)),),
            processes=(ProcessUsage(7, 90.0, 1000, run_id="r1"),),
        )
        for ago in (7200, 7201, 5, 4)
    ]
    TelemetryLedger(catalogue).append(samples)
    RunResourceLedger(catalogue).append(samples)
    catalogue.backend.sync()
    TelemetryLedger(catalogue).compact(utcnow())


def test_telemetry_travels_only_when_asked(catalogue: Catalogue, tmp_path: Path) -> None:
    _fill(catalogue)
    _telemetry(catalogue)
    plain = export_catalogue(catalogue, tmp_path / "plain")
    assert set(plain) == set(TABLES)
    assert plain["run_resources"] == plain["run_alerts"] == 1
    full = export_catalogue(catalogue, tmp_path / "full", telemetry=True)
    assert set(full) == set(TABLES) | set(TELEMETRY_TABLES)
    assert all(full[t] >= 1 for t in TELEMETRY_TABLES), full

    for name, with_telemetry in (("plain", False), ("full", True)):
        fresh = Catalogue(DuckDBBackend(tmp_path / f"{name}.duckdb"))
        try:
            import_catalogue(fresh, tmp_path / name)
            for table in TELEMETRY_TABLES:
                query = f"SELECT * FROM {table} ORDER BY ALL"
                expected = catalogue.sql(query).to_pylist() if with_telemetry else []
                assert fresh.sql(query).to_pylist() == expected, (name, table)
        finally:
            fresh.close()


def test_an_export_from_before_run_resources_still_imports(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    _fill(catalogue)
    export_catalogue(catalogue, tmp_path / "old")
    for table in ("run_resources", "run_alerts"):  # what an older Workbench wrote
        (tmp_path / "old" / f"{table}.parquet").unlink()
    fresh = Catalogue(DuckDBBackend(tmp_path / "other.duckdb"))
    try:
        counts = import_catalogue(fresh, tmp_path / "old")
        assert "run_resources" not in counts
        assert fresh.sql("SELECT count(*) AS n FROM runs").to_pylist() == [{"n": 1}]
    finally:
        fresh.close()
