"""The node panel draws a NodeSample like nvitop: bars, readings, GPUs and their processes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from textual.app import App, ComposeResult

from workbench.core.telemetry import NO_GPU, GpuProcess, GpuSample, NodeSample
from workbench.tui.widgets.node_panel import NodePanel, bar, rate, render_node

GIB = 1024**3


def _node(gpus: tuple[GpuSample, ...] = (), note: str = "") -> NodeSample:
    return NodeSample(
        ts=datetime(2026, 12, 1, 12), node_id="n1", hostname="head", cpu_percent=71.0,
        cpu_per_core=(80.0, 62.0), load_1m=1.5, load_5m=1.2, load_15m=0.9,
        mem_used_bytes=9 * GIB, mem_total_bytes=24 * GIB, swap_used_bytes=0,
        swap_total_bytes=2 * GIB, disk_read_bps=1.5e6, disk_write_bps=None,
        net_recv_bps=2_100.0, net_sent_bps=512.0, gpus=gpus, gpu_note=note,
    )  # fmt: skip


H200 = GpuSample(
    index=0, uuid="GPU-1", name="NVIDIA H200", utilization_percent=45.0,
    memory_used_bytes=28 * GIB, memory_total_bytes=140 * GIB, temperature_c=63.0,
    power_w=312.0, power_limit_w=700.0,
    processes=(GpuProcess(4242, 12 * GIB, run_id="3f2a1c0de9"), GpuProcess(77, None)),
)  # fmt: skip
LOST = GpuSample(index=1, uuid="GPU-2", name="NVIDIA H200", error="GPU lost")


def test_bars_and_rates() -> None:
    assert bar(0.5, 10).plain == "█████░░░░░  50%"
    assert bar(None, 10).plain.startswith("n/a")
    assert bar(1.7, 4).plain == "████ 100%"
    assert rate(None) == "-"
    assert rate(1.5e6) == "1.5 MB/s"
    assert rate(512.0) == "512 B/s"


def test_a_node_without_gpus_says_so() -> None:
    text = render_node(_node(note=NO_GPU), 120).plain
    assert "head" in text
    assert "71%" in text
    assert "9.0/24.0 GiB" in text
    assert "GPU  no GPU" in text
    assert "disk r 1.5 MB/s w -" in text


def test_gpus_with_processes_and_a_lost_one() -> None:
    text = render_node(_node(gpus=(H200, LOST)), 120).plain
    assert "GPU0 NVIDIA H200" in text
    assert "45%" in text
    assert "28.0/140.0 GiB" in text
    assert "63°C  312/700 W" in text
    assert "pid 4242" in text
    assert "run 3f2a1c0d" in text
    assert "not a Workbench process" in text
    assert "GPU1 NVIDIA H200  GPU lost" in text


class _PanelApp(App[None]):
    def __init__(self, sample: NodeSample) -> None:
        super().__init__()
        self._sample = sample

    def compose(self) -> ComposeResult:
        yield NodePanel(id="node")

    def on_mount(self) -> None:
        self.query_one(NodePanel).show(self._sample)


@pytest.mark.parametrize("size", [(120, 16), (80, 16)], ids=["120", "80"])
def test_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_PanelApp(_node(gpus=(H200, LOST))), terminal_size=size)


def test_a_stored_sample_without_load_averages_draws_dashes() -> None:
    sample = _node()
    stored = NodeSample(**{**sample.__dict__, "load_5m": None, "load_15m": None})  # NULLs read back
    assert "load 1.50 - -" in render_node(stored, 120).plain
