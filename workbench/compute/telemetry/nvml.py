"""The one narrow boundary to NVML (nvidia-ml-py, `import pynvml`): GPUs as GpuSample values.

NVML is initialised once and each device's handle, UUID and name fetched once, then reused on
every read. No module, no library or no driver: no devices and the note NO_GPU, never an error.
An error on one GPU marks that GPU (`GpuSample.error`) and keeps the others; a single reading
a GPU does not support, or may not be read without privileges, is None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, TypeVar

from workbench.core.telemetry import NO_GPU, GpuProcess, GpuSample

T = TypeVar("T")

NOT_AVAILABLE = 2**64 - 1
"""NVML_VALUE_NOT_AVAILABLE: what older pynvml returns for a process's unknown GPU memory."""

# Errors that leave one reading unknown (None) rather than the whole GPU.
_FIELD_ERRORS = {"NVML_ERROR_NOT_SUPPORTED", "NVML_ERROR_NO_PERMISSION"}
_MESSAGES = {
    "NVML_ERROR_GPU_IS_LOST": "GPU lost",
    "NVML_ERROR_NOT_SUPPORTED": "not supported",
    "NVML_ERROR_NO_PERMISSION": "no permission",
    "NVML_ERROR_UNKNOWN": "unknown NVML error",
}

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Device:
    """A GPU as found at start: its index, identity and reused handle (None: not reachable)."""

    index: int
    uuid: str
    name: str
    handle: Any
    error: str | None = None


def _text(value: object) -> str:
    """pynvml returns str in recent releases and bytes in older ones."""
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlGpus:
    """Reads every GPU of this machine through one pynvml-shaped module, opened once.

    `module` is the pynvml module to use (tests pass a fake); None imports pynvml lazily.
    """

    def __init__(self, module: ModuleType | None = None) -> None:
        self._nvml: Any = None
        self._devices: tuple[_Device, ...] = ()
        self.note = NO_GPU
        nvml = module if module is not None else _import_pynvml()
        if nvml is None:
            return
        try:
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
        except nvml.NVMLError as error:  # no library, no driver, no device: "no GPU"
            _log.debug("NVML unavailable: %s", error)
            return
        self._nvml = nvml
        self._devices = tuple(self._open(index) for index in range(count))
        self.note = "" if self._devices else NO_GPU

    @property
    def count(self) -> int:
        """Number of GPUs NVML found (including ones that failed when opened)."""
        return len(self._devices)

    def _open(self, index: int) -> _Device:
        nvml = self._nvml
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            uuid = self._field(lambda: _text(nvml.nvmlDeviceGetUUID(handle)))
            name = self._field(lambda: _text(nvml.nvmlDeviceGetName(handle)))
        except nvml.NVMLError as error:  # this GPU stays marked; the others are read
            return _Device(index, "", "", None, self._message(error))
        return _Device(index, uuid or "", name or "", handle)

    def read(self) -> tuple[GpuSample, ...]:
        """One sample per GPU; a GPU that fails is marked, the others are read."""
        return tuple(self._read(device) for device in self._devices)

    def _read(self, device: _Device) -> GpuSample:
        blank = GpuSample(index=device.index, uuid=device.uuid, name=device.name)
        if device.handle is None:
            return replace(blank, error=device.error)
        nvml, handle = self._nvml, device.handle
        try:
            rates = self._field(lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
            memory = self._field(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
            temperature = self._field(
                lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
            )
            power_mw = self._field(lambda: nvml.nvmlDeviceGetPowerUsage(handle))
            limit_mw = self._field(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
            sm_clock = self._field(lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM))
            mem_clock = self._field(
                lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)
            )
            processes = self._field(lambda: nvml.nvmlDeviceGetComputeRunningProcesses(handle))
        except nvml.NVMLError as error:  # GPU lost, or anything beyond one reading
            return replace(blank, error=self._message(error))
        return replace(
            blank,
            utilization_percent=None if rates is None else float(rates.gpu),
            memory_used_bytes=None if memory is None else int(memory.used),
            memory_total_bytes=None if memory is None else int(memory.total),
            temperature_c=None if temperature is None else float(temperature),
            power_w=None if power_mw is None else power_mw / 1000.0,
            power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
            sm_clock_mhz=None if sm_clock is None else int(sm_clock),
            memory_clock_mhz=None if mem_clock is None else int(mem_clock),
            processes=tuple(_process(p) for p in processes or ()),
        )

    def _field(self, read: Callable[[], T]) -> T | None:
        """One reading; None when this GPU does not support it or may not read it."""
        try:
            return read()
        except self._nvml.NVMLError as error:
            if self._code_name(error) in _FIELD_ERRORS:
                return None
            raise

    def _code_name(self, error: Exception) -> str:
        value = getattr(error, "value", None)
        for name in _MESSAGES.keys() | _FIELD_ERRORS:
            if getattr(self._nvml, name, object()) == value:
                return name
        return ""

    def _message(self, error: Exception) -> str:
        return _MESSAGES.get(self._code_name(error)) or f"NVML error: {error}"

    def close(self) -> None:
        """Shut NVML down; the reader then has no devices."""
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError as error:
                _log.debug("NVML shutdown failed: %s", error)
        self._nvml, self._devices, self.note = None, (), NO_GPU


def _process(info: Any) -> GpuProcess:
    memory = getattr(info, "usedGpuMemory", None)
    if memory is None or memory == NOT_AVAILABLE:
        return GpuProcess(pid=int(info.pid), memory_bytes=None)
    return GpuProcess(pid=int(info.pid), memory_bytes=int(memory))


def _import_pynvml() -> ModuleType | None:
    try:
        import pynvml  # nvidia-ml-py; deferred: most commands never touch a GPU
    except ImportError:
        return None
    return pynvml
