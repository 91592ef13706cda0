"""The in-process node sampler: CPU, load, memory, swap, disk and network rates, GPUs, processes.

Cheap by design (about a sixth of a millisecond of CPU per sample on a small Linux node): one
read of each system counter, GPUs through handles opened once, and only a given set of pids
(the Ray workers of this node, refreshed every `pid_refresh_s`), never a walk of every
process. On Linux each of those pids costs one read of `/proc/PID/stat` (CPU time, resident
memory and start time, which tells a reused pid apart); elsewhere psutil's `oneshot()`.
Rates and CPU percentages are over the interval since the previous sample, against the
sampler's own counters (so other callers of psutil do not disturb them).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psutil

from workbench.compute.telemetry.nvml import NvmlGpus
from workbench.core.errors import InvalidInputError
from workbench.core.telemetry import Attribution, Attributor, GpuSample, NodeSample, ProcessUsage

DEFAULT_INTERVAL_S = 1.0
DEFAULT_PID_REFRESH_S = 10.0
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


def check_interval(interval_s: float, what: str = "sampling interval") -> float:
    """The interval as a float; a zero, negative or non-numeric one is bad input."""
    try:
        value = float(interval_s)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"the {what} must be a number of seconds, not {interval_s!r}"
        ) from None
    if not value > 0:  # also rejects NaN
        raise InvalidInputError(
            f"the {what} must be more than 0 seconds, not {interval_s!r}", "e.g. 1.0 for 1 Hz"
        )
    return value


class _Counters:
    """Byte counters of the previous sample, turned into rates (bytes per second)."""

    def __init__(self) -> None:
        self._last: tuple[float, tuple[int, ...]] | None = None

    def rates(self, now: float, values: tuple[int, ...] | None) -> tuple[float | None, ...]:
        previous, self._last = self._last, None if values is None else (now, values)
        if previous is None or values is None or now <= previous[0]:
            return (None,) * len(values or (0, 0))
        elapsed = now - previous[0]
        return tuple(
            (new - old) / elapsed if new >= old else None  # a counter reset: no rate
            for new, old in zip(values, previous[1], strict=True)
        )


def _cpu_busy_total(times: Any) -> tuple[float, float]:
    """(busy, total) seconds of one core as psutil counts them (guest time is in user time)."""
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


class NodeSampler:
    """Samples this node; `sample()` returns one NodeSample, rates since the previous call.

    `pids` returns the processes to attribute (e.g. this node's Ray workers); it is called at
    most every `pid_refresh_s`. `attribute` maps a pid to its run or deployment (see
    `workbench.core.telemetry.Attributor`); without it processes are reported unattributed.
    `gpus` defaults to the machine's NVML (none here: `gpu_note` says "no GPU").
    """

    def __init__(
        self,
        *,
        node_id: str = "",
        gpus: NvmlGpus | None = None,
        pids: Callable[[], Iterable[int]] | None = None,
        pid_refresh_s: float = DEFAULT_PID_REFRESH_S,
        attribute: Attributor | None = None,
    ) -> None:
        self.hostname = socket.gethostname()
        self.node_id = node_id or self.hostname
        self._gpus = gpus if gpus is not None else NvmlGpus()
        self._pid_source = pids
        self._pid_refresh_s = check_interval(pid_refresh_s, "pid refresh interval")
        self._pids_read_at: float | None = None
        self._attribute = attribute
        self._processes = _ProcessReader.for_this_system()
        self._cpu = [_cpu_busy_total(t) for t in psutil.cpu_times(percpu=True)]
        self._io = _Counters()
        self._net = _Counters()

    def sample(self) -> NodeSample:
        """Read the node once; never raises for a process or a GPU that vanished."""
        now = time.monotonic()
        per_core, total = self._cpu_percent()
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        disk = psutil.disk_io_counters(nowrap=False)
        net = psutil.net_io_counters(nowrap=False)
        read_bps, write_bps = self._io.rates(
            now, None if disk is None else (disk.read_bytes, disk.write_bytes)
        )
        recv_bps, sent_bps = self._net.rates(
            now, None if net is None else (net.bytes_recv, net.bytes_sent)
        )
        load_1m, load_5m, load_15m = os.getloadavg()
        return NodeSample(
            ts=datetime.now(UTC),
            node_id=self.node_id,
            hostname=self.hostname,
            cpu_percent=total,
            cpu_per_core=per_core,
            load_1m=load_1m,
            load_5m=load_5m,
            load_15m=load_15m,
            mem_used_bytes=memory.total - memory.available,
            mem_total_bytes=memory.total,
            swap_used_bytes=swap.used,
            swap_total_bytes=swap.total,
            disk_read_bps=read_bps,
            disk_write_bps=write_bps,
            net_recv_bps=recv_bps,
            net_sent_bps=sent_bps,
            gpus=tuple(self._attribute_gpu(gpu) for gpu in self._gpus.read()),
            gpu_note=self._gpus.note,
            processes=self._read_processes(now),
        )

    def _cpu_percent(self) -> tuple[tuple[float, ...], float]:
        """Per-core and whole-node busy % since the previous sample (or since construction)."""
        current = [_cpu_busy_total(t) for t in psutil.cpu_times(percpu=True)]
        per_core: list[float] = []
        all_busy = all_total = 0.0
        for (busy, total), (old_busy, old_total) in zip(current, self._cpu, strict=False):
            d_busy, d_total = max(busy - old_busy, 0.0), total - old_total
            per_core.append(_percent(d_busy, d_total))
            all_busy, all_total = all_busy + d_busy, all_total + max(d_total, 0.0)
        self._cpu = current
        return tuple(per_core), _percent(all_busy, all_total)

    def _read_processes(self, now: float) -> tuple[ProcessUsage, ...]:
        self._refresh_pids(now)
        usages: list[ProcessUsage] = []
        for pid, cpu, rss in self._processes.read(now):
            owner = self._owner(pid)
            usages.append(ProcessUsage(pid, cpu, rss, owner.run_id, owner.deployment))
        return tuple(usages)

    def _refresh_pids(self, now: float) -> None:
        if self._pid_source is None:
            return
        if self._pids_read_at is not None and now - self._pids_read_at < self._pid_refresh_s:
            return
        self._pids_read_at = now
        self._processes.track(set(self._pid_source()), now)

    def _owner(self, pid: int) -> Attribution:
        found = self._attribute(pid) if self._attribute is not None else None
        return found or Attribution()

    def _attribute_gpu(self, gpu: GpuSample) -> GpuSample:
        if self._attribute is None or not gpu.processes:
            return gpu
        processes = []
        for process in gpu.processes:
            owner = self._owner(process.pid)
            processes.append(replace(process, run_id=owner.run_id, deployment=owner.deployment))
        return replace(gpu, processes=tuple(processes))

    def close(self) -> None:
        """Release NVML."""
        self._gpus.close()


def _percent(busy: float, total: float) -> float:
    if total <= 0:
        return 0.0
    return round(min(max(busy / total * 100.0, 0.0), 100.0), 1)


class _ProcessReader:
    """CPU % since the previous read and resident memory of the tracked pids, through psutil
    (any system); a process that exited, or whose pid was reused, is dropped."""

    def __init__(self) -> None:
        self._processes: dict[int, psutil.Process] = {}

    @staticmethod
    def for_this_system() -> _ProcessReader:
        return _ProcStatReader() if _ProcStatReader.available() else _ProcessReader()

    def track(self, wanted: set[int], now: float) -> None:
        kept = {pid: p for pid, p in self._processes.items() if pid in wanted}
        for pid in wanted - kept.keys():
            try:
                process = psutil.Process(pid)
                process.cpu_percent(None)  # the baseline the next read's % is measured from
            except _GONE:
                continue
            kept[pid] = process
        self._processes = kept

    def read(self, now: float) -> list[tuple[int, float, int]]:
        found = []
        for pid, process in list(self._processes.items()):
            try:
                with process.oneshot():
                    found.append((pid, process.cpu_percent(None), process.memory_info().rss))
            except _GONE:  # exited (or became unreadable) between two samples: skip it
                del self._processes[pid]
        return found


class _ProcStatReader(_ProcessReader):
    """Linux: one read of /proc/PID/stat per pid, a quarter of what psutil's oneshot costs."""

    _TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    _PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[int, tuple[float, int, int]] = {}  # pid: (when, cpu ticks, start)

    @staticmethod
    def available() -> bool:
        return _read_stat(os.getpid()) is not None

    def track(self, wanted: set[int], now: float) -> None:
        last = {pid: seen for pid, seen in self._last.items() if pid in wanted}
        for pid in wanted - last.keys():
            stat = _read_stat(pid)
            if stat is not None:
                last[pid] = (now, stat[0], stat[2])
        self._last = last

    def read(self, now: float) -> list[tuple[int, float, int]]:
        found = []
        for pid, (then, ticks, start) in list(self._last.items()):
            stat = _read_stat(pid)
            if stat is None or stat[2] != start:  # exited, or the pid now names another one
                del self._last[pid]
                continue
            elapsed = now - then
            used = (stat[0] - ticks) / self._TICKS
            cpu = round(used / elapsed * 100.0, 1) if elapsed > 0 else 0.0
            found.append((pid, max(cpu, 0.0), stat[1] * self._PAGE))
            self._last[pid] = (now, stat[0], start)
        return found


def _read_stat(pid: int) -> tuple[int, int, int] | None:
    """(utime + stime in clock ticks, resident pages, start time) of `pid`, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:  # no such process, not permitted, or no /proc at all
        return None
    # Fields after the command name (which may hold spaces or parentheses): field 3 onwards.
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return int(fields[11]) + int(fields[12]), int(fields[21]), int(fields[19])
    except (IndexError, ValueError):
        return None
