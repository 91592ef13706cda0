"""Telemetry benchmark: what the node sampler costs, against psutil's own sample and a process walk.

1. CPU time per sample (`time.process_time` over --samples calls): Workbench's NodeSampler with
   no attributed process and with 20 (real sleeping children, read as the sampler reads them:
   `/proc/PID/stat` on Linux). Peers in the same run: psutil's own system sample (cpu_percent
   per core and total, virtual and swap memory, disk and network counters, load) and the naive
   tick that also walks every process.
2. The sampler's share of one core at 1 Hz: a thread sampling once a second for --duration-s,
   its own CPU time (`time.thread_time`) over the wall time, 20 processes attributed.
3. On a GPU machine, one sample against `nvidia-smi --query-gpu` (wall time per call); without
   `nvidia-smi` that line says "no GPU here: not measured".

Progress goes to stderr; the table to stdout (and the raw figures to --json FILE).

    python benchmarks/bench_telemetry.py --repeats 5 \
        --json benchmarks/results/telemetry-2026-12-01/telemetry.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.compute.telemetry.nvml import NvmlGpus  # noqa: E402
from workbench.compute.telemetry.sampler import NodeSampler  # noqa: E402

CHILDREN = 20
NVIDIA_SMI = [
    "nvidia-smi",
    "--query-gpu=utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,"
    "power.limit,clocks.sm,clocks.mem",
    "--format=csv,noheader,nounits",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Figure:
    """One measured quantity: every repeat, its unit, target and what it is compared with."""

    name: str
    samples: list[float]
    unit: str
    target: str = ""
    note: str = ""

    def cells(self) -> list[str]:
        if not self.samples:
            return [self.name, "-", "-", self.target, self.note]
        low, high, median = min(self.samples), max(self.samples), statistics.median(self.samples)
        return [self.name, f"{median:.3f} {self.unit}", f"{low:.3f} - {high:.3f} {self.unit}",
                self.target, self.note]  # fmt: skip


@contextmanager
def sleeping_children(count: int) -> Iterator[list[int]]:
    """`count` real processes that sleep until killed; yields their pids."""
    command = ["sleep", "600"]
    if shutil.which("sleep") is None:
        command = [sys.executable, "-c", "import time; time.sleep(600)"]
    children = [subprocess.Popen(command) for _ in range(count)]
    try:
        yield [child.pid for child in children]
    finally:
        for child in children:
            child.kill()
        for child in children:
            child.wait(timeout=30)


def cpu_ms_per_call(call: Callable[[], object], calls: int) -> float:
    """Process CPU milliseconds per call of `call`, over `calls` calls after one warm-up."""
    call()
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls * 1e3


def psutil_system_sample() -> None:
    """psutil's own sample of what NodeSampler reads for the node (no GPU, no process)."""
    psutil.cpu_percent(percpu=True)
    psutil.cpu_percent()
    psutil.virtual_memory()
    psutil.swap_memory()
    psutil.disk_io_counters()
    psutil.net_io_counters()
    psutil.getloadavg()


def naive_walk_sample() -> None:
    """The system sample plus a walk of every process, each read for CPU and memory."""
    psutil_system_sample()
    for process in psutil.process_iter(["cpu_percent", "memory_info"]):
        process.info  # noqa: B018 - read, as a naive sampler would


def share_at_1hz(sampler: NodeSampler, duration_s: float) -> float:
    """Percent of one core the sampling thread used, sampling at 1 Hz for `duration_s`."""
    result: list[float] = []
    stop = threading.Event()

    def loop() -> None:
        cpu, wall = time.thread_time(), time.monotonic()
        while True:
            sampler.sample()
            if stop.wait(1.0):
                break
        result.append((time.thread_time() - cpu) / (time.monotonic() - wall) * 100)

    thread = threading.Thread(target=loop)
    thread.start()
    stop.wait(duration_s)
    stop.set()
    thread.join()
    return result[0]


def measure(args: argparse.Namespace) -> list[Figure]:
    gpus = NvmlGpus()
    log(f"NVML: {gpus.count} GPU(s) {gpus.note}".rstrip())
    alone = NodeSampler(gpus=gpus)
    figures = [
        Figure("NodeSampler, 0 processes", [], "ms CPU", "<= 0.5 ms"),
        Figure(f"NodeSampler, {CHILDREN} attributed", [], "ms CPU", "<= 0.5 ms"),
        Figure("peer: psutil system sample", [], "ms CPU", "", "psutil calls, no process"),
        Figure("peer: naive walk of all processes", [], "ms CPU", "", ""),
        Figure("NodeSampler at 1 Hz, share of a core", [], "%", "<= 0.5 %", ""),
    ]
    with sleeping_children(CHILDREN) as pids:
        figures[3].note = f"system sample + {len(psutil.pids())} processes"
        figures[4].note = f"{args.duration_s:.0f} s, {CHILDREN} attributed"
        attributed = NodeSampler(gpus=gpus, pids=lambda: pids)
        for repeat in range(args.repeats):
            log(f"repeat {repeat + 1}/{args.repeats} ...")
            figures[0].samples.append(cpu_ms_per_call(alone.sample, args.samples))
            figures[1].samples.append(cpu_ms_per_call(attributed.sample, args.samples))
            figures[2].samples.append(cpu_ms_per_call(psutil_system_sample, args.samples))
            figures[3].samples.append(cpu_ms_per_call(naive_walk_sample, args.samples // 10))
            assert len(attributed.sample().processes) == CHILDREN
        for repeat in range(args.repeats):
            log(f"1 Hz for {args.duration_s:.0f} s ({repeat + 1}/{args.repeats}) ...")
            figures[4].samples.append(share_at_1hz(attributed, args.duration_s))
    figures += nvidia_smi_figures(alone, args)
    gpus.close()
    return figures


def nvidia_smi_figures(sampler: NodeSampler, args: argparse.Namespace) -> list[Figure]:
    """Wall ms per sample: NodeSampler (with GPUs) against one `nvidia-smi --query-gpu` call."""
    if shutil.which("nvidia-smi") is None:
        note = "no GPU here: not measured"
        return [
            Figure("NodeSampler with GPUs, wall", [], "ms", "", note),
            Figure("peer: nvidia-smi --query-gpu, wall", [], "ms", ">= 20x ours", note),
        ]
    ours, theirs = (
        Figure("NodeSampler with GPUs, wall", [], "ms"),
        Figure("peer: nvidia-smi --query-gpu, wall", [], "ms", ">= 20x ours"),
    )
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.samples):
            sampler.sample()
        ours.samples.append((time.perf_counter() - start) / args.samples * 1e3)
        start = time.perf_counter()
        for _ in range(args.smi_calls):
            subprocess.run(NVIDIA_SMI, check=True, capture_output=True)
        theirs.samples.append((time.perf_counter() - start) / args.smi_calls * 1e3)
    ratio = statistics.median(theirs.samples) / statistics.median(ours.samples)
    theirs.note = f"{ratio:.0f}x ours (medians)"
    return [ours, theirs]


def print_table(figures: list[Figure]) -> None:
    header = ["figure", "median", "range", "target", "note"]
    rows = [header, *(f.cells() for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats per figure (>= 3)")
    parser.add_argument("--samples", type=int, default=2_000, help="samples per CPU figure")
    parser.add_argument("--duration-s", type=float, default=10.0, help="the 1 Hz run's length")
    parser.add_argument("--smi-calls", type=int, default=20)
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    figures = measure(args)
    print_table(figures)
    if args.json:
        result = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "python": platform.python_version(),
            "psutil": psutil.__version__,
            "cpus": os.cpu_count(),
            "repeats": args.repeats,
            "samples": args.samples,
            "figures": [asdict(f) for f in figures],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
