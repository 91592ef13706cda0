"""Telemetry samples: what a sampler measures on one node at one moment (issue 11).

Plain values, no engine: samplers (compute/telemetry) build them, the catalogue stores them,
the CLI and the TUI show them. A reading a sampler could not take is None, never a guess;
`GpuSample.error` says why a GPU has none ("GPU lost", "not supported").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

NO_GPU = "no GPU"
"""`NodeSample.gpu_note` when NVML finds no device or is not installed."""


@dataclass(frozen=True)
class Attribution:
    """What a process belongs to: a run (or trial) and/or a deployment."""

    run_id: str | None = None
    deployment: str | None = None


Attributor = Callable[[int], "Attribution | None"]
"""Maps a pid to what it belongs to (None: unknown); samplers call it for each process they report.

It runs on every sample for every attributed process, so it must be cheap (a dict lookup
refreshed elsewhere), and it must not raise.
"""


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU, and what it belongs to when known."""

    pid: int
    memory_bytes: int | None
    run_id: str | None = None
    deployment: str | None = None


@dataclass(frozen=True)
class GpuSample:
    """One GPU at one moment; every reading None when `error` is set."""

    index: int
    uuid: str
    name: str
    utilization_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: int | None = None
    memory_clock_mhz: int | None = None
    processes: tuple[GpuProcess, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class ProcessUsage:
    """CPU and memory of one attributed process (a Ray worker of a run or a deployment)."""

    pid: int
    cpu_percent: float
    rss_bytes: int
    run_id: str | None = None
    deployment: str | None = None


@dataclass(frozen=True)
class NodeSample:
    """One node at one moment: CPU, memory, disk and network rates, GPUs, attributed processes.

    Rates (bytes per second) are over the interval since the sampler's previous sample; the
    first sample of a sampler has none (None).
    """

    ts: datetime
    node_id: str
    hostname: str
    cpu_percent: float
    cpu_per_core: tuple[float, ...]
    load_1m: float
    load_5m: float
    load_15m: float
    mem_used_bytes: int
    mem_total_bytes: int
    swap_used_bytes: int
    swap_total_bytes: int
    disk_read_bps: float | None = None
    disk_write_bps: float | None = None
    net_recv_bps: float | None = None
    net_sent_bps: float | None = None
    gpus: tuple[GpuSample, ...] = ()
    gpu_note: str = ""
    processes: tuple[ProcessUsage, ...] = field(default_factory=tuple)
