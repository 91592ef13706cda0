"""TUI benchmark, headless (Textual's `run_test`): the Runs screen at 100,000 runs.

1. First paint: from the key that switches to Runs until the table's first data row is
   rendered, Workbench's own catalogue read inside the timer. Side by side, in the same run
   and on the same rows: textual-fastdatatable's Arrow backend (the Arrow table handed over
   ready, outside its timer) and Textual's DataTable filled with `add_rows` (rows prepared
   outside its timer; cut at --datatable-cap-s and reported as a lower bound).
2. A keystroke in the filter box to the updated table (`metrics.auc > 0.9` -> `0.95` and back).

Each figure checks what was painted: the row count and the first row's id. A paint is the
first `render_line` of the first data row after the change (a probe wraps the widget's
method), the moment the new rows leave the widget for the compositor.

To add a measurement (e.g. the Overview's CPU at 10 fps, cold start to first frame): write
`async def measure_x(bench: Bench, repeats: int) -> list[Figure]` and add it to MEASUREMENTS;
it gets --only, the table and the JSON for free.

    python benchmarks/bench_tui.py --repeats 5 --json benchmarks/results/tui-2026-12-01/tui.json

textual-fastdatatable is a benchmark-only dependency (`pip install textual-fastdatatable`);
without it that line says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import textual
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.tui.many_runs: the catalogue builder the 100k test uses

from tests.tui.many_runs import build_many_runs, expected_auc_above  # noqa: E402
from workbench.catalogue.run_table import FIRST_PAGE_ROWS  # noqa: E402
from workbench.core.settings import load_settings  # noqa: E402
from workbench.services.run_table import load_run_table  # noqa: E402
from workbench.tui.app import make_app  # noqa: E402
from workbench.tui.context import Workspace, utcnow  # noqa: E402
from workbench.tui.screens.overview import OverviewScreen  # noqa: E402
from workbench.tui.screens.runs import RunsScreen  # noqa: E402
from workbench.tui.widgets.arrow_table import ArrowTable  # noqa: E402

SIZE = (120, 40)
WAIT_S = 120.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Figure:
    """One measured quantity: every sample, what it was checked against, and its target."""

    name: str
    samples_ms: list[float]
    check: str
    target: str = ""
    note: str = ""
    unit: str = "ms"
    """What the samples are in: ms, or % of one core (despite the field's name)."""

    def cells(self) -> list[str]:
        if not self.samples_ms:
            return [self.name, "-", "-", self.target, self.note or self.check]
        low, high = min(self.samples_ms), max(self.samples_ms)
        median = statistics.median(self.samples_ms)
        unit = f" {self.unit}"
        return [self.name, f"{median:,.1f}{unit}", f"{low:,.1f} - {high:,.1f}{unit}",
                self.target, self.note or self.check]  # fmt: skip


@dataclass
class Bench:
    """The catalogue under test and the rows every contender shows."""

    home: Path
    runs: int
    rows: pa.Table = field(init=False)
    first_id: str = field(init=False)

    def __post_init__(self) -> None:
        table = load_run_table(load_settings(self.home), now=utcnow())
        self.rows = table.select(columns=_default_columns(table)).drop_columns(["run_id"])
        self.first_id = str(self.rows.column("id")[0].as_py())
        table.close()


def _default_columns(table: Any) -> tuple[str, ...]:
    keys = table.keys()
    return (*(f"metrics.{k}" for k in keys.metrics[:3]), *(f"params.{k}" for k in keys.params[:3]))


class PaintProbe:
    """Wraps `render_line` of a widget class: records when row 1 first shows N rows.

    Armed with one or more row counts (and the text the first row must show), it notes the
    first paint of each; `painted` waits for one of them.
    """

    def __init__(self, widget_class: type[Widget], count: Callable[[Any], int]) -> None:
        self.widget_class = widget_class
        self.count = count
        self.expect_text = ""
        self.painted_at: dict[int, float] = {}
        self.done: dict[int, asyncio.Event] = {}

    def arm(self, rows: int | tuple[int, ...], text: str) -> float:
        """Wait for paints of `rows` rows whose first row shows `text`; returns the start time."""
        wanted = (rows,) if isinstance(rows, int) else rows
        self.expect_text, self.painted_at = text, {}
        # Waited on, not polled: polling would steal the GIL from the app.
        self.done = {count: asyncio.Event() for count in wanted}
        return time.perf_counter()

    @contextmanager
    def installed(self) -> Iterator[PaintProbe]:
        original = self.widget_class.render_line
        probe = self

        def render_line(widget: Any, y: int) -> Any:
            strip = original(widget, y)
            if y == 1:
                rows = probe.count(widget)
                if rows in probe.done and rows not in probe.painted_at:
                    if probe.expect_text in strip.text:
                        probe.painted_at[rows] = time.perf_counter()
                        probe.done[rows].set()
            return strip

        setattr(self.widget_class, "render_line", render_line)  # noqa: B010 - a probe, undone below
        try:
            yield self
        finally:
            setattr(self.widget_class, "render_line", original)  # noqa: B010

    async def painted(self, started: float, rows: int | None = None) -> float:
        """Milliseconds from `started` to the paint of `rows` rows (the only one armed if None)."""
        rows = rows if rows is not None else next(iter(self.done))
        try:
            await asyncio.wait_for(self.done[rows].wait(), WAIT_S)
        except TimeoutError:
            raise TimeoutError(f"no paint of {rows} rows in {WAIT_S} s") from None
        return (self.painted_at[rows] - started) * 1000


# -- the Workbench Runs screen ------------------------------------------------------------


async def measure_first_paint(bench: Bench, repeats: int) -> list[Figure]:
    """Overview -> `r` -> the Runs table painted, in a fresh app each time.

    Two moments: the first paint (the newest runs) and the table holding every run (the
    whole snapshot in memory, filter and sort ready). As a person meets it, the app has
    read the first page ahead once the Overview loaded (`tui.prefetch`); again with that
    read-ahead off, the page read first in the screen's own catalogue visit.
    """
    page = min(FIRST_PAGE_ROWS, bench.runs)
    check = f"first id {bench.first_id}"
    figures = []
    for prefetch, how in ((True, "page read ahead"), (False, "no read-ahead")):
        first, whole = await _first_paints(bench, repeats, page, prefetch=prefetch)
        figures += [
            Figure(f"Workbench Runs screen, first paint ({how})", first,
                   f"newest {page} of {bench.runs:,} rows, {check}", "< 120 ms"),
            Figure(f"Workbench Runs screen, every run in the table ({how})", whole,
                   f"{bench.runs:,} rows, {check}"),
        ]  # fmt: skip
    return figures


async def _first_paints(
    bench: Bench, repeats: int, page: int, *, prefetch: bool
) -> tuple[list[float], list[float]]:
    first, whole = [], []
    with PaintProbe(ArrowTable, lambda w: w.row_count).installed() as probe:
        for _ in range(repeats):
            workspace = Workspace(load_settings(bench.home), live=False, prefetch_runs=prefetch)
            app = make_app(workspace)
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause(2.0)  # the Overview has loaded and settled
                started = probe.arm((page, bench.runs), bench.first_id)
                await pilot.press("r")
                whole.append(await probe.painted(started, bench.runs))
                first.append(await probe.painted(started, page))
                screen = app.screen
                assert isinstance(screen, RunsScreen)
                assert screen.table.row_count == bench.runs
    return first, whole


async def measure_filter_keystroke(bench: Bench, repeats: int) -> list[Figure]:
    """One key in the filter box (`...> 0.9` + `5`, then backspace) to the repainted table."""
    table = load_run_table(load_settings(bench.home), now=utcnow())
    expected = {}
    for where in ("metrics.auc > 0.9", "metrics.auc > 0.95"):
        selected = table.select(where)
        expected[where] = (selected.num_rows, str(selected.column("id")[0].as_py()))
    table.close()
    assert expected["metrics.auc > 0.9"][0] == expected_auc_above(0.9, bench.runs)
    samples = []
    app = make_app(Workspace(load_settings(bench.home), live=False))
    with PaintProbe(ArrowTable, lambda w: w.row_count).installed() as probe:
        async with app.run_test(size=SIZE) as pilot:
            started = probe.arm(bench.runs, bench.first_id)
            await pilot.press("r")
            await probe.painted(started)
            started = probe.arm(*expected["metrics.auc > 0.9"])
            await pilot.press("slash", *"metrics.auc > 0.9")
            await probe.painted(started)
            for _ in range(repeats):
                for key, where in (("5", "metrics.auc > 0.95"), ("backspace", "metrics.auc > 0.9")):
                    await pilot.pause(0.05)
                    started = probe.arm(*expected[where])
                    await pilot.press(key)
                    samples.append(await probe.painted(started))
    check = ", ".join(f"{w}: {n:,} rows" for w, (n, _) in expected.items())
    return [Figure("Workbench filter keystroke to repaint", samples, check, "< 50 ms")]


# -- the peers ----------------------------------------------------------------------------


class PeerScreen(Screen[None]):
    """A screen holding one table widget, built when pushed (as a switch would)."""

    def __init__(self, make_table: Callable[[], Widget]) -> None:
        super().__init__()
        self._make_table = make_table

    def compose(self) -> ComposeResult:
        yield self._make_table()


async def _peer_first_paint(
    bench: Bench, repeats: int, widget_class: type[Widget], make_table: Callable[[], Widget],
    count: Callable[[Any], int], rows: int,
) -> list[float]:  # fmt: skip
    samples = []
    with PaintProbe(widget_class, count).installed() as probe:
        for _ in range(repeats):
            app: App[None] = App()
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause(0.2)
                started = probe.arm(rows, bench.first_id)
                await app.push_screen(PeerScreen(make_table))
                samples.append(await probe.painted(started))
    return samples


def peer_query(rows: pa.Table) -> str:
    """One DuckDB query that reads the rows Workbench shows (same columns, same order)."""
    joins, values = [], []
    for index, column in enumerate(rows.column_names[6:]):
        namespace, key = column.split(".", 1)
        table = "latest_metrics" if namespace == "metrics" else namespace
        joins.append(f"LEFT JOIN {table} k{index} ON k{index}.run_id = r.run_id "
                     f"AND k{index}.key = '{key}'")  # fmt: skip
        values.append(f'k{index}.value AS "{column}"')
    return (
        "SELECT substr(r.run_id, 1, 8) AS id, r.project, r.status, r.attempt, "
        "r.created_at AS created, date_diff('millisecond', r.started_at, "
        "coalesce(r.ended_at, r.heartbeat_at)) AS duration_ms, " + ", ".join(values) +
        " FROM runs r " + " ".join(joins) + " ORDER BY r.created_at DESC, r.run_id"
    )  # fmt: skip


async def measure_fastdatatable(bench: Bench, repeats: int) -> list[Figure]:
    """textual-fastdatatable's Arrow backend on the same rows: handed over, and read too."""
    name = "textual-fastdatatable (ArrowBackend)"
    try:
        import duckdb
        from textual_fastdatatable import ArrowBackend
        from textual_fastdatatable import DataTable as FastDataTable
    except ImportError as error:
        return [Figure(name, [], "", note=f"not installed ({error}); pip install it to compare")]
    sql = peer_query(bench.rows)

    def read_and_show() -> Widget:
        with duckdb.connect(str(bench.home / "catalogue.duckdb"), read_only=True) as con:
            return FastDataTable(backend=ArrowBackend(con.sql(sql).to_arrow_table()))

    check = f"{bench.runs:,} rows, first id {bench.first_id}"
    handed = await _peer_first_paint(
        bench, repeats, FastDataTable, lambda: FastDataTable(backend=ArrowBackend(bench.rows)),
        lambda w: w.row_count, bench.runs,
    )  # fmt: skip
    reading = await _peer_first_paint(
        bench, repeats, FastDataTable, read_and_show, lambda w: w.row_count, bench.runs
    )
    return [
        Figure(f"{name}, first paint, Arrow table handed over ready", handed, check),
        Figure(f"{name}, first paint incl. one DuckDB read of the same rows", reading, check),
    ]


async def measure_datatable(bench: Bench, repeats: int, cap_s: float) -> list[Figure]:
    """Textual's DataTable, rows added with add_rows in chunks of 10,000, cut at `cap_s`."""
    rows = [tuple(r.values()) for r in bench.rows.to_pylist()]
    loaded: list[int] = []

    class FilledDataTable(DataTable[Any]):
        async def on_mount(self) -> None:
            self.add_columns(*bench.rows.column_names)
            started = time.perf_counter()
            for start in range(0, len(rows), 10_000):
                self.add_rows(rows[start : start + 10_000])
                await asyncio.sleep(0)
                if time.perf_counter() - started > cap_s:
                    break
            loaded.append(self.row_count)

    expected = bench.runs if cap_s > 0 else 0
    samples = await _peer_first_paint(
        bench, repeats, DataTable, FilledDataTable, lambda w: w.row_count, expected
    ) if cap_s > 0 else []  # fmt: skip
    note = ""
    if loaded and min(loaded) < bench.runs:
        note = f"cut at {cap_s:.0f} s with {min(loaded):,} rows: a lower bound"
        samples = []
    return [Figure("Textual DataTable (add_rows), first paint", samples,
                   f"{bench.runs:,} rows, first id {bench.first_id}", note=note)]  # fmt: skip


# -- the Overview live, and cold start ------------------------------------------------------

OVERVIEW_WINDOW_S = 5.0


async def measure_overview_cpu(bench: Bench, repeats: int) -> list[Figure]:
    """The Overview ticking every 0.1 s for 5 s: CPU of this whole process over wall time.

    Each tick stats the catalogue; it re-reads when the file moved or a second has passed
    (time windows move on), so on a quiet catalogue 10 ticks/s cost one read/s.
    """
    samples, ticks, reads = [], [], []
    for _ in range(repeats):
        app = make_app(Workspace(load_settings(bench.home), refresh_s=0.1))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(2.0)  # the first read is done and the timer runs
            screen = app.screen
            assert isinstance(screen, OverviewScreen)
            counts = {"tick": 0, "show": 0}
            tick, show = screen._tick, screen.show

            def counted_tick(tick: Any = tick, counts: dict[str, int] = counts) -> None:
                counts["tick"] += 1
                tick()

            def counted_show(data: Any, show: Any = show, counts: dict[str, int] = counts) -> None:
                counts["show"] += 1
                show(data)

            # Counters for the check; the timer already holds the bound _tick, so restart it.
            screen.show = counted_show  # type: ignore[method-assign]
            screen.on_screen_suspend()
            screen._tick = counted_tick  # type: ignore[method-assign]
            screen._timer = screen.set_interval(0.1, counted_tick)
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.sleep(OVERVIEW_WINDOW_S)  # the measured window itself
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            samples.append(100 * cpu / wall)
            ticks.append(counts["tick"])
            reads.append(counts["show"])
    check = (f"per {OVERVIEW_WINDOW_S:.0f} s: ticks {min(ticks)}-{max(ticks)} (50 = 10 fps), "
             f"reads shown {min(reads)}-{max(reads)}; quiet catalogue")  # fmt: skip
    return [Figure("Overview live at 10 fps, CPU", samples, check, "<= 10 %", unit="%")]


async def measure_cold_start(bench: Bench, repeats: int) -> list[Figure]:
    """`python -m workbench` on a 120x40 pty until the Overview's top bar is on screen."""
    import pexpect  # benchmark-only: the pty that a person's terminal would be
    import pyte

    samples = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(WORKBENCH_HOME=str(bench.home), TERM="xterm-256color")
    for _ in range(repeats):
        screen = pyte.Screen(*SIZE)
        stream = pyte.ByteStream(screen)
        started = time.perf_counter()
        child = pexpect.spawn(sys.executable, ["-m", "workbench"], env=env,
                              dimensions=(SIZE[1], SIZE[0]))  # fmt: skip
        try:
            while "Workbench · Overview" not in "\n".join(screen.display):
                if time.perf_counter() - started > WAIT_S:
                    raise TimeoutError("the app never drew its first frame")
                try:
                    stream.feed(child.read_nonblocking(65536, timeout=0.05))
                except pexpect.TIMEOUT:
                    continue
            samples.append((time.perf_counter() - started) * 1000)
            child.send("q")
            child.expect(pexpect.EOF, timeout=30)
        finally:
            child.close(force=True)
    return [Figure("workbench cold start to first frame", samples,
                   "'Workbench · Overview' on the pty screen", "< 1000 ms")]  # fmt: skip


MEASUREMENTS: dict[str, Callable[[Bench, int], Awaitable[list[Figure]]]] = {
    "first_paint": measure_first_paint,
    "fastdatatable": measure_fastdatatable,
    "filter_keystroke": measure_filter_keystroke,
    "overview_cpu": measure_overview_cpu,
    "cold_start": measure_cold_start,
}
"""Each measurement by name, in the order run; --only picks some. Add new ones here."""


def print_table(figures: list[Figure]) -> None:
    header = ["measurement", "median", "range", "target", "checked"]
    rows = [header, *(f.cells() for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def ratios(figures: list[Figure]) -> dict[str, float]:
    """How many times faster Workbench's first paint is than each peer's (medians)."""
    by_name = {f.name: f for f in figures if f.samples_ms}
    ours = next((f for n, f in by_name.items() if n.startswith("Workbench Runs")), None)
    if ours is None:
        return {}
    mine = statistics.median(ours.samples_ms)
    return {
        name: statistics.median(f.samples_ms) / mine
        for name, f in by_name.items()
        if not name.startswith("Workbench") and "first paint" in name
    }


async def run(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    if not (home / "catalogue.duckdb").exists():
        started = time.perf_counter()
        build_many_runs(home, args.runs)
        log(f"built {args.runs:,} runs in {time.perf_counter() - started:.1f} s")
    bench = Bench(home, args.runs)
    figures: list[Figure] = []
    for name, measure in MEASUREMENTS.items():
        if args.only and name not in args.only:
            continue
        log(f"measuring {name} ...")
        figures += await measure(bench, args.repeats)
    if not args.only or "datatable" in args.only:
        log(f"measuring Textual DataTable (cap {args.datatable_cap_s:.0f} s) ...")
        figures += await measure_datatable(bench, args.datatable_repeats, args.datatable_cap_s)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "textual": textual.__version__,
        "runs": args.runs,
        "repeats": args.repeats,
        "terminal": list(SIZE),
        "figures": [asdict(f) for f in figures],
        "ratios": ratios(figures),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5, help="samples per figure (>= 3)")
    parser.add_argument("--datatable-repeats", type=int, default=1)
    parser.add_argument("--datatable-cap-s", type=float, default=30.0)
    parser.add_argument("--only", nargs="*", choices=[*MEASUREMENTS, "datatable"])
    parser.add_argument("--home", type=Path, help="reuse (or build) the catalogue here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as scratch:
        result = asyncio.run(run(args, args.home or Path(scratch) / "home"))
    print_table([Figure(**f) for f in result["figures"]])
    for peer, ratio in result["ratios"].items():
        print(f"{peer}: {ratio:.2f}x Workbench's first paint (medians; > 1: Workbench faster)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
