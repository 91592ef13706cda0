"""Deployments and their sampled requests: what is served where, and how it behaves."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue, utcnow
from workbench.catalogue.models import audit_statement
from workbench.catalogue.request_rows import request_row_statements
from workbench.core.deployments import REQUEST_COLUMNS, Deployment, DeploymentSpec, RequestRecord

_INSERT_REQUESTS = (
    f"INSERT INTO requests (deployment_id, {', '.join(REQUEST_COLUMNS)}) "
    f"SELECT ?, {', '.join(REQUEST_COLUMNS)} FROM batch"
)

_STATS = """
SELECT CASE WHEN grouping(model_version) = 1 THEN 'all'
            WHEN model_version IS NULL THEN 'refused' ELSE 'v' || model_version END AS version,
       count(*) AS requests,
       count(*) FILTER (WHERE status_code >= 500) AS server_errors,
       count(*) FILTER (WHERE status_code BETWEEN 400 AND 499) AS client_errors,
       quantile_cont(latency_ms, 0.50) FILTER (WHERE status_code < 400) AS p50_ms,
       quantile_cont(latency_ms, 0.95) FILTER (WHERE status_code < 400) AS p95_ms,
       quantile_cont(latency_ms, 0.99) FILTER (WHERE status_code < 400) AS p99_ms,
       min(ts) AS first_ts, max(ts) AS last_ts
FROM requests WHERE deployment_id = ? AND ts >= ?
GROUP BY GROUPING SETS ((model_version), ())
ORDER BY grouping(model_version) DESC, model_version NULLS FIRST
"""

_BUCKETS = """
SELECT CAST(floor(date_diff('millisecond', ?, ts) / ?) AS BIGINT) AS bucket,
       count(*) AS requests,
       count(*) FILTER (WHERE status_code >= 500) AS server_errors,
       quantile_cont(latency_ms, 0.95) FILTER (WHERE status_code < 400) AS p95_ms
FROM requests WHERE deployment_id = ? AND ts >= ? AND ts < ?
GROUP BY bucket ORDER BY bucket
"""


@dataclass(frozen=True)
class RequestBucket:
    """Requests of one deployment in one time bucket: how many, how many 5xx, their p95."""

    start: datetime
    seconds: float
    requests: int
    server_errors: int
    p95_ms: float | None

    @property
    def qps(self) -> float:
        """Requests per second over the bucket."""
        return self.requests / self.seconds

    @property
    def error_rate(self) -> float:
        """Share of 5xx answers (0 without requests)."""
        return self.server_errors / self.requests if self.requests else 0.0


class DeploymentLedger:
    """Rows of `deployments` (one per deployment name) and `requests`; changes are audited."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.backend = catalogue.backend

    def record(self, spec: DeploymentSpec, status: str, *, action: str, reason: str) -> None:
        """Insert or replace the deployment `spec.name` with `status` and audit the change."""
        now = utcnow()
        primary = spec.primary
        self.backend.write(
            [
                Statement(
                    "INSERT OR REPLACE INTO deployments (deployment_id, name, model_name, "
                    "model_version, route_prefix, url, status, config, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, coalesce((SELECT created_at FROM "
                    "deployments WHERE deployment_id = ?), ?), ?)",
                    (
                        spec.name,
                        spec.name,
                        primary.model,
                        primary.version,
                        spec.route_prefix,
                        spec.url,
                        status,
                        json.dumps(spec.to_json()),
                        spec.name,
                        now,
                        now,
                    ),
                ),
                audit_statement(action, f"deployment/{spec.name}", reason, spec.audit_details()),
            ]
        )

    def set_status(self, name: str, status: str, *, action: str, reason: str) -> None:
        """Change a deployment's status (stopped, failed, ...) and audit it."""
        self.backend.write(
            [
                Statement(
                    "UPDATE deployments SET status = ?, updated_at = ? WHERE deployment_id = ?",
                    (status, utcnow(), name),
                ),
                audit_statement(action, f"deployment/{name}", reason, {"status": status}),
            ]
        )

    def audit(self, name: str, action: str, reason: str, details: dict[str, Any]) -> None:
        """An audit row about deployment `name` that changes nothing else (a replica restart)."""
        self.backend.write([audit_statement(action, f"deployment/{name}", reason, details)])

    def get(self, name: str) -> Deployment | None:
        """The deployment called `name`, or None."""
        rows = self.backend.query(
            "SELECT * FROM deployments WHERE deployment_id = ?", (name,)
        ).to_pylist()
        return _deployment(rows[0]) if rows else None

    def all(self) -> list[Deployment]:
        """Every deployment, by name."""
        rows = self.backend.query("SELECT * FROM deployments ORDER BY name").to_pylist()
        return [_deployment(row) for row in rows]

    def log_requests(self, deployment_id: str, records: list[RequestRecord]) -> None:
        """Append sampled requests, and the input rows of answered ones (`request_rows`), in
        one batch; never waits for the commit."""
        if not records:
            return
        table = pa.table(
            {name: [getattr(r, name) for r in records] for name in REQUEST_COLUMNS},
        )
        statements = [Statement(_INSERT_REQUESTS, (deployment_id,), data=table)]
        statements += request_row_statements(deployment_id, records)
        self.backend.write(statements, wait=False)

    def stats(self, name: str, since: Any) -> list[dict[str, Any]]:
        """Latency percentiles, QPS and error rates since `since`: overall, then per version."""
        rows = self.backend.query(_STATS, (name, since)).to_pylist()
        for row in rows:
            span = (row["last_ts"] - row["first_ts"]).total_seconds() if row["requests"] else 0
            row["qps"] = row["requests"] / span if span > 0 else float(row["requests"])
            row["error_rate"] = row["server_errors"] / row["requests"] if row["requests"] else 0
            row.pop("first_ts"), row.pop("last_ts")
        return rows

    def request_buckets(
        self, name: str, *, now: datetime, minutes: int, bucket_s: int
    ) -> list[RequestBucket]:
        """Requests in the `minutes` before `now` in `bucket_s` buckets, oldest first; empty
        buckets included, so a chart's x axis is time."""
        start = now - timedelta(minutes=minutes)
        rows = self.backend.query(_BUCKETS, (start, bucket_s * 1000, name, start, now)).to_pylist()
        found = {int(row["bucket"]): row for row in rows}
        buckets = []
        for index in range(-(-minutes * 60 // bucket_s)):
            row = found.get(index, {})
            buckets.append(
                RequestBucket(
                    start=start + timedelta(seconds=index * bucket_s),
                    seconds=float(bucket_s),
                    requests=int(row.get("requests", 0)),
                    server_errors=int(row.get("server_errors", 0)),
                    p95_ms=row.get("p95_ms"),
                )
            )
        return buckets


def _deployment(row: dict[str, Any]) -> Deployment:
    spec = DeploymentSpec.from_json(json.loads(row["config"]))
    return Deployment(spec, row["status"], row["created_at"], row["updated_at"])
