"""`workbench telemetry`: CPU, memory and GPUs of every node, live (nvitop-like) or as history."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from workbench.cli.render import console, emit_json, print_table, short_time

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Group
    from rich.text import Text

    from workbench.core.telemetry import GpuSample, NodeSample
    from workbench.services.telemetry import LiveTelemetry, TelemetryReport, TelemetrySnapshot

    _Point = tuple[datetime, float | None]

_GIB = 1024**3
_BAR = 20


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the samples as JSON.")
@click.option("--watch", is_flag=True, help="Redraw every --interval seconds until Ctrl-C.")
@click.option("--node", default=None, help="Only this node (node id or hostname).")
@click.option(
    "--interval", default="1", show_default=True, help="Seconds between redraws with --watch."
)
@click.pass_context
def telemetry(
    ctx: click.Context, as_json: bool, watch: bool, node: str | None, interval: str
) -> None:
    """CPU, load, memory, swap, disk, network and GPUs of each node, like nvitop.

    With a cluster whose samplers write to the catalogue, shows each node's newest sample;
    without one, samples this machine.

    \b
    Examples:
      workbench telemetry                      # one look at every node
      workbench telemetry --watch --interval 2 # redraw every 2 s, Ctrl-C to stop
      workbench telemetry --node gpu-box-1 --json
      workbench telemetry history --since 1h   # means, maxes and charts of the last hour
    """
    if ctx.invoked_subcommand is not None:
        return
    from workbench.core.errors import InvalidInputError
    from workbench.core.settings import load_settings
    from workbench.services.telemetry import LiveTelemetry, check_interval

    seconds = check_interval(interval)  # type: ignore[arg-type]  # checked there, str or not
    if watch and as_json:
        raise InvalidInputError("--watch draws in the terminal", "drop --json, or --watch")
    live = LiveTelemetry(load_settings(), node)
    try:
        if watch:
            _watch(live, seconds)
            return
        found = live.read()
    finally:
        live.close()
    if as_json:
        emit_json({"source": found.source, "nodes": [asdict(s) for s in found.samples]})
        return
    console().print(_render(found))


def _watch(live: LiveTelemetry, seconds: float) -> None:
    """Redraw until Ctrl-C (which ends the command quietly)."""
    import time

    from rich.live import Live

    out = console()
    try:
        with Live(_render(live.read()), console=out, auto_refresh=False) as screen:
            while True:
                time.sleep(seconds)
                screen.update(_render(live.read()), refresh=True)
    except KeyboardInterrupt:
        return


def _render(found: TelemetrySnapshot) -> Group:
    """Every node's lines, then where the samples came from."""
    from rich.console import Group
    from rich.text import Text

    lines: list[Text] = []
    for sample in found.samples:
        lines.extend(_node_lines(sample))
    where = "this machine (no cluster samplers writing)" if found.source == "local" else "cluster"

    lines.append(Text(f"source: {where}", style="dim"))
    return Group(*lines)


def _node_lines(sample: NodeSample) -> list[Text]:
    from rich.text import Text

    name = (
        sample.hostname
        if sample.hostname == sample.node_id
        else (f"{sample.hostname} ({sample.node_id[:12]})")
    )
    head = Text(f"{name}  {short_time(sample.ts)} UTC", style="bold")
    cpu = Text("  CPU ")
    cpu.append_text(_bar(sample.cpu_percent / 100))
    cpu.append(f" {sample.cpu_percent:5.1f}%  {len(sample.cpu_per_core)} cores  ")
    cpu.append(f"load {sample.load_1m:.2f} {sample.load_5m:.2f} {sample.load_15m:.2f}")
    memory = Text("  MEM ")
    memory.append_text(_bar(_share(sample.mem_used_bytes, sample.mem_total_bytes)))
    memory.append(f" {_gib(sample.mem_used_bytes)}/{_gib(sample.mem_total_bytes)}  SWP ")
    memory.append_text(_bar(_share(sample.swap_used_bytes, sample.swap_total_bytes), 10))
    memory.append(f" {_gib(sample.swap_used_bytes)}/{_gib(sample.swap_total_bytes)}")
    io = Text(
        f"  disk read {_rate(sample.disk_read_bps)} write {_rate(sample.disk_write_bps)}  "
        f"net in {_rate(sample.net_recv_bps)} out {_rate(sample.net_sent_bps)}"
    )
    lines = [head, cpu, memory, io]
    if not sample.gpus:
        lines.append(Text(f"  {sample.gpu_note or 'no GPU'}", style="dim"))
    for gpu in sample.gpus:
        lines.extend(_gpu_lines(gpu))
    return lines


def _gpu_lines(gpu: GpuSample) -> list[Text]:
    from rich.text import Text

    head = Text(f"  GPU{gpu.index} {gpu.name[:24]:<24} ")
    if gpu.error:
        head.append(gpu.error, style="red")
        return [head]
    head.append("UTIL ")
    util = gpu.utilization_percent
    head.append_text(_bar(None if util is None else util / 100, 12))
    head.append(f" {_number(util, '%')}  MEM ")
    head.append_text(_bar(_share(gpu.memory_used_bytes, gpu.memory_total_bytes), 12))
    head.append(f" {_gib(gpu.memory_used_bytes)}/{_gib(gpu.memory_total_bytes)}  ")
    head.append(f"{_number(gpu.temperature_c, 'C')}  ")
    head.append(f"{_number(gpu.power_w, '')}/{_number(gpu.power_limit_w, 'W')}")
    lines = [head]
    for process in gpu.processes:
        owner = process.run_id and f"run {process.run_id[:8]}" or process.deployment or ""
        lines.append(
            Text(f"      pid {process.pid:<8} {_gib(process.memory_bytes)}  {owner}", style="dim")
        )
    return lines


def _bar(fraction: float | None, width: int = _BAR) -> Text:
    """An nvitop-like bar: filled cells green, yellow past 60%, red past 90%."""
    from rich.text import Text

    if fraction is None:
        return Text("?" * width, style="dim")
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    style = "red" if fraction > 0.9 else "yellow" if fraction > 0.6 else "green"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (width - filled), style="dim")
    return bar


def _share(used: int | None, total: int | None) -> float | None:
    return used / total if used is not None and total else None


def _gib(value: float | None) -> str:
    return "?" if value is None else f"{value / _GIB:.1f}G"


def _rate(bps: float | None) -> str:
    if bps is None:
        return "-"
    for unit, size in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if bps >= size:
            return f"{bps / size:.1f} {unit}"
    return f"{bps:.0f} B/s"


def _number(value: float | None, unit: str) -> str:
    return "?" if value is None else f"{value:.0f}{unit}"


@telemetry.command("history")
@click.option("--since", default="1h", show_default=True, help="Window: 30m, 1h, 2d, 1w.")
@click.option("--node", default=None, help="Only this node (node id or hostname).")
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON.")
def history_command(since: str, node: str | None, as_json: bool) -> None:
    """Mean and max CPU, memory and per-GPU utilisation and memory over a window, with charts.

    Samples are kept at full resolution for an hour, then as 1-minute means and maxes.

    \b
    Examples:
      workbench telemetry history                   # the last hour
      workbench telemetry history --since 2d --node gpu-box-1
      workbench telemetry history --since 30m --json
    """
    from workbench.core.settings import load_settings
    from workbench.services.telemetry import history

    report = history(load_settings(), since, node)
    if as_json:
        emit_json(_history_json(report))
        return
    found = report.history
    if not report.nodes:
        click.echo(
            f"no telemetry between {short_time(found.since)} and {short_time(found.until)} UTC"
        )
        click.echo("samplers store it while a cluster runs: `workbench cluster up`", err=True)
        return
    rows = []
    for node_summary in report.nodes:
        rows.append(
            [
                node_summary.hostname,
                str(node_summary.samples),
                f"{_number(node_summary.cpu_mean, '%')} / {_number(node_summary.cpu_max, '%')}",
                f"{_gib(node_summary.memory_used_mean)} / {_gib(node_summary.memory_used_max)}"
                f" of {_gib(node_summary.memory_total)}",
            ]
        )
        for gpu in node_summary.gpus:
            rows.append(
                [
                    f"  GPU{gpu.index} {gpu.name}",
                    f"{gpu.errors} errors" if gpu.errors else "",
                    f"{_number(gpu.util_mean, '%')} / {_number(gpu.util_max, '%')}",
                    f"{_gib(gpu.memory_used_mean)} / {_gib(gpu.memory_used_max)}"
                    f" of {_gib(gpu.memory_total)}",
                ]
            )
    print_table(["node", "samples", "CPU or util mean / max", "memory mean / max"], rows)
    click.echo(_charts(report))


def _history_json(report: TelemetryReport) -> dict[str, object]:
    found = report.history
    return {
        "since": found.since,
        "until": found.until,
        "resolution_s": found.resolution_s,
        "nodes": [asdict(node) for node in report.nodes],
    }


def _charts(report: TelemetryReport) -> str:
    """Braille charts of each node's CPU % and each GPU's utilisation, minutes ago on x."""
    import shutil
    import sys

    import plotext  # deferred: only this command draws

    found = report.history
    charts = []
    for summary in report.nodes:
        for title, points in _series(report, summary.node_id):
            known = [
                ((ts - found.until).total_seconds() / 60, value)
                for ts, value in points
                if value is not None
            ]
            if len(known) < 2:
                continue
            figure = plotext.figure
            figure.clear()
            figure.draw(figure.signal(*zip(*known, strict=True), marker="braille"))
            figure.title(f"{summary.hostname}: {title}")
            figure.label("minutes ago", axis="x")
            figure.theme("clear")
            figure.plot_size(min(shutil.get_terminal_size().columns, 100), 12)
            charts.append(str(figure.build().string(colorless=not sys.stdout.isatty())))
    return "\n".join(charts)


def _series(report: TelemetryReport, node_id: str) -> list[tuple[str, list[_Point]]]:
    """(title, [(bucket start, mean)]) for the node's CPU %, then each GPU's utilisation."""
    found = report.history
    series = [("CPU %", [(p.ts, p.cpu_percent_mean) for p in found.nodes if p.node_id == node_id])]
    gpus = [p for p in found.gpus if p.node_id == node_id]
    for index in sorted({p.gpu_index for p in gpus}):
        points = [(p.ts, p.utilization_percent_mean) for p in gpus if p.gpu_index == index]
        series.append((f"GPU{index} util %", points))
    return series
