"""The in-process node sampler on real psutil (GPUs through the fake NVML module)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from tests.fixtures.fake_nvml import FakeGpu, FakeNvml, ProcessInfo
from tests.fixtures.waiting import wait_until
from workbench.compute.telemetry.nvml import NvmlGpus
from workbench.compute.telemetry.sampler import (
    NodeSampler,
    _ProcessReader,
    _ProcStatReader,
    check_interval,
)
from workbench.core.errors import InvalidInputError
from workbench.core.telemetry import NO_GPU, Attribution


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A real process that sleeps until killed."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=30)


def no_gpu() -> NvmlGpus:
    return NvmlGpus(FakeNvml(library=False))


def test_a_sample_has_sane_numbers() -> None:
    sampler = NodeSampler(node_id="node-1", gpus=no_gpu())
    sample = sampler.sample()
    assert sample.node_id == "node-1"
    assert sample.hostname
    assert sample.ts.tzinfo is not None
    assert 0.0 <= sample.cpu_percent <= 100.0
    assert len(sample.cpu_per_core) == psutil.cpu_count()
    assert all(0.0 <= core <= 100.0 for core in sample.cpu_per_core)
    assert min(sample.load_1m, sample.load_5m, sample.load_15m) >= 0.0
    assert sample.mem_total_bytes == psutil.virtual_memory().total
    assert 0 < sample.mem_used_bytes <= sample.mem_total_bytes
    assert sample.swap_total_bytes == psutil.swap_memory().total
    assert 0 <= sample.swap_used_bytes <= max(sample.swap_total_bytes, 0)
    assert (sample.gpus, sample.gpu_note) == ((), NO_GPU)
    assert sample.processes == ()


def test_rates_appear_from_the_second_sample() -> None:
    sampler = NodeSampler(gpus=no_gpu())
    first = sampler.sample()
    assert (first.net_recv_bps, first.net_sent_bps) == (None, None)
    assert (first.disk_read_bps, first.disk_write_bps) == (None, None)
    second = sampler.sample()
    assert second.net_recv_bps is not None
    assert second.net_recv_bps >= 0
    assert second.net_sent_bps is not None
    assert second.net_sent_bps >= 0
    if psutil.disk_io_counters() is not None:  # containers may expose no block device
        assert second.disk_read_bps is not None
        assert second.disk_read_bps >= 0
        assert second.disk_write_bps is not None
        assert second.disk_write_bps >= 0


def test_attributed_processes_are_read_and_a_pid_that_exits_is_skipped(
    child: subprocess.Popen[bytes],
) -> None:
    owners = {child.pid: Attribution(run_id="run-1")}
    sampler = NodeSampler(gpus=no_gpu(), pids=lambda: [child.pid, 2**22 + 7], attribute=owners.get)
    (usage,) = sampler.sample().processes  # the pid that never existed is skipped
    assert usage.pid == child.pid
    assert usage.rss_bytes > 0
    assert usage.cpu_percent >= 0.0
    assert (usage.run_id, usage.deployment) == ("run-1", None)
    child.kill()
    child.wait(timeout=30)
    assert sampler.sample().processes == ()


def test_the_pid_source_is_read_at_most_once_per_refresh_interval() -> None:
    calls: list[int] = []

    def pids() -> list[int]:
        calls.append(1)
        return []

    sampler = NodeSampler(gpus=no_gpu(), pids=pids, pid_refresh_s=3600)
    for _ in range(5):
        sampler.sample()
    assert len(calls) == 1


def test_gpus_and_their_processes_are_attributed() -> None:
    nvml = FakeNvml([FakeGpu(processes=[ProcessInfo(pid=4242, usedGpuMemory=2**30)])])
    owners = {4242: Attribution(deployment="fraud-api")}
    sample = NodeSampler(gpus=NvmlGpus(nvml), attribute=owners.get).sample()
    (gpu,) = sample.gpus
    assert sample.gpu_note == ""
    (process,) = gpu.processes
    assert (process.pid, process.memory_bytes) == (4242, 2**30)
    assert (process.run_id, process.deployment) == (None, "fraud-api")


@pytest.mark.parametrize("interval", [0, -1, "abc", float("nan")])
def test_a_bad_interval_is_invalid_input(interval: object) -> None:
    with pytest.raises(InvalidInputError, match="interval"):
        check_interval(interval)  # type: ignore[arg-type]  # bad input on purpose
    with pytest.raises(InvalidInputError):
        NodeSampler(gpus=no_gpu(), pid_refresh_s=interval)  # type: ignore[arg-type]


def test_a_good_interval_is_a_float() -> None:
    assert check_interval(2) == 2.0


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


@pytest.mark.parametrize("reader", [_ProcStatReader, _ProcessReader], ids=["proc-stat", "psutil"])
def test_each_reader_sees_a_busy_process_busy_and_a_sleeping_one_idle(
    reader: type[_ProcessReader], child: subprocess.Popen[bytes]
) -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        processes = reader()
        processes.track({busy.pid, child.pid, 2**22 + 7}, time.monotonic())
        baseline = _cpu_seconds(busy.pid)
        wait_until(lambda: _cpu_seconds(busy.pid) - baseline >= 0.5, 30, "0.5 s of CPU", 0.05)
        found = {pid: (cpu, rss) for pid, cpu, rss in processes.read(time.monotonic())}
        assert set(found) == {busy.pid, child.pid}  # the pid that never existed is not read
        assert found[busy.pid][0] > 20.0  # a spinning process, even on a loaded 2-core machine
        assert found[child.pid][0] < 5.0
        # The child may still be starting up: its memory moves between two reads.
        assert found[child.pid][1] == pytest.approx(psutil.Process(child.pid).memory_info().rss,
                                                    rel=0.1)  # fmt: skip
        busy.kill()
        busy.wait(timeout=30)
        assert [pid for pid, _, _ in processes.read(time.monotonic())] == [child.pid]
    finally:
        busy.kill()
        busy.wait(timeout=30)


def test_the_sampler_reads_processes_from_proc_on_linux() -> None:
    assert isinstance(NodeSampler(gpus=no_gpu())._processes, _ProcStatReader)
