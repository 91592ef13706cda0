"""How each deployment behaves over a recent window: latency, QPS, errors, and their history.

Read from the catalogue's `requests` table only (no Serve call), so a front end can poll it
without joining Ray. Windows end at an explicit `now`, which makes screens reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from workbench.catalogue.deployments import DeploymentLedger, RequestBucket
from workbench.core.deployments import Deployment, VersionEntry
from workbench.core.settings import Settings
from workbench.owner import open_catalogue

__all__ = [
    "UNREACHABLE",
    "DeploymentHealth",
    "RequestBucket",
    "VersionStats",
    "as_seen",
    "deployments_health",
    "serving_since",
]

UNREACHABLE = "unreachable"
"""The status shown for a deployment recorded running whose cluster has gone since."""


def serving_since(settings: Settings) -> datetime | None:
    """When the cluster that serves now started, or None when no cluster answers."""
    from workbench.compute.cluster import serving_since as head_started

    return head_started(settings)


def as_seen(found: Deployment, since: datetime | None) -> Deployment:
    """`found` as it stands: recorded running but its cluster is down, or was replaced by one
    started after it (`since`), it is unreachable (Serve went with its head)."""
    if found.status != "running":
        return found
    if since is None or (found.updated_at is not None and found.updated_at < since):
        return replace(found, status=UNREACHABLE)
    return found


@dataclass(frozen=True)
class VersionStats:
    """Requests of one version (or `all`, or `refused` before any model) over the window."""

    version: str
    requests: int
    qps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float
    """Share of 5xx answers."""
    client_errors: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> VersionStats:
        """One row of `DeploymentLedger.stats`."""
        return cls(
            version=str(row["version"]),
            requests=int(row["requests"]),
            qps=float(row["qps"]),
            p50_ms=row["p50_ms"],
            p95_ms=row["p95_ms"],
            p99_ms=row["p99_ms"],
            error_rate=float(row["error_rate"]),
            client_errors=int(row["client_errors"]),
        )


@dataclass(frozen=True)
class DeploymentHealth:
    """A deployment, its request statistics over the window and their history in buckets."""

    deployment: Deployment
    window_minutes: int
    stats: list[VersionStats]
    """Overall (`all`) first, then per version."""
    buckets: list[RequestBucket]
    """Oldest first, covering the whole window (empty buckets included)."""

    @property
    def overall(self) -> VersionStats | None:
        """Every request of the window together, or None when there were none."""
        found = next((s for s in self.stats if s.version == "all"), None)
        return found if found is not None and found.requests else None

    def of_version(self, entry: VersionEntry) -> VersionStats | None:
        """The statistics of one served version, or None when it answered nothing."""
        return next((s for s in self.stats if s.version == f"v{entry.version}"), None)

    def observed_share(self, entry: VersionEntry) -> float | None:
        """The share of the window's scored requests this version answered (0..1)."""
        scored = sum(s.requests for s in self.stats if s.version.startswith("v"))
        mine = self.of_version(entry)
        return (mine.requests if mine else 0) / scored if scored else None


def deployments_health(
    settings: Settings, now: datetime, *, window_minutes: int = 10, bucket_s: int = 10
) -> list[DeploymentHealth]:
    """Every deployment as it stands (see `as_seen`) with its statistics over the
    `window_minutes` before `now`."""
    since = now - timedelta(minutes=window_minutes)
    live_since = serving_since(settings)
    with open_catalogue(settings) as catalogue:
        ledger = DeploymentLedger(catalogue)
        return [
            DeploymentHealth(
                deployment=as_seen(found, live_since),
                window_minutes=window_minutes,
                stats=[VersionStats.from_row(row) for row in ledger.stats(found.name, since)],
                buckets=ledger.request_buckets(
                    found.name, now=now, minutes=window_minutes, bucket_s=bucket_s
                ),
            )
            for found in ledger.all()
        ]
