"""GPU discovery through NVML (nvidia-ml-py); no GPU or no driver means zero, never a crash."""

from __future__ import annotations


def gpu_count() -> int:
    """Number of NVIDIA GPUs NVML can see on this machine (0 without a driver)."""
    try:
        import pynvml  # nvidia-ml-py; imported here because most commands never need it
    except ImportError:
        return 0
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return 0
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()
