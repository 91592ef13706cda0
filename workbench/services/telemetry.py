"""Telemetry for front ends: the live view of every node, and its history over a window.

Live: the newest sample of each node from the catalogue while a cluster's samplers write
there, else one sample of this machine taken in process (so the command works with no
cluster). History: `TelemetryLedger.history`, plus per-node and per-GPU means and maxes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from workbench.catalogue import Catalogue
from workbench.catalogue.catalogue import utcnow
from workbench.catalogue.run_resources import RunResourceLedger
from workbench.catalogue.telemetry import GpuPoint, NodePoint, TelemetryHistory, TelemetryLedger
from workbench.core.errors import InvalidInputError
from workbench.core.settings import Settings
from workbench.owner import open_catalogue

if TYPE_CHECKING:
    from workbench.compute.telemetry.sampler import NodeSampler
    from workbench.core.telemetry import NodeSample

FRESH_S = 10.0
"""A stored sample younger than this means the cluster's samplers are writing."""
PRIME_S = 0.25
"""An in-process sampler's first reading covers this interval (CPU % and rates need two)."""
_SINCE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_SINCE_HINT = "give a number and a unit: 30s, 30m, 1h, 2d or 1w"


@dataclass(frozen=True)
class TelemetrySnapshot:
    """The newest sample of each node; `source` is `cluster` (the catalogue) or `local`."""

    source: str
    samples: tuple[NodeSample, ...]


@dataclass(frozen=True)
class GpuSummary:
    """One GPU over a window: mean and max utilisation and memory, samples it had an error."""

    index: int
    name: str
    util_mean: float | None
    util_max: float | None
    memory_used_mean: float | None
    memory_used_max: float | None
    memory_total: int | None
    errors: int


@dataclass(frozen=True)
class NodeSummary:
    """One node over a window: samples, mean and max CPU and memory, and its GPUs."""

    node_id: str
    hostname: str
    samples: int
    cpu_mean: float | None
    cpu_max: float | None
    memory_used_mean: float | None
    memory_used_max: float | None
    memory_total: int | None
    gpus: tuple[GpuSummary, ...]


@dataclass(frozen=True)
class TelemetryReport:
    """A window of history: the bucketed points (for charts) and per-node summaries."""

    history: TelemetryHistory
    nodes: tuple[NodeSummary, ...]


def parse_since(text: str) -> timedelta:
    """`30s`, `30m`, `1h`, `2d`, `1w` as a timedelta; anything else is bad input."""
    match = _SINCE.match(text)
    if match is None:
        raise InvalidInputError(f"--since {text!r} is not a duration", _SINCE_HINT)
    value = float(match.group(1)) * _UNITS[match.group(2)]
    if value <= 0:
        raise InvalidInputError(f"--since {text!r} must be more than zero", _SINCE_HINT)
    return timedelta(seconds=value)


def check_interval(interval_s: float) -> float:
    """A refresh interval in seconds; zero, negative or not a number is bad input."""
    from workbench.compute.telemetry.sampler import check_interval as check

    try:
        return check(interval_s, "--interval")
    except InvalidInputError as error:
        raise InvalidInputError(error.message, error.hint or "e.g. --interval 2") from None


class LiveTelemetry:
    """Reads the live view again and again (`--watch`), keeping one in-process sampler so its
    rates cover the refresh interval."""

    def __init__(self, settings: Settings, node: str | None = None) -> None:
        self.settings = settings
        self.node = node
        self._sampler: NodeSampler | None = None

    def read(self) -> TelemetrySnapshot:
        """Fresh samples from the catalogue, else one sample of this machine."""
        with open_catalogue(self.settings) as catalogue:
            stored = TelemetryLedger(catalogue).latest(self.node)
        fresh_after = datetime.now(UTC) - timedelta(seconds=FRESH_S)
        fresh = tuple(s for s in stored if s.ts >= fresh_after)
        if fresh:
            return TelemetrySnapshot("cluster", fresh)
        return TelemetrySnapshot("local", (self._sample_here(),))

    def close(self) -> None:
        """Release the in-process sampler (its NVML handles)."""
        if self._sampler is not None:
            self._sampler.close()
            self._sampler = None

    def _sample_here(self) -> NodeSample:
        # Deferred: only the no-cluster path needs psutil's sampler and NVML.
        from workbench.compute.telemetry.sampler import NodeSampler

        if self._sampler is None:
            self._sampler = NodeSampler()
            self._sampler.sample()
            time.sleep(PRIME_S)  # CPU % and rates are over an interval: give them one
        return self._sampler.sample()


class CatalogueSink:
    """The sampler actors' sink (`ensure_samplers(sink=CatalogueSink(settings))`): each batch
    goes to this catalogue's history in one write, through the owner when inside Ray.

    Picklable: it travels to every sampler actor and opens the catalogue on its first batch.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._catalogue: Catalogue | None = None

    def __call__(self, batch: list[NodeSample]) -> None:
        if self._catalogue is None:
            self._catalogue = open_catalogue(self.settings)
        TelemetryLedger(self._catalogue).append(list(batch))
        # The attributed processes, for per-run resources (services/run_resources).
        RunResourceLedger(self._catalogue).append(list(batch))

    def close(self) -> None:
        """Release the catalogue (the file, when no owner holds it)."""
        if self._catalogue is not None:
            self._catalogue.close()
            self._catalogue = None

    def __getstate__(self) -> dict[str, object]:
        return {"settings": self.settings, "_catalogue": None}


def snapshot(settings: Settings, node: str | None = None) -> TelemetrySnapshot:
    """The newest sample per node (see LiveTelemetry.read), taken once."""
    live = LiveTelemetry(settings, node)
    try:
        return live.read()
    finally:
        live.close()


def history(settings: Settings, since: str, node: str | None = None) -> TelemetryReport:
    """Telemetry from `since` ago (`1h`, `30m`, `2d`) until now, per node and per GPU."""
    window = parse_since(since)
    until = utcnow()
    with open_catalogue(settings) as catalogue:
        found = TelemetryLedger(catalogue).history(until - window, until, node)
    return TelemetryReport(found, _summaries(found))


def _summaries(found: TelemetryHistory) -> tuple[NodeSummary, ...]:
    nodes: dict[str, list[NodePoint]] = {}
    for point in found.nodes:
        nodes.setdefault(point.node_id, []).append(point)
    gpus: dict[tuple[str, int], list[GpuPoint]] = {}
    for gpu in found.gpus:
        gpus.setdefault((gpu.node_id, gpu.gpu_index), []).append(gpu)
    summaries = []
    for node_id, points in nodes.items():
        mine = [(index, got) for (owner, index), got in sorted(gpus.items()) if owner == node_id]
        summaries.append(
            NodeSummary(
                node_id=node_id,
                hostname=points[-1].hostname,
                samples=sum(p.samples for p in points),
                cpu_mean=_mean([(p.cpu_percent_mean, p.samples) for p in points]),
                cpu_max=_max([p.cpu_percent_max for p in points]),
                memory_used_mean=_mean([(p.mem_used_bytes_mean, p.samples) for p in points]),
                memory_used_max=_max([p.mem_used_bytes_max for p in points]),
                memory_total=points[-1].mem_total_bytes,
                gpus=tuple(_gpu_summary(index, got) for index, got in mine),
            )
        )
    return tuple(summaries)


def _gpu_summary(index: int, points: list[GpuPoint]) -> GpuSummary:
    return GpuSummary(
        index=index,
        name=points[-1].name,
        util_mean=_mean([(p.utilization_percent_mean, p.samples) for p in points]),
        util_max=_max([p.utilization_percent_max for p in points]),
        memory_used_mean=_mean([(p.memory_used_bytes_mean, p.samples) for p in points]),
        memory_used_max=_max([p.memory_used_bytes_max for p in points]),
        memory_total=points[-1].memory_total_bytes,
        errors=sum(p.errors for p in points),
    )


def _mean(values: list[tuple[float | None, int]]) -> float | None:
    """Mean of bucket means weighted by their samples; None when no bucket has a reading."""
    known = [(value, weight) for value, weight in values if value is not None]
    weight = sum(w for _, w in known)
    return sum(v * w for v, w in known) / weight if weight else None


def _max(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None
