"""Per-run resources: samples of attributed processes, their sums per run, and GPU-idle alerts.

`RunResourceLedger.append` stores the attributed processes of a batch of `NodeSample`s (CPU and
memory rows from `NodeSample.processes`, GPU rows from each `GpuSample.processes`, which carry
the GPU's utilisation at that moment). `usage` sums them for one run: CPU-hours integrate each
process's CPU share over the time to its previous sample, GPU-hours count the time a run holds
a GPU, peaks are the largest total across the run's processes within one second. A gap of
more than `MAX_GAP_S` between two samples counts as no data, not as use.

`settle` sums a run, prices it and records its GPU-idle alerts; the owner settles each ended
run once its last samples are in (`settle_ended`), so the figures are final without anyone
asking, and stay when the samples are pruned at retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue
from workbench.core.settings import ResourcePricing
from workbench.core.telemetry import NodeSample

MAX_GAP_S = 60
"""Seconds between two samples of one process (or GPU) beyond which the interval is a gap."""
SETTLE_S = 30.0
"""A run's figures are final this long after it ended: samplers hand in a batch every 5 s."""
GPU_IDLE = "gpu_idle"
"""`RunAlert.kind` of a GPU a run held below the idle threshold for the idle duration."""

_COLUMNS = (
    "ts node_id pid run_id deployment cpu_percent rss_bytes gpu_uuid gpu_memory_bytes "
    "gpu_utilization_percent"
).split()
_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us")),
        ("node_id", pa.string()),
        ("pid", pa.int32()),
        ("run_id", pa.string()),
        ("deployment", pa.string()),
        ("cpu_percent", pa.float64()),
        ("rss_bytes", pa.int64()),
        ("gpu_uuid", pa.string()),
        ("gpu_memory_bytes", pa.int64()),
        ("gpu_utilization_percent", pa.float64()),
    ]
)

_USAGE = f"""
WITH cpu AS (
    SELECT ts, node_id, pid, cpu_percent, rss_bytes,
           date_diff('microsecond', lag(ts) OVER (PARTITION BY node_id, pid ORDER BY ts), ts)
               / 1e6 AS dt
    FROM telemetry_processes WHERE run_id = ? AND gpu_uuid IS NULL
), gpu_ts AS (
    SELECT node_id, gpu_uuid, ts FROM telemetry_processes
    WHERE run_id = ? AND gpu_uuid IS NOT NULL GROUP BY ALL
), gpu AS (
    SELECT date_diff('microsecond', lag(ts) OVER (PARTITION BY node_id, gpu_uuid ORDER BY ts),
                     ts) / 1e6 AS dt
    FROM gpu_ts
), rss AS (
    SELECT sum(rss) AS total FROM (
        SELECT time_bucket(INTERVAL 1 SECOND, ts) AS second, node_id, pid, max(rss_bytes) AS rss
        FROM telemetry_processes WHERE run_id = ? AND gpu_uuid IS NULL GROUP BY ALL
    ) GROUP BY second
), gpu_mem AS (
    SELECT sum(used) AS total FROM (
        SELECT time_bucket(INTERVAL 1 SECOND, ts) AS second, node_id, gpu_uuid, pid,
               max(gpu_memory_bytes) AS used
        FROM telemetry_processes WHERE run_id = ? AND gpu_uuid IS NOT NULL GROUP BY ALL
    ) GROUP BY second
)
SELECT
    (SELECT count(*) FROM telemetry_processes WHERE run_id = ?) AS samples,
    (SELECT coalesce(sum(cpu_percent / 100.0 * dt), 0) FROM cpu WHERE dt <= {MAX_GAP_S})
        / 3600.0 AS cpu_hours,
    (SELECT coalesce(sum(dt), 0) FROM gpu WHERE dt <= {MAX_GAP_S}) / 3600.0 AS gpu_hours,
    (SELECT CAST(max(total) AS BIGINT) FROM rss) AS peak_rss_bytes,
    (SELECT CAST(max(total) AS BIGINT) FROM gpu_mem) AS peak_gpu_memory_bytes
"""

# Gaps and islands: consecutive samples of one GPU below the threshold, no gap over MAX_GAP_S.
_IDLE = f"""
WITH g AS (
    SELECT node_id, gpu_uuid, ts, max(gpu_utilization_percent) AS util
    FROM telemetry_processes WHERE run_id = ? AND gpu_uuid IS NOT NULL GROUP BY ALL
), flagged AS (
    SELECT *, coalesce(util < ?, false) AS low,
        CASE WHEN lag(ts) OVER w IS NULL
                  OR coalesce(util < ?, false) <> coalesce(lag(util) OVER w < ?, false)
                  OR date_diff('second', lag(ts) OVER w, ts) > {MAX_GAP_S}
             THEN 1 ELSE 0 END AS brk
    FROM g WINDOW w AS (PARTITION BY node_id, gpu_uuid ORDER BY ts)
), islands AS (
    SELECT *, sum(brk) OVER (PARTITION BY node_id, gpu_uuid ORDER BY ts) AS island FROM flagged
)
SELECT node_id, gpu_uuid, min(ts) AS started_at, max(ts) AS ended_at, avg(util) AS mean_util
FROM islands WHERE low GROUP BY node_id, gpu_uuid, island
HAVING date_diff('microsecond', min(ts), max(ts)) >= ? * 1e6
ORDER BY started_at
"""

_UNSETTLED = """
SELECT run_id FROM runs
WHERE status NOT IN ('queued', 'running') AND ended_at < ?
  AND run_id IN (SELECT DISTINCT run_id FROM telemetry_processes WHERE run_id IS NOT NULL)
  AND run_id NOT IN (SELECT run_id FROM run_resources WHERE final)
ORDER BY ended_at
"""

_SAVE_ALERT = """
INSERT INTO run_alerts VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, kind, node_id, gpu_uuid, started_at)
DO UPDATE SET ended_at = excluded.ended_at, detail = excluded.detail
"""


@dataclass(frozen=True)
class ResourceUsage:
    """What a run used, summed from its attributed samples."""

    samples: int
    cpu_hours: float
    gpu_hours: float
    peak_rss_bytes: int | None
    peak_gpu_memory_bytes: int | None


@dataclass(frozen=True)
class StoredResources:
    """A run's stored resources and cost; `final` once written after the run ended."""

    run_id: str
    updated_at: datetime
    final: bool
    usage: ResourceUsage
    cost: float


@dataclass(frozen=True)
class RunAlert:
    """Something about a run's resources worth a look, e.g. a GPU held idle."""

    run_id: str
    kind: str
    node_id: str
    gpu_uuid: str
    started_at: datetime
    ended_at: datetime
    detail: str


class RunResourceLedger:
    """Rows of telemetry_processes, run_resources and run_alerts."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.backend = catalogue.backend

    def append(self, samples: list[NodeSample]) -> None:
        """Store the attributed processes of a batch (one write, not waited on); none: no-op."""
        rows = _rows(samples)
        if not rows["ts"]:
            return
        data = pa.table(rows, schema=_SCHEMA)
        names = ", ".join(_COLUMNS)
        insert = f"INSERT INTO telemetry_processes ({names}) SELECT {names} FROM batch"
        self.backend.write([Statement(insert, data=data)], wait=False)

    def usage(self, run_id: str) -> ResourceUsage:
        """CPU-hours, GPU-hours and peaks of one run from its samples so far."""
        row = self.backend.query(_USAGE, (run_id,) * 5).to_pylist()[0]
        return ResourceUsage(
            samples=int(row["samples"]),
            cpu_hours=float(row["cpu_hours"]),
            gpu_hours=float(row["gpu_hours"]),
            peak_rss_bytes=row["peak_rss_bytes"],
            peak_gpu_memory_bytes=row["peak_gpu_memory_bytes"],
        )

    def save(self, run_id: str, usage: ResourceUsage, cost: float, *, final: bool) -> None:
        """Store (or replace) a run's resources and cost."""
        self.backend.write(
            [
                Statement(
                    "INSERT OR REPLACE INTO run_resources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        _now(),
                        final,
                        usage.samples,
                        usage.cpu_hours,
                        usage.gpu_hours,
                        usage.peak_rss_bytes,
                        usage.peak_gpu_memory_bytes,
                        cost,
                    ),
                )  # fmt: skip
            ]
        )

    def stored(self, run_id: str) -> StoredResources | None:
        """A run's stored resources, or None when none were stored."""
        rows = self.backend.query(
            "SELECT * FROM run_resources WHERE run_id = ?", (run_id,)
        ).to_pylist()
        if not rows:
            return None
        row = rows[0]
        usage = ResourceUsage(
            row["samples"], row["cpu_hours"], row["gpu_hours"],
            row["peak_rss_bytes"], row["peak_gpu_memory_bytes"],
        )  # fmt: skip
        return StoredResources(run_id, row["updated_at"], row["final"], usage, row["cost"])

    def idle_gpu_spans(
        self, run_id: str, below_percent: float, min_seconds: float
    ) -> list[dict[str, Any]]:
        """Spans in which a GPU the run held stayed under `below_percent` for `min_seconds`."""
        params = (run_id, below_percent, below_percent, below_percent, min_seconds)
        return self.backend.query(_IDLE, params).to_pylist()

    def save_alerts(self, alerts: list[RunAlert]) -> None:
        """Record alerts; one already recorded (same run, kind, GPU and start) is extended."""
        if alerts:
            self.backend.write(
                [
                    Statement(
                        _SAVE_ALERT,
                        (
                            a.run_id,
                            a.kind,
                            a.node_id,
                            a.gpu_uuid,
                            a.started_at,
                            a.ended_at,
                            a.detail,
                        ),
                    )  # fmt: skip
                    for a in alerts
                ]
            )

    def settle(
        self, run_id: str, pricing: ResourcePricing, *, final: bool
    ) -> tuple[ResourceUsage, float]:
        """Sum a run's samples, price them, record its idle-GPU alerts, and store it all."""
        usage = self.usage(run_id)
        cost = cost_of(usage, pricing)
        self.save(run_id, usage, cost, final=final)
        minutes = pricing.gpu_idle_minutes
        spans = self.idle_gpu_spans(run_id, pricing.gpu_idle_percent, minutes * 60.0)
        self.save_alerts([_idle_alert(run_id, span, pricing) for span in spans])
        return usage, cost

    def settle_ended(self, pricing: ResourcePricing, ended_before: datetime) -> list[str]:
        """Settle, once and for good, every run that ended before `ended_before` and has
        samples but no final figures; the ids settled."""
        ids = self.backend.query(_UNSETTLED, (_naive_utc(ended_before),)).column(0).to_pylist()
        for run_id in ids:
            self.settle(run_id, pricing, final=True)
        return ids

    def alerts(self, run_id: str) -> list[RunAlert]:
        """A run's recorded alerts, oldest first."""
        rows = self.backend.query(
            "SELECT * FROM run_alerts WHERE run_id = ? ORDER BY started_at", (run_id,)
        ).to_pylist()
        return [RunAlert(**row) for row in rows]


def cost_of(usage: ResourceUsage, pricing: ResourcePricing) -> float:
    """CPU-hours and GPU-hours at the configured prices."""
    return usage.cpu_hours * pricing.cpu_hour + usage.gpu_hours * pricing.gpu_hour


def _idle_alert(run_id: str, span: dict[str, Any], pricing: ResourcePricing) -> RunAlert:
    minutes = (span["ended_at"] - span["started_at"]).total_seconds() / 60
    return RunAlert(
        run_id=run_id,
        kind=GPU_IDLE,
        node_id=span["node_id"],
        gpu_uuid=span["gpu_uuid"],
        started_at=span["started_at"],
        ended_at=span["ended_at"],
        detail=(
            f"GPU {span['gpu_uuid']} on {span['node_id']} at {span['mean_util']:.0f}% "
            f"utilisation for {minutes:.0f} min (under {pricing.gpu_idle_percent:g}% for "
            f"{pricing.gpu_idle_minutes:g} min)"
        ),
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _rows(samples: list[NodeSample]) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {name: [] for name in _COLUMNS}

    def add(sample: NodeSample, pid: int, run_id: str | None, deployment: str | None,
            values: tuple[Any, ...]) -> None:  # fmt: skip
        for name, value in zip(_COLUMNS, (_naive_utc(sample.ts), sample.node_id, pid, run_id,
                                          deployment, *values), strict=True):  # fmt: skip
            rows[name].append(value)

    for sample in samples:
        for p in sample.processes:
            if p.run_id or p.deployment:
                add(sample, p.pid, p.run_id, p.deployment,
                    (p.cpu_percent, p.rss_bytes, None, None, None))  # fmt: skip
        for gpu in sample.gpus:
            for g in gpu.processes:
                if g.run_id or g.deployment:
                    gpu_values = (None, None, gpu.uuid, g.memory_bytes, gpu.utilization_percent)
                    add(sample, g.pid, g.run_id, g.deployment, gpu_values)
    return rows
