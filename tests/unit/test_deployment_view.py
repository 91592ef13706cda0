"""Request statistics of a deployment over a window ending at an explicit `now`."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from tests.tui.catalogue_fixture import NOW, build_fixed_catalogue
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.settings import load_settings
from workbench.services.deployment_view import deployments_health


class Request(NamedTuple):
    ts: datetime
    version: int | None
    status: int
    latency_ms: float


def _requests(home: Path) -> list[Request]:
    """Every request of the fixture, read with plain SQL (what the service must agree with)."""
    catalogue = Catalogue(DuckDBBackend(home / "catalogue.duckdb"))
    try:
        rows = catalogue.backend.query(
            "SELECT ts, model_version, status_code, latency_ms FROM requests ORDER BY ts"
        ).to_pylist()
    finally:
        catalogue.close()
    return [
        Request(r["ts"], r["model_version"], int(r["status_code"]), float(r["latency_ms"]))
        for r in rows
    ]


def test_buckets_cover_the_window_and_count_every_request(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_fixed_catalogue(home)
    rows = _requests(home)
    (health,) = deployments_health(load_settings(home), NOW, window_minutes=10, bucket_s=30)
    buckets = health.buckets
    assert len(buckets) == 20
    assert buckets[0].start == NOW - timedelta(minutes=10)
    assert buckets[-1].start == NOW - timedelta(seconds=30)
    for bucket in buckets:
        inside = [r for r in rows if bucket.start <= r.ts < bucket.start + timedelta(seconds=30)]
        ok = [r.latency_ms for r in inside if r.status < 400]
        assert bucket.requests == len(inside)
        assert bucket.server_errors == sum(1 for r in inside if r.status >= 500)
        assert bucket.qps == len(inside) / 30
        expected_p95 = statistics.quantiles(ok, n=100, method="inclusive")[94]
        assert bucket.p95_ms is not None
        assert abs(bucket.p95_ms - expected_p95) < 1e-9


def test_a_window_without_requests_has_empty_buckets_and_no_stats(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_fixed_catalogue(home)
    (health,) = deployments_health(load_settings(home), NOW + timedelta(hours=1), bucket_s=60)
    assert health.overall is None
    assert all(health.of_version(entry) is None for entry in health.deployment.spec.versions)
    assert [b.requests for b in health.buckets] == [0] * 10
    assert health.observed_share(health.deployment.spec.primary) is None


def test_stats_per_version_and_observed_share(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_fixed_catalogue(home)
    rows = _requests(home)
    (health,) = deployments_health(load_settings(home), NOW)
    spec = health.deployment.spec
    for entry in spec.versions:
        mine = [r for r in rows if r.version == entry.version]
        found = health.of_version(entry)
        assert found is not None
        assert found.requests == len(mine)
        assert health.observed_share(entry) == len(mine) / len(rows)
    overall = health.overall
    assert overall is not None
    assert overall.requests == len(rows)
    assert overall.error_rate == sum(1 for r in rows if r.status >= 500) / len(rows)
