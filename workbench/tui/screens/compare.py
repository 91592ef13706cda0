"""Two or more runs side by side: one colour per run, overlaid metric charts, the params
that differ and the latest metrics. Live while any of the runs runs.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Static

from workbench.core.entities import Run
from workbench.services.runs import RunComparison, compare_runs
from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.screens.run_detail import (
    default_charts,
    duration_text,
    remembered_charts,
    status_text,
    value_text,
)
from workbench.tui.widgets.chart import Chart, ChartPicker, Series, rich_color, series_color
from workbench.tui.widgets.topbar import TopBar

SHORT_ID = 8


def short_id(run: Run) -> str:
    """The first characters of a run id: the legend entry of a run."""
    return run.run_id[:SHORT_ID]


class CompareScreen(DataScreen[RunComparison]):
    """Runs side by side; `k` picks the charted metrics, esc goes back."""

    DEFAULT_CSS = """
    CompareScreen #compare-body { height: 1fr; }
    CompareScreen #compare-facts { width: 50%; min-width: 36; }
    CompareScreen #compare-facts > Static { height: auto; }
    CompareScreen #compare-charts { width: 1fr; }
    CompareScreen #compare-charts Chart { height: 1fr; min-height: 9; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("k", "pick_charts", "Charts"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Compare charts", "pick the metrics to chart for the compared runs", "pick_charts"),
        ("Back", "close the comparison", "back"),
    ]
    LIVE = True

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = list(run_ids)
        self.chart_keys: list[str] | None = None
        """The charted metric keys; None until the runs are read."""

    def compose(self) -> ComposeResult:
        yield TopBar(f"Compare {len(self.run_ids)} runs")
        yield Freshness()
        with Horizontal(id="compare-body"):
            with VerticalScroll(id="compare-facts"):
                yield Static(id="compare-runs", classes="panel")
                yield Static(id="compare-params", classes="panel")
                yield Static(id="compare-metrics", classes="panel")
            yield VerticalScroll(id="compare-charts", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        titles = {
            "#compare-runs": "Runs", "#compare-params": "Params that differ",
            "#compare-metrics": "Latest metrics", "#compare-charts": "Metrics",
        }  # fmt: skip
        for selector, title in titles.items():
            self.query_one(selector).border_title = title

    def fetch(self) -> RunComparison:
        return compare_runs(self.workspace.settings, self.run_ids)

    def show(self, data: RunComparison) -> None:
        if all(run.status.terminal for run in data.runs) and self._timer is not None:
            self._timer.stop()  # nothing will change any more
            self._timer = None
        self.query_one("#compare-runs", Static).update(self._runs(data))
        self.query_one("#compare-params", Static).update(self._params(data))
        self.query_one("#compare-metrics", Static).update(self._metrics(data))
        if self.chart_keys is None:
            remembered = remembered_charts(self.workspace).get(data.runs[0].project, [])
            self.chart_keys = default_charts(data.metric_keys, remembered)
        self._draw_charts(data)

    def action_back(self) -> None:
        """Close the comparison, back to where it was opened."""
        self.app.pop_screen()

    def action_pick_charts(self) -> None:
        """Choose which metrics to chart (for this comparison only)."""
        if self.data is None:
            return
        self.app.push_screen(
            ChartPicker(self.data.metric_keys, self.chart_keys or []), self._chosen
        )  # fmt: skip

    def _chosen(self, chosen: list[str] | None) -> None:
        if chosen is None or self.data is None:
            return
        self.chart_keys = chosen
        self._draw_charts(self.data)

    # -- drawing ----------------------------------------------------------------------------

    def _runs(self, data: RunComparison) -> Table:
        projects = sorted({run.project for run in data.runs})
        self.query_one("#compare-runs").border_title = (
            f"Runs · {projects[0]}" if len(projects) == 1 else "Runs"
        )
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
        for column in ("run", "status", "took"):
            table.add_column(column, no_wrap=True)
        if len(projects) > 1:
            table.add_column("project", no_wrap=True, overflow="ellipsis")
        for index, run in enumerate(data.runs):
            cells: list[Text | str] = [
                Text(f"■ {short_id(run)}", style=rich_color(series_color(index))),
                status_text(run.status),
                duration_text(run.duration_s),
            ]
            table.add_row(*cells, *([run.project] if len(projects) > 1 else []))
        return table

    def _header(self, data: RunComparison, first: str) -> Table:
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
        table.add_column(first, style="dim", no_wrap=True)
        for index, run in enumerate(data.runs):
            table.add_column(
                Text(short_id(run), style=rich_color(series_color(index))), overflow="fold"
            )  # fmt: skip
        return table

    def _params(self, data: RunComparison) -> RenderableType:
        equal = Text(
            f"{data.equal_params} param{'s' if data.equal_params != 1 else ''} equal in all runs",
            style="dim",
        )
        if not data.differing_params:
            return Group(Text("no param differs"), equal)
        table = self._header(data, "param")
        for key, values in data.differing_params.items():
            table.add_row(
                key, *(value if value is not None else Text("-", "dim") for value in values)
            )
        return Group(table, equal)

    def _metrics(self, data: RunComparison) -> RenderableType:
        if not data.metric_keys:
            return Text("no metrics logged", style="dim")
        table = self._header(data, "metric")
        for key in data.metric_keys:
            cells: list[Text] = []
            for run in data.runs:
                value = run.metrics.get(key)
                cells.append(Text(value_text(value)) if value is not None else Text("-", "dim"))
            table.add_row(key, *cells)
        return table

    def _draw_charts(self, data: RunComparison) -> None:
        box = self.query_one("#compare-charts", VerticalScroll)
        keys = [key for key in self.chart_keys or [] if key in data.metric_keys]
        charts = list(box.query(Chart))
        if [chart.title for chart in charts] != keys:
            box.remove_children()
            charts = [Chart(key) for key in keys]
            box.mount_all(charts)
            if not keys:
                box.mount(
                    Static("no metrics logged" if not data.metric_keys else "no metric chosen: k")
                )
        for chart, key in zip(charts, keys, strict=True):
            chart.plot(
                [
                    Series(short_id(run), series.get(key, []), series_color(index))
                    for index, (run, series) in enumerate(zip(data.runs, data.series, strict=True))
                ]
            )
        box.border_subtitle = f"{len(keys)} of {len(data.metric_keys)} · k picks"
