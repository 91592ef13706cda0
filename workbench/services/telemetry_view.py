"""Telemetry as the TUI draws it: per-node sparkline trends, chart series over a window, and
a run's resources over its span (issue 11).

Windows take an explicit `now` (the screen's clock), so fixed catalogues draw the same every
time. Points come from `TelemetryLedger.history`; the live view from `services.telemetry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workbench.catalogue.telemetry import GpuPoint, NodePoint, TelemetryHistory, TelemetryLedger
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.runs import RunPage, run_page
from workbench.services.telemetry import FRESH_S, TelemetrySnapshot, snapshot

TREND_WINDOW = timedelta(minutes=10)
"""The span of the Overview's sparklines, ending at the caller's `now`."""
TREND_STEP_S = 30.0
"""One sparkline cell per this many seconds."""
CHART_WINDOW = timedelta(hours=1)
"""The span of the Cluster screen's history charts."""

Points = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class NodeTrend:
    """One node's recent CPU, memory and mean GPU utilisation in percent, one value per bucket
    (None: no sample in that bucket); `gpus` is how many GPUs reported."""

    node_id: str
    hostname: str
    cpu: tuple[float | None, ...]
    memory: tuple[float | None, ...]
    gpu: tuple[float | None, ...]
    gpus: int

    @staticmethod
    def current(values: Sequence[float | None]) -> float | None:
        """The newest known value of a trend."""
        return next((value for value in reversed(values) if value is not None), None)


@dataclass(frozen=True)
class NodeCharts:
    """One node's chart series over a window: (x minutes, percent) points."""

    node_id: str
    hostname: str
    cpu: Points
    memory: Points
    gpus: tuple[tuple[int, Points], ...]
    """Per GPU index, its utilisation."""


@dataclass(frozen=True)
class ResourceHistory:
    """Chart series of every node between `since` and `until`; x in minutes from `origin`."""

    since: datetime
    until: datetime
    origin: datetime
    nodes: tuple[NodeCharts, ...]


@dataclass(frozen=True)
class ClusterTelemetry:
    """The Cluster screen's telemetry: each node's newest sample and the last hour."""

    live: TelemetrySnapshot
    history: ResourceHistory


@dataclass(frozen=True)
class RunView:
    """The run detail page and its nodes' resources over the run's span."""

    page: RunPage
    resources: ResourceHistory


def node_trends(history: TelemetryHistory) -> tuple[NodeTrend, ...]:
    """Per node, its buckets of `history` as trends (every bucket of the window, gaps None)."""
    step = timedelta(seconds=history.resolution_s)
    buckets = max(1, round((history.until - history.since) / step))
    first = _bucket_start(history.since, history.resolution_s)
    trends = []
    for node_id, points in _by_node(history.nodes).items():
        slots: dict[int, NodePoint] = {round((p.ts - first) / step): p for p in points}
        gpu_slots = _gpu_means(history.gpus, node_id, first, step)
        indexes = range(buckets) if first == history.since else range(1, buckets + 1)
        trends.append(
            NodeTrend(
                node_id=node_id,
                hostname=points[-1].hostname,
                cpu=tuple(_cpu(slots.get(i)) for i in indexes),
                memory=tuple(_memory(slots.get(i)) for i in indexes),
                gpu=tuple(gpu_slots.get(i) for i in indexes) if gpu_slots else (),
                gpus=len({g.gpu_index for g in history.gpus if g.node_id == node_id}),
            )
        )
    return tuple(trends)


def recent_trends(ledger: TelemetryLedger, now: datetime) -> tuple[NodeTrend, ...]:
    """The Overview's sparklines: TREND_WINDOW ending at `now`."""
    return node_trends(ledger.history(now - TREND_WINDOW, now, resolution=TREND_STEP_S))


def resource_history(
    settings: Settings, since: datetime, until: datetime, origin: datetime | None = None
) -> ResourceHistory:
    """Every node's CPU, memory and per-GPU utilisation between `since` and `until`; x is in
    minutes from `origin` (default `until`: minutes ago, negative)."""
    with open_catalogue(settings) as catalogue:
        found = TelemetryLedger(catalogue).history(since, until)
    return charts_of(found, origin or until)


def charts_of(history: TelemetryHistory, origin: datetime) -> ResourceHistory:
    """`history`'s points as chart series, x in minutes from `origin`."""
    nodes = []
    for node_id, points in _by_node(history.nodes).items():
        gpus: dict[int, list[GpuPoint]] = {}
        for gpu in history.gpus:
            if gpu.node_id == node_id:
                gpus.setdefault(gpu.gpu_index, []).append(gpu)
        nodes.append(
            NodeCharts(
                node_id=node_id,
                hostname=points[-1].hostname,
                cpu=_points(((p.ts, _cpu(p)) for p in points), origin),
                memory=_points(((p.ts, _memory(p)) for p in points), origin),
                gpus=tuple(
                    (index, _points(((g.ts, g.utilization_percent_mean) for g in got), origin))
                    for index, got in sorted(gpus.items())
                ),
            )
        )
    return ResourceHistory(history.since, history.until, origin, tuple(nodes))


def cluster_telemetry(settings: Settings, now: datetime) -> ClusterTelemetry:
    """Each node's newest sample, and CHART_WINDOW of history before `now`.

    Stored samples younger than FRESH_S at `now` mean a cluster's samplers are writing; else
    `services.telemetry.snapshot` samples this machine in process."""
    with open_catalogue(settings) as catalogue:
        ledger = TelemetryLedger(catalogue)
        stored = ledger.latest()
        found = ledger.history(now - CHART_WINDOW, now)
    moment = now if now.tzinfo else now.replace(tzinfo=UTC)
    fresh = tuple(s for s in stored if s.ts >= moment - timedelta(seconds=FRESH_S))
    live = TelemetrySnapshot("cluster", fresh) if fresh else snapshot(settings)
    return ClusterTelemetry(live=live, history=charts_of(found, now))


def run_view(settings: Settings, ref: str, now: datetime) -> RunView:
    """The run's page and its nodes' resources from its start to its end (or `now`)."""
    page = run_page(settings, ref)
    run = page.details.run
    began = run.started_at or run.created_at
    ended = run.ended_at or now
    return RunView(page, resource_history(settings, began, max(ended, began), origin=began))


def _by_node(points: Sequence[NodePoint]) -> dict[str, list[NodePoint]]:
    nodes: dict[str, list[NodePoint]] = {}
    for point in points:
        nodes.setdefault(point.node_id, []).append(point)
    return nodes


def _bucket_start(moment: datetime, step_s: float) -> datetime:
    """The start of the history bucket holding `moment` (buckets count from the epoch)."""
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    whole = (moment - epoch).total_seconds() // step_s * step_s
    return epoch + timedelta(seconds=whole)


def _gpu_means(
    gpus: Sequence[GpuPoint], node_id: str, first: datetime, step: timedelta
) -> dict[int, float]:
    """Per bucket, the mean utilisation of the node's GPUs that reported one."""
    slots: dict[int, list[float]] = {}
    for gpu in gpus:
        if gpu.node_id == node_id and gpu.utilization_percent_mean is not None:
            slots.setdefault(round((gpu.ts - first) / step), []).append(
                gpu.utilization_percent_mean
            )
    return {slot: sum(values) / len(values) for slot, values in slots.items()}


def _cpu(point: NodePoint | None) -> float | None:
    return None if point is None else point.cpu_percent_mean


def _memory(point: NodePoint | None) -> float | None:
    if point is None or point.mem_used_bytes_mean is None or not point.mem_total_bytes:
        return None
    return 100.0 * point.mem_used_bytes_mean / point.mem_total_bytes


def _points(values: Iterable[tuple[datetime, float | None]], origin: datetime) -> Points:
    return tuple(
        ((ts - origin).total_seconds() / 60.0, float(value))
        for ts, value in values
        if value is not None
    )
