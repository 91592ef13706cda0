"""Telemetry history: node and GPU samples at full resolution, compacted into 1-minute aggregates.

Samplers hand batches of `NodeSample` to `TelemetryLedger.append` (one Arrow write, never
waited on). The owner runs `compact` every minute: samples older than the full-resolution
window become per-minute mean and max rows, and aggregates and attributed process samples past
retention (WORKBENCH_TELEMETRY_RETENTION_DAYS) are dropped, in one transaction. `history`
reads both tables and merges them into buckets, weighted by samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pyarrow as pa

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue
from workbench.core.settings import DEFAULT_TELEMETRY_RETENTION_DAYS
from workbench.core.telemetry import GpuSample, NodeSample

FULL_RESOLUTION_S = 3600.0
"""Samples younger than this stay at full resolution; older ones become minute aggregates."""
RETENTION_S = DEFAULT_TELEMETRY_RETENTION_DAYS * 86400.0
"""Minute aggregates and attributed process samples older than this are dropped."""
MAX_POINTS = 300
"""An automatic resolution gives about this many buckets per node: wider than a terminal chart."""

_NODE_COLUMNS = (
    "ts node_id hostname cpu_percent cpu_per_core load_1m load_5m load_15m mem_used_bytes "
    "mem_total_bytes swap_used_bytes swap_total_bytes disk_read_bps disk_write_bps "
    "net_recv_bps net_sent_bps gpu_note"
).split()
_GPU_COLUMNS = (
    "ts node_id gpu_index uuid name utilization_percent memory_used_bytes memory_total_bytes "
    "temperature_c power_w power_limit_w sm_clock_mhz memory_clock_mhz error"
).split()
# Readings kept as (mean, max) per minute; the others keep their latest value.
_NODE_READINGS = (
    "cpu_percent load_1m mem_used_bytes swap_used_bytes disk_read_bps disk_write_bps "
    "net_recv_bps net_sent_bps"
).split()
_NODE_LATEST = ("hostname", "mem_total_bytes", "swap_total_bytes")
_GPU_READINGS = (
    "utilization_percent memory_used_bytes temperature_c power_w sm_clock_mhz memory_clock_mhz"
).split()
_GPU_LATEST = ("uuid", "name", "memory_total_bytes", "power_limit_w")


class NodePoint(NamedTuple):
    """One node over one bucket of a history: how many samples, and mean/max readings.

    Points are named tuples, not dataclasses: a day of 32 GPUs is thousands of them, built
    from column lists in a few milliseconds."""

    ts: datetime
    node_id: str
    hostname: str
    samples: int
    cpu_percent_mean: float | None
    cpu_percent_max: float | None
    load_1m_mean: float | None
    mem_used_bytes_mean: float | None
    mem_used_bytes_max: float | None
    mem_total_bytes: int | None
    swap_used_bytes_mean: float | None
    swap_total_bytes: int | None
    disk_read_bps_mean: float | None
    disk_write_bps_mean: float | None
    net_recv_bps_mean: float | None
    net_sent_bps_mean: float | None


class GpuPoint(NamedTuple):
    """One GPU over one bucket of a history; `errors` counts samples the GPU had none."""

    ts: datetime
    node_id: str
    gpu_index: int
    name: str
    samples: int
    errors: int
    utilization_percent_mean: float | None
    utilization_percent_max: float | None
    memory_used_bytes_mean: float | None
    memory_used_bytes_max: float | None
    memory_total_bytes: int | None
    temperature_c_max: float | None
    power_w_mean: float | None


@dataclass(frozen=True)
class TelemetryHistory:
    """Node and GPU points between `since` and `until`, oldest first, in buckets of
    `resolution_s` seconds (full-resolution samples and minute aggregates merged)."""

    since: datetime
    until: datetime
    resolution_s: float
    nodes: tuple[NodePoint, ...]
    gpus: tuple[GpuPoint, ...]


def _mean_max(readings: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"avg({r}) AS {r}_mean, max({r}) AS {r}_max" for r in readings)


def _merged(readings: tuple[str, ...] | list[str], latest: tuple[str, ...]) -> str:
    """ON CONFLICT updates: means weighted by samples (a late batch for a compacted minute)."""
    sets = ["samples = samples + excluded.samples"]
    for r in readings:
        sets.append(
            f"{r}_mean = CASE WHEN {r}_mean IS NULL THEN excluded.{r}_mean "
            f"WHEN excluded.{r}_mean IS NULL THEN {r}_mean ELSE ({r}_mean * samples + "
            f"excluded.{r}_mean * excluded.samples) / (samples + excluded.samples) END"
        )
        sets.append(f"{r}_max = greatest({r}_max, excluded.{r}_max)")
    sets.extend(f"{c} = coalesce(excluded.{c}, {c})" for c in latest)
    return ", ".join(sets)


_COMPACT_NODES = f"""
INSERT INTO telemetry_nodes_1m BY NAME
SELECT time_bucket(INTERVAL 1 MINUTE, ts) AS minute, node_id, count(*) AS samples,
       {", ".join(f"arg_max({c}, ts) AS {c}" for c in _NODE_LATEST)}, {_mean_max(_NODE_READINGS)}
FROM telemetry_nodes WHERE ts < ? GROUP BY ALL
ON CONFLICT (minute, node_id) DO UPDATE SET {_merged(_NODE_READINGS, _NODE_LATEST)}
"""
_COMPACT_GPUS = f"""
INSERT INTO telemetry_gpus_1m BY NAME
SELECT time_bucket(INTERVAL 1 MINUTE, ts) AS minute, node_id, gpu_index, count(*) AS samples,
       count(error) AS errors,
       {", ".join(f"arg_max({c}, ts) AS {c}" for c in _GPU_LATEST)}, {_mean_max(_GPU_READINGS)}
FROM telemetry_gpus WHERE ts < ? GROUP BY ALL
ON CONFLICT (minute, node_id, gpu_index) DO UPDATE SET errors = errors + excluded.errors,
    {_merged(_GPU_READINGS, _GPU_LATEST)}
"""


def _source(raw: str, readings: list[str], latest: tuple[str, ...], *, gpu: bool) -> str:
    """Raw samples and minute aggregates as one relation of (n, <reading>_mean, _max) rows;
    `{node}` stands for the node filter."""
    minute = f"{raw}_1m"
    keys = "node_id, gpu_index" if gpu else "node_id"
    raw_cols = ", ".join(f"{r} AS {r}_mean, {r} AS {r}_max" for r in readings)
    agg_cols = ", ".join(f"{r}_mean, {r}_max" for r in readings)
    raw_extra = "CASE WHEN error IS NULL THEN 0 ELSE 1 END AS errors, " if gpu else ""
    agg_extra = "errors, " if gpu else ""
    return f"""
    SELECT ts, {keys}, {", ".join(latest)}, 1 AS n, {raw_extra}{raw_cols}
    FROM {raw} WHERE ts >= ? AND ts < ? AND {{node}}
    UNION ALL BY NAME
    SELECT minute AS ts, {keys}, {", ".join(latest)}, samples AS n, {agg_extra}{agg_cols}
    FROM {minute} WHERE minute >= ? AND minute < ? AND {{node}}"""


def _projection(point: type[NodePoint] | type[GpuPoint]) -> str:
    """The columns of `point`, in field order (DuckDB drops the aggregates nobody reads)."""
    defaults = {"hostname": "coalesce(hostname, node_id)", "name": "coalesce(name, '')"}
    return ", ".join(f"{defaults[f]} AS {f}" if f in defaults else f for f in point._fields)


def _bucketed(readings: list[str], keep: tuple[str, ...]) -> str:
    """Per bucket: the newest of `keep`, the sample count, weighted means and maxes."""
    means = ", ".join(
        f"sum({r}_mean * n) / sum(n) FILTER (WHERE {r}_mean IS NOT NULL) AS {r}_mean"
        for r in readings
    )
    maxes = ", ".join(f"max({r}_max) AS {r}_max" for r in readings)
    kept = ", ".join(f"arg_max({c}, ts) AS {c}" for c in keep)
    return f"{kept}, CAST(sum(n) AS BIGINT) AS samples, {means}, {maxes}"


_NODE_SOURCE = _source("telemetry_nodes", _NODE_READINGS, _NODE_LATEST, gpu=False)
_GPU_SOURCE = _source("telemetry_gpus", _GPU_READINGS, _GPU_LATEST, gpu=True)
_NODE_HISTORY = f"""
SELECT {_projection(NodePoint)} FROM (
    SELECT time_bucket(to_microseconds(?), ts) AS ts, node_id,
           {_bucketed(_NODE_READINGS, _NODE_LATEST)}
    FROM ({_NODE_SOURCE}) GROUP BY ALL
) ORDER BY ts, node_id
"""
_GPU_HISTORY = f"""
SELECT {_projection(GpuPoint)} FROM (
    SELECT time_bucket(to_microseconds(?), ts) AS ts, node_id, gpu_index,
           CAST(sum(errors) AS BIGINT) AS errors, {_bucketed(_GPU_READINGS, _GPU_LATEST)}
    FROM ({_GPU_SOURCE}) GROUP BY ALL
) ORDER BY ts, node_id, gpu_index
"""


class TelemetryLedger:
    """Rows of the telemetry tables: append samples, read history and the latest, compact."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.backend = catalogue.backend

    def append(self, samples: list[NodeSample]) -> None:
        """Store a batch of samples in one transaction; never waits for the commit."""
        if not samples:
            return
        nodes = _node_table(samples)
        gpus = _gpu_table(samples)
        statements = [_insert("telemetry_nodes", _NODE_COLUMNS, nodes)]
        if gpus.num_rows:
            statements.append(_insert("telemetry_gpus", _GPU_COLUMNS, gpus))
        self.backend.write(statements, wait=False)

    def compact(
        self,
        now: datetime,
        keep_full_s: float = FULL_RESOLUTION_S,
        retention_s: float = RETENTION_S,
    ) -> None:
        """Fold whole minutes older than `keep_full_s` into minute aggregates and delete those
        samples; drop aggregates and attributed process samples older than `retention_s`
        (settle ended runs first: see RunResourceLedger.settle_ended). One transaction."""
        cutoff = _floor_minute(_naive_utc(now) - timedelta(seconds=keep_full_s))
        expired = _naive_utc(now) - timedelta(seconds=retention_s)
        self.backend.write(
            [
                Statement(_COMPACT_NODES, (cutoff,)),
                Statement("DELETE FROM telemetry_nodes WHERE ts < ?", (cutoff,)),
                Statement(_COMPACT_GPUS, (cutoff,)),
                Statement("DELETE FROM telemetry_gpus WHERE ts < ?", (cutoff,)),
                Statement("DELETE FROM telemetry_nodes_1m WHERE minute < ?", (expired,)),
                Statement("DELETE FROM telemetry_gpus_1m WHERE minute < ?", (expired,)),
                Statement("DELETE FROM telemetry_processes WHERE ts < ?", (expired,)),
            ]
        )

    def history(
        self,
        since: datetime,
        until: datetime,
        node: str | None = None,
        resolution: float | None = None,
    ) -> TelemetryHistory:
        """Points between `since` and `until` in buckets of `resolution` seconds (None: about
        MAX_POINTS buckets, never under a second); `node` is a node id or a hostname."""
        since, until = _naive_utc(since), _naive_utc(until)
        span = max((until - since).total_seconds(), 1.0)
        step = resolution if resolution else _auto_resolution(span)
        step_us = int(step * 1_000_000)
        nodes = self._rows(_NODE_HISTORY, step_us, since, until, node)
        gpus = self._rows(_GPU_HISTORY, step_us, since, until, node)
        return TelemetryHistory(
            since,
            until,
            step,
            tuple(map(NodePoint._make, nodes)),
            tuple(map(GpuPoint._make, gpus)),
        )

    def latest(self, node: str | None = None) -> list[NodeSample]:
        """The newest stored sample of each node (or of `node`), with its GPUs, by node id."""
        where, params = _node_filter(node)
        rows = self.backend.query(
            "SELECT * FROM telemetry_nodes WHERE (node_id, ts) IN (SELECT (node_id, max(ts)) "
            f"FROM telemetry_nodes GROUP BY node_id) AND {where} ORDER BY node_id",
            params,
        ).to_pylist()
        if not rows:
            return []
        gpus = self.backend.query(
            "SELECT g.* FROM telemetry_gpus g JOIN (SELECT node_id, max(ts) AS ts FROM "
            "telemetry_nodes GROUP BY node_id) n USING (node_id, ts) ORDER BY node_id, gpu_index"
        ).to_pylist()
        by_node: dict[str, list[GpuSample]] = {}
        for gpu in gpus:
            by_node.setdefault(gpu["node_id"], []).append(_gpu_sample(gpu))
        return [_node_sample(row, tuple(by_node.get(row["node_id"], ()))) for row in rows]

    def _rows(
        self, sql: str, step_us: int, since: datetime, until: datetime, node: str | None
    ) -> Iterator[tuple[Any, ...]]:
        """Rows as tuples in column order: column-wise conversion, far faster than dicts."""
        where, params = _node_filter(node)
        bounds = (since, until, *params)
        table = self.backend.query(sql.replace("{node}", where), (step_us, *bounds, *bounds))
        return zip(*(column.to_pylist() for column in table.columns), strict=True)


def _auto_resolution(span_s: float) -> float:
    """About MAX_POINTS buckets; whole minutes once the window reaches past the full-resolution
    hour, so every bucket holds whole minute aggregates."""
    step = max(1.0, math.ceil(span_s / MAX_POINTS))
    return 60.0 * math.ceil(step / 60) if span_s > FULL_RESOLUTION_S else step


def _node_filter(node: str | None) -> tuple[str, tuple[object, ...]]:
    if node is None:
        return "true", ()
    # GPU tables carry no hostname: a host matches through the node table's node ids.
    return (
        "node_id IN (SELECT DISTINCT node_id FROM telemetry_nodes WHERE node_id = ? OR "
        "hostname = ? UNION SELECT DISTINCT node_id FROM telemetry_nodes_1m WHERE node_id = ? "
        "OR hostname = ?)",
        (node, node, node, node),
    )


def _insert(table: str, columns: list[str], data: pa.Table) -> Statement:
    names = ", ".join(columns)
    return Statement(f"INSERT INTO {table} ({names}) SELECT {names} FROM batch", data=data)


def _naive_utc(value: datetime) -> datetime:
    """The catalogue's TIMESTAMP convention: naive UTC."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _floor_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _node_table(samples: list[NodeSample]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in _NODE_COLUMNS}
    for sample in samples:
        for name in _NODE_COLUMNS:
            value = getattr(sample, name)
            columns[name].append(_naive_utc(value) if name == "ts" else value)
    columns["cpu_per_core"] = [list(s.cpu_per_core) for s in samples]
    return pa.table(
        {
            **{name: values for name, values in columns.items() if name != "cpu_per_core"},
            "cpu_per_core": pa.array(columns["cpu_per_core"], type=pa.list_(pa.float64())),
        }
    )


def _gpu_table(samples: list[NodeSample]) -> pa.Table:
    schema = pa.schema(
        [
            ("ts", pa.timestamp("us")),
            ("node_id", pa.string()),
            ("gpu_index", pa.int32()),
            ("uuid", pa.string()),
            ("name", pa.string()),
            ("utilization_percent", pa.float64()),
            ("memory_used_bytes", pa.int64()),
            ("memory_total_bytes", pa.int64()),
            ("temperature_c", pa.float64()),
            ("power_w", pa.float64()),
            ("power_limit_w", pa.float64()),
            ("sm_clock_mhz", pa.int32()),
            ("memory_clock_mhz", pa.int32()),
            ("error", pa.string()),
        ]
    )
    rows = [
        {"ts": _naive_utc(s.ts), "node_id": s.node_id, "gpu_index": g.index}
        | {name: getattr(g, name) for name in _GPU_COLUMNS[3:]}
        for s in samples
        for g in s.gpus
    ]
    return pa.Table.from_pylist(rows, schema=schema)


def _gpu_sample(row: dict[str, Any]) -> GpuSample:
    fields = {name: row[name] for name in _GPU_COLUMNS[3:]}
    return GpuSample(index=row["gpu_index"], **fields)


def _node_sample(row: dict[str, Any], gpus: tuple[GpuSample, ...]) -> NodeSample:
    fields = {name: row[name] for name in _NODE_COLUMNS}
    fields["ts"] = row["ts"].replace(tzinfo=UTC)
    fields["cpu_per_core"] = tuple(row["cpu_per_core"] or ())
    fields["gpu_note"] = row["gpu_note"] or ""
    return NodeSample(gpus=gpus, **fields)
