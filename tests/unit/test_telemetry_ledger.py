"""TelemetryLedger: samples stored in one write, compacted into exact minute aggregates, and
read back as a merged history; compaction twice loses and double counts nothing."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psutil
import pytest

from tests.fixtures.settings import outside_ray
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.telemetry import TelemetryLedger
from workbench.core.settings import Settings
from workbench.core.telemetry import NO_GPU, GpuSample, NodeSample
from workbench.services.telemetry import CatalogueSink

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
DAY = 86_400


def _sample(ts: datetime, cpu: float, util: float | None, node: str = "node-a") -> NodeSample:
    """A sample whose CPU and GPU readings are the given values; memory from real psutil."""
    memory = psutil.virtual_memory()
    gpu = GpuSample(
        0,
        "GPU-0",
        "NVIDIA H200",
        utilization_percent=util,
        memory_used_bytes=int(util * 1e9) if util is not None else None,
        memory_total_bytes=141_000_000_000,
        error=None if util is not None else "GPU lost",
    )
    return NodeSample(
        ts=ts,
        node_id=node,
        hostname=f"host-{node}",
        cpu_percent=cpu,
        cpu_per_core=tuple(psutil.cpu_percent(percpu=True)),
        load_1m=1.0,
        load_5m=1.0,
        load_15m=1.0,
        mem_used_bytes=memory.used,
        mem_total_bytes=memory.total,
        swap_used_bytes=0,
        swap_total_bytes=0,
        gpus=(gpu,),
    )


def _count(catalogue: Catalogue, table: str, column: str = "count(*)") -> int:
    return int(catalogue.sql(f"SELECT {column} FROM {table}").column(0)[0].as_py() or 0)


def _fill(ledger: TelemetryLedger, start: datetime, seconds: int, node: str = "node-a") -> None:
    """One sample a second from `start`: CPU is the second of the minute, GPU util 2x that."""
    samples = []
    for offset in range(seconds):
        ts = start + timedelta(seconds=offset)
        samples.append(_sample(ts, float(ts.second), float(2 * ts.second), node))
    ledger.append(samples)
    ledger.backend.sync()


def test_append_and_latest_round_trip(catalogue: Catalogue) -> None:
    ledger = TelemetryLedger(catalogue)
    older = _sample(NOW - timedelta(seconds=1), 10.0, 20.0)
    newest = _sample(NOW, 30.0, 40.0)
    plain = replace(_sample(NOW, 5.0, None, "node-b"), gpus=(), gpu_note=NO_GPU)
    ledger.append([older, newest, plain])
    catalogue.backend.sync()
    latest = ledger.latest()
    assert [s.node_id for s in latest] == ["node-a", "node-b"]
    assert latest[0] == newest
    assert latest[1] == plain
    assert ledger.latest("host-node-b") == [latest[1]]
    assert ledger.latest("nowhere") == []


def test_compaction_keeps_exact_means_and_maxes_and_is_idempotent(catalogue: Catalogue) -> None:
    ledger = TelemetryLedger(catalogue)
    retention_s = 3 * 3600
    start = NOW - timedelta(seconds=4 * 3600)  # an hour past retention, three past full
    _fill(ledger, start, 4 * 3600)
    total = _count(catalogue, "telemetry_nodes")
    assert total == 4 * 3600

    ledger.compact(NOW, keep_full_s=3600, retention_s=retention_s)
    ledger.compact(NOW, keep_full_s=3600, retention_s=retention_s)  # nothing left to fold

    raw = _count(catalogue, "telemetry_nodes")
    minutes = _count(catalogue, "telemetry_nodes_1m")
    assert raw == 3600  # the last hour stays at full resolution
    assert minutes == 2 * 60  # hours 3 and 2 before now; hour 4 is past retention
    assert _count(catalogue, "telemetry_nodes_1m", "sum(samples)") == 2 * 3600
    assert _count(catalogue, "telemetry_gpus_1m", "sum(samples)") == 2 * 3600
    rows = catalogue.sql(
        "SELECT cpu_percent_mean, cpu_percent_max, samples FROM telemetry_nodes_1m"
    ).to_pylist()
    # Seconds 0..59 of every minute: mean 29.5, max 59, exactly.
    assert {(r["cpu_percent_mean"], r["cpu_percent_max"], r["samples"]) for r in rows} == {
        (29.5, 59.0, 60)
    }
    gpus = catalogue.sql(
        "SELECT DISTINCT utilization_percent_mean, utilization_percent_max, errors "
        "FROM telemetry_gpus_1m"
    ).to_pylist()
    assert gpus == [
        {"utilization_percent_mean": 59.0, "utilization_percent_max": 118.0, "errors": 0}
    ]


def test_a_late_batch_merges_into_its_minute_weighted_by_samples(catalogue: Catalogue) -> None:
    ledger = TelemetryLedger(catalogue)
    minute = NOW - timedelta(hours=2)
    ledger.append([_sample(minute + timedelta(seconds=s), 10.0, 10.0) for s in range(30)])
    catalogue.backend.sync()
    ledger.compact(NOW)
    late = [_sample(minute + timedelta(seconds=s), 40.0, None) for s in range(30, 40)]
    ledger.append(late)
    catalogue.backend.sync()
    ledger.compact(NOW)
    row = catalogue.sql("SELECT * FROM telemetry_nodes_1m").to_pylist()
    assert len(row) == 1
    assert row[0]["samples"] == 40
    assert row[0]["cpu_percent_mean"] == pytest.approx((30 * 10.0 + 10 * 40.0) / 40)
    assert row[0]["cpu_percent_max"] == 40.0
    gpu = catalogue.sql("SELECT * FROM telemetry_gpus_1m").to_pylist()[0]
    assert (gpu["samples"], gpu["errors"], gpu["utilization_percent_max"]) == (40, 10, 10.0)


def test_history_merges_aggregates_and_full_resolution(catalogue: Catalogue) -> None:
    ledger = TelemetryLedger(catalogue)
    _fill(ledger, NOW - timedelta(hours=2), 2 * 3600)
    _fill(ledger, NOW - timedelta(hours=2), 2 * 3600, node="node-b")
    before = ledger.history(NOW - timedelta(hours=2), NOW, resolution=600)
    ledger.compact(NOW)
    after = ledger.history(NOW - timedelta(hours=2), NOW, resolution=600)
    assert after.resolution_s == 600
    assert len(after.nodes) == 2 * 12  # 12 ten-minute buckets per node
    assert sum(p.samples for p in after.nodes) == 2 * 2 * 3600
    assert after.nodes == before.nodes
    assert all(p.cpu_percent_mean == 29.5 and p.cpu_percent_max == 59.0 for p in after.nodes)
    assert all(p.utilization_percent_mean == 59.0 for p in after.gpus)
    only_b = ledger.history(NOW - timedelta(hours=2), NOW, node="host-node-b")
    assert {p.node_id for p in only_b.nodes} == {"node-b"}
    assert {p.node_id for p in only_b.gpus} == {"node-b"}
    assert only_b.resolution_s == 60  # automatic: whole minutes past the full-resolution hour


def test_catalogue_sink_pickles_and_appends_a_batch(settings: Settings) -> None:
    # As it travels to an actor; reading as an outside process, since this test process may
    # be a driver of the session's Ray cluster (it would start an owner there).
    sink = pickle.loads(pickle.dumps(CatalogueSink(outside_ray(settings.home))))
    sink([_sample(NOW, 12.0, 34.0)])
    sink.close()  # the sink holds the file; release it to read it here
    catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    try:
        (stored,) = TelemetryLedger(catalogue).latest()
    finally:
        catalogue.close()
    assert stored.cpu_percent == 12.0
    assert stored.gpus[0].utilization_percent == 34.0
