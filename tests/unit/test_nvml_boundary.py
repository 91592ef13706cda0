"""The NVML boundary over a fake pynvml built from NVML's documented shapes and error codes."""

from __future__ import annotations

from tests.fixtures.fake_nvml import (
    NVML_ERROR_GPU_IS_LOST,
    NVML_ERROR_NO_PERMISSION,
    NVML_ERROR_NOT_SUPPORTED,
    FakeGpu,
    FakeNvml,
    ProcessInfo,
)
from workbench.compute.telemetry.nvml import NOT_AVAILABLE, NvmlGpus
from workbench.core.telemetry import NO_GPU, GpuProcess


def two_gpus() -> list[FakeGpu]:
    return [
        FakeGpu(uuid="GPU-a", processes=[ProcessInfo(pid=101, usedGpuMemory=3 * 2**30)]),
        FakeGpu(uuid="GPU-b", utilization=7, processes=[ProcessInfo(101, NOT_AVAILABLE)]),
    ]


def test_no_library_is_no_gpu_not_an_error() -> None:
    gpus = NvmlGpus(FakeNvml(library=False))
    assert gpus.read() == ()
    assert gpus.note == NO_GPU
    assert gpus.count == 0


def test_zero_gpus_is_no_gpu() -> None:
    gpus = NvmlGpus(FakeNvml([]))
    assert gpus.read() == ()
    assert gpus.note == NO_GPU


def test_two_gpus_read_in_documented_units() -> None:
    gpus = NvmlGpus(FakeNvml(two_gpus()))
    first, second = gpus.read()
    assert gpus.note == ""
    assert (first.index, first.uuid, first.name) == (0, "GPU-a", "NVIDIA H100 80GB HBM3")
    assert first.utilization_percent == 42.0
    assert (first.memory_used_bytes, first.memory_total_bytes) == (10 * 2**30, 80 * 2**30)
    assert first.temperature_c == 55.0
    assert (first.power_w, first.power_limit_w) == (250.0, 700.0)  # milliwatts -> watts
    assert (first.sm_clock_mhz, first.memory_clock_mhz) == (1980, 2619)
    assert first.processes == (GpuProcess(pid=101, memory_bytes=3 * 2**30),)
    assert first.error is None
    assert second.utilization_percent == 7.0
    assert second.processes == (GpuProcess(pid=101, memory_bytes=None),)  # not available


def test_handles_are_fetched_once_and_reused() -> None:
    nvml = FakeNvml(two_gpus())
    gpus = NvmlGpus(nvml)
    for _ in range(5):
        gpus.read()
    assert nvml.calls["nvmlInit"] == 1
    assert nvml.calls["nvmlDeviceGetCount"] == 1
    assert nvml.calls["nvmlDeviceGetHandleByIndex"] == 2
    assert nvml.calls["nvmlDeviceGetUUID"] == 2
    assert nvml.calls["nvmlDeviceGetUtilizationRates"] == 10


def test_a_lost_gpu_is_marked_and_the_other_kept() -> None:
    fleet = two_gpus()
    gpus = NvmlGpus(FakeNvml(fleet))
    fleet[0].errors["*"] = NVML_ERROR_GPU_IS_LOST  # falls off the bus after start
    lost, kept = gpus.read()
    assert lost.error == "GPU lost"
    assert lost.uuid == "GPU-a"
    assert lost.utilization_percent is None
    assert lost.memory_used_bytes is None
    assert kept.error is None
    assert kept.utilization_percent == 7.0


def test_a_gpu_lost_before_start_is_marked() -> None:
    fleet = two_gpus()
    fleet[1].errors["nvmlDeviceGetHandleByIndex"] = NVML_ERROR_GPU_IS_LOST
    first, second = NvmlGpus(FakeNvml(fleet)).read()
    assert first.error is None
    assert (second.index, second.error) == (1, "GPU lost")


def test_an_unsupported_field_is_none_and_the_rest_read() -> None:
    fleet = two_gpus()
    fleet[0].errors["nvmlDeviceGetPowerUsage"] = NVML_ERROR_NOT_SUPPORTED
    fleet[0].errors["nvmlDeviceGetComputeRunningProcesses"] = NVML_ERROR_NO_PERMISSION
    first, second = NvmlGpus(FakeNvml(fleet)).read()
    assert first.error is None
    assert first.power_w is None
    assert first.processes == ()
    assert first.power_limit_w == 700.0
    assert first.utilization_percent == 42.0
    assert second.power_w == 250.0


def test_close_shuts_nvml_down_once() -> None:
    nvml = FakeNvml(two_gpus())
    gpus = NvmlGpus(nvml)
    gpus.close()
    gpus.close()
    assert nvml.calls["nvmlShutdown"] == 1
    assert gpus.read() == ()
    assert gpus.note == NO_GPU
