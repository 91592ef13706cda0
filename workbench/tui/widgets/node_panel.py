"""One node's telemetry like nvitop draws it: CPU, memory and swap bars, rates, each GPU.

Renders a `NodeSample` (core.telemetry) to fit the widget's width; GPUs show utilisation and
memory bars, temperature, power against its limit, and the processes holding memory with
the run or deployment they belong to. A GPU with an error says so in place of its bars.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from workbench.core.telemetry import GpuSample, NodeSample

GIB = 1024**3
BAR_MIN, BAR_MAX = 10, 30


def bar(fraction: float | None, width: int) -> Text:
    """`███████░░░ 70%`, coloured by load; `n/a` when the reading is missing."""
    if fraction is None:
        return Text("n/a".ljust(width + 5), style="dim")
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    style = "green" if fraction < 0.6 else "yellow" if fraction < 0.85 else "red"
    return Text.assemble(
        ("█" * filled, style), ("░" * (width - filled), "dim"), f" {fraction * 100:3.0f}%"
    )


def rate(bytes_per_s: float | None) -> str:
    """`1.2 MB/s`, or `-` before a sampler has two samples."""
    if bytes_per_s is None:
        return "-"
    for unit, size in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if bytes_per_s >= size:
            return f"{bytes_per_s / size:.1f} {unit}"
    return f"{bytes_per_s:.0f} B/s"


def _load(value: float | None) -> str:
    """A load average; a stored sample may lack one (kept at full resolution only)."""
    return "-" if value is None else f"{value:.2f}"


def render_node(sample: NodeSample, width: int) -> Text:
    """The node's lines for a panel `width` columns wide."""
    size = max(BAR_MIN, min(BAR_MAX, (width - 60) // 2))
    memory = sample.mem_used_bytes / sample.mem_total_bytes if sample.mem_total_bytes else None
    swap = sample.swap_used_bytes / sample.swap_total_bytes if sample.swap_total_bytes else None
    text = Text.assemble(
        (f"{sample.hostname}", "bold"),
        f"  {len(sample.cpu_per_core)} cores  load {_load(sample.load_1m)} "
        f"{_load(sample.load_5m)} {_load(sample.load_15m)}\n",
        " CPU ", bar(sample.cpu_percent / 100, size),
        "   MEM ", bar(memory, size),
        f" {sample.mem_used_bytes / GIB:.1f}/{sample.mem_total_bytes / GIB:.1f} GiB\n",
        " SWP ", bar(swap, size),
        f"   disk r {rate(sample.disk_read_bps)} w {rate(sample.disk_write_bps)}"
        f"  net ↓ {rate(sample.net_recv_bps)} ↑ {rate(sample.net_sent_bps)}",
    )  # fmt: skip
    if not sample.gpus:
        text.append(f"\n GPU  {sample.gpu_note or 'no GPU'}", style="dim")
    for gpu in sample.gpus:
        text.append("\n")
        text.append_text(render_gpu(gpu, size))
    return text


def render_gpu(gpu: GpuSample, size: int) -> Text:
    """One GPU: its bars and readings, then a line per process holding memory."""
    head = Text(f" GPU{gpu.index} {gpu.name}", style="bold")
    if gpu.error is not None:
        return head.append(f"  {gpu.error}", style="red")
    memory = (
        gpu.memory_used_bytes / gpu.memory_total_bytes
        if gpu.memory_used_bytes is not None and gpu.memory_total_bytes
        else None
    )
    utilisation = None if gpu.utilization_percent is None else gpu.utilization_percent / 100
    readings = []
    if gpu.temperature_c is not None:
        readings.append(f"{gpu.temperature_c:.0f}°C")
    if gpu.power_w is not None:
        limit = f"/{gpu.power_limit_w:.0f}" if gpu.power_limit_w else ""
        readings.append(f"{gpu.power_w:.0f}{limit} W")
    text = Text.assemble(
        head, "\n UTL ", bar(utilisation, size), "   MEM ", bar(memory, size),
        f" {(gpu.memory_used_bytes or 0) / GIB:.1f}/{(gpu.memory_total_bytes or 0) / GIB:.1f} GiB",
        f"  {'  '.join(readings)}",
    )  # fmt: skip
    for process in gpu.processes:
        owner = (
            f"run {process.run_id[:8]}" if process.run_id
            else f"deployment {process.deployment}" if process.deployment
            else "not a Workbench process"
        )  # fmt: skip
        used = "?" if process.memory_bytes is None else f"{process.memory_bytes / GIB:.1f} GiB"
        text.append(f"\n   pid {process.pid:<8} {used:>10}  {owner}", style="dim")
    return text


class NodePanel(Static):
    """A node's live telemetry; `show(sample)` replaces what it draws."""

    DEFAULT_CSS = """
    NodePanel { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._sample: NodeSample | None = None

    def show(self, sample: NodeSample | None) -> None:
        """Draw `sample` (None: say there is none yet)."""
        self._sample = sample
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self._sample is None:
            self.update(Text("no telemetry yet", style="dim"))
            return
        self.update(render_node(self._sample, self.size.width or 100))
