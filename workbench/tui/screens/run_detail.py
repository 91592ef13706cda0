"""One run: status, params, metrics, steps and lineage on the left; metric charts, the run's
resource charts (its nodes' CPU, GPU and memory over its span) and a text panel (log tail,
traceback or gate verdict) on the right. Live while the run runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Static

from workbench.core.entities import Run, RunStatus
from workbench.services.runs import MetricSeries, RunPage
from workbench.services.telemetry_view import ResourceHistory, RunView, run_view
from workbench.tui.context import Workspace
from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.chart import Chart, ChartPicker, Series
from workbench.tui.widgets.topbar import TopBar

DEFAULT_CHARTS = 2
"""How many metric keys are charted until the user picks."""
NO_RUN_TELEMETRY = (
    "no telemetry for the run's span ({span} UTC): samplers record it while a cluster is up "
    "(`workbench cluster up`)"
)
CHART_PREFS = "run_detail.charts"
"""Remembered chart keys, per project."""
STATUS_STYLES: Mapping[RunStatus, str] = {
    RunStatus.QUEUED: "dim",
    RunStatus.RUNNING: "bold yellow",
    RunStatus.FINISHED: "bold green",
    RunStatus.FAILED: "bold red",
    RunStatus.CRASHED: "bold red",
    RunStatus.CANCELLED: "dim",
}


def duration_text(seconds: float | None) -> str:
    """`2h03m`, `6m00s` or `12s`; `-` when unknown."""
    if seconds is None:
        return "-"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def time_text(moment: datetime | None) -> str:
    """A catalogue timestamp as `2026-11-30 09:00:00`, `-` when unset."""
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else "-"


def status_text(status: RunStatus | str) -> Text:
    """The status word in its colour (a step's status may be no run status)."""
    try:
        return Text(str(status), style=STATUS_STYLES.get(RunStatus(status), ""))
    except ValueError:
        return Text(str(status))


def value_text(value: float) -> str:
    """A metric value with four significant digits."""
    return f"{value:.4g}"


def facts(rows: Iterable[tuple[str, RenderableType | str]]) -> Table:
    """Two columns, a dim label and its value: the layout of every fact panel."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


def remembered_charts(workspace: Workspace) -> dict[str, list[str]]:
    """Chart keys chosen per project; whatever else a hand-edited prefs file holds is ignored."""
    saved = workspace.prefs().get(CHART_PREFS)
    if not isinstance(saved, dict):
        return {}
    return {
        str(project): [str(key) for key in keys]
        for project, keys in saved.items()
        if isinstance(keys, list)
    }


def default_charts(keys: list[str], remembered: list[str]) -> list[str]:
    """The remembered keys this run has, else its first few."""
    kept = [key for key in remembered if key in keys]
    return kept or keys[:DEFAULT_CHARTS]


class RunDetailScreen(DataScreen[RunView]):
    """Everything about one run; `l` log, `t` traceback, `g` gate, `k` chart keys, esc back."""

    DEFAULT_CSS = """
    RunDetailScreen #run-body { height: 1fr; }
    RunDetailScreen #run-facts { width: 44%; min-width: 34; max-width: 60; }
    RunDetailScreen #run-facts > Static { height: auto; }
    RunDetailScreen #run-side { width: 1fr; }
    RunDetailScreen #run-charts { height: 3fr; min-height: 9; }
    RunDetailScreen #run-charts Chart { height: 1fr; min-height: 9; }
    RunDetailScreen #run-resources { height: 2fr; min-height: 6; }
    RunDetailScreen #run-resources Chart { height: 1fr; min-height: 8; }
    RunDetailScreen #run-text { height: 2fr; min-height: 6; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("l", "log", "Log"),
        Binding("t", "traceback", "Traceback"),
        Binding("g", "gate", "Gate"),
        Binding("k", "pick_charts", "Charts"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Run log", "the tail of this run's driver log", "log"),
        ("Run traceback", "the traceback of this failed run", "traceback"),
        ("Run gate result", "the register gate's checks, passed or failed", "gate"),
        ("Run charts", "pick the metrics to chart", "pick_charts"),
        ("Back", "close this run", "back"),
    ]
    LIVE = True

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.panel: str | None = None
        """What the text panel shows: log, traceback or gate; None until the run is read."""
        self.chart_keys: list[str] | None = None
        """The charted metric keys; None until the run is read."""

    def compose(self) -> ComposeResult:
        yield TopBar(f"Run {self.run_id[:12]}")
        yield Freshness()
        with Horizontal(id="run-body"):
            with VerticalScroll(id="run-facts"):
                yield Static(id="run-status", classes="panel")
                yield Static(id="run-params", classes="panel")
                yield Static(id="run-metrics", classes="panel")
                yield Static(id="run-steps", classes="panel")
                yield Static(id="run-lineage", classes="panel")
            with Vertical(id="run-side"):
                yield VerticalScroll(id="run-charts", classes="panel")
                yield VerticalScroll(id="run-resources", classes="panel")
                with VerticalScroll(id="run-text", classes="panel"):
                    yield Static(id="run-text-body")
        yield Footer()

    def on_mount(self) -> None:
        titles = {
            "#run-status": "Status", "#run-params": "Params", "#run-metrics": "Latest metrics",
            "#run-steps": "Steps", "#run-lineage": "Lineage", "#run-charts": "Metrics",
            "#run-resources": "Resources",
        }  # fmt: skip
        for selector, title in titles.items():
            self.query_one(selector).border_title = title

    def fetch(self) -> RunView:
        return run_view(self.workspace.settings, self.run_id, self.workspace.now())

    def show(self, view: RunView) -> None:
        data = view.page
        run = data.details.run
        if run.status.terminal and self._timer is not None:  # nothing will change any more
            self._timer.stop()
            self._timer = None
        self.query_one("#run-status", Static).update(self._status(data))
        self.query_one("#run-params", Static).update(
            facts(sorted(run.params.items())) if run.params else Text("no params", style="dim")
        )
        self.query_one("#run-metrics", Static).update(
            facts((key, value_text(value)) for key, value in sorted(run.metrics.items()))
            if run.metrics
            else Text("no metrics yet", style="dim")
        )
        self.query_one("#run-steps", Static).update(self._steps(data))
        self.query_one("#run-lineage", Static).update(self._lineage(run))
        if self.chart_keys is None:
            remembered = remembered_charts(self.workspace).get(run.project, [])
            self.chart_keys = default_charts(sorted(data.series), remembered)
        self._draw_charts(data.series)
        self._draw_resources(view.resources)
        if self.panel is None:
            self.panel = "traceback" if data.details.traceback else "log"
        self._show_panel()

    # -- actions ----------------------------------------------------------------------------

    def action_back(self) -> None:
        """Close the run, back to where it was opened."""
        self.app.pop_screen()

    def action_log(self) -> None:
        """Show the tail of the run's driver log."""
        self._switch_panel("log")

    def action_traceback(self) -> None:
        """Show the traceback of a failed run."""
        self._switch_panel("traceback")

    def action_gate(self) -> None:
        """Show the register gate's verdict, check by check."""
        self._switch_panel("gate")

    def action_pick_charts(self) -> None:
        """Choose which metrics to chart; remembered for the run's project."""
        if self.data is None:
            return
        keys = sorted(self.data.page.series)
        project = self.data.page.details.run.project
        self.app.push_screen(
            ChartPicker(keys, self.chart_keys or []), lambda chosen: self._chosen(project, chosen)
        )

    def _chosen(self, project: str, chosen: list[str] | None) -> None:
        if chosen is None or self.data is None:
            return
        self.chart_keys = chosen
        self.workspace.remember(CHART_PREFS, {**remembered_charts(self.workspace), project: chosen})
        self._draw_charts(self.data.page.series)

    # -- drawing ----------------------------------------------------------------------------

    def _status(self, data: RunPage) -> Table:
        run = data.details.run
        if run.status is RunStatus.RUNNING and run.started_at is not None:
            running_s = (self.workspace.now() - run.started_at).total_seconds()
            took = f"running for {duration_text(running_s)}"
        else:
            took = duration_text(run.duration_s)
        rows: list[tuple[str, RenderableType | str]] = [
            ("status", Text.assemble(status_text(run.status), f"  attempt {run.attempt}")),
            ("run", run.run_id),
            ("project", run.project + (f"  ({run.name})" if run.name else "")),
            ("created", time_text(run.created_at)),
            ("started", time_text(run.started_at)),
            ("ended", time_text(run.ended_at)),
            ("duration", took),
        ]
        if run.parent_run_id:
            rows.append(("parent", f"{run.parent_run_id[:12]} ({run.kind})"))
        if run.error:
            rows.append(("error", Text(run.error, style="red")))
        if data.details.models:
            rows.append(("models", ", ".join(model.label for model in data.details.models)))
        return facts(rows)

    def _steps(self, data: RunPage) -> RenderableType:
        if not data.steps:
            return Text("no pipeline steps recorded", style="dim")
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
        for column in ("step", "status", "", "started", "took"):
            table.add_column(column, no_wrap=True)
        for step in data.steps:
            table.add_row(
                step.step + (f" #{step.attempt}" if step.attempt > 1 else ""),
                status_text(step.status),
                Text("cached", style="cyan") if step.cached else "ran",
                f"{step.started_at:%H:%M:%S}" if step.started_at else "-",
                duration_text(step.duration_s),
            )
        return table

    def _lineage(self, run: Run) -> Table:
        lineage = run.lineage
        git = "-"
        if lineage.git_commit:
            git = lineage.git_commit[:12] + (" (dirty)" if lineage.git_dirty else "")
        packages = ", ".join(f"{name} {version}" for name, version in lineage.environment.items())
        return facts(
            [
                ("git", git),
                ("data", lineage.data_fingerprint or "-"),
                ("packages", packages or "-"),
                ("cluster", lineage.cluster_id or "-"),
                ("nodes", ", ".join(lineage.nodes) or "-"),
            ]
        )

    def _draw_charts(self, series: MetricSeries) -> None:
        box = self.query_one("#run-charts", VerticalScroll)
        keys = [key for key in self.chart_keys or [] if key in series]
        charts = list(box.query(Chart))
        if [chart.title for chart in charts] != keys:
            box.remove_children()
            charts = [Chart(key) for key in keys]
            box.mount_all(charts)
            if not keys:
                box.mount(Static("no metrics logged yet" if not series else "no metric chosen: k"))
        for chart, key in zip(charts, keys, strict=True):
            chart.plot([Series(key, series[key])])
        box.border_subtitle = f"{len(keys)} of {len(series)} · k picks"

    def _draw_resources(self, resources: ResourceHistory) -> None:
        """One chart per node: CPU %, memory % and each GPU's utilisation over the run's span."""
        box = self.query_one("#run-resources", VerticalScroll)
        span = f"{resources.since:%H:%M:%S}-{resources.until:%H:%M:%S}"
        box.border_subtitle = f"{span} UTC · minutes since start"
        titles = [f"{node.hostname} %" for node in resources.nodes]
        charts = list(box.query(Chart))
        if [chart.title for chart in charts] != titles or not titles:
            box.remove_children()
            charts = [Chart(title) for title in titles]
            box.mount_all(charts)
            if not titles:
                box.mount(Static(Text(NO_RUN_TELEMETRY.format(span=span), style="dim")))
        for chart, node in zip(charts, resources.nodes, strict=True):
            gpus = [Series(f"GPU{index}", points) for index, points in node.gpus]
            chart.plot([Series("CPU", node.cpu), Series("MEM", node.memory), *gpus])

    def _switch_panel(self, panel: str) -> None:
        self.panel = panel
        self._show_panel()

    def _show_panel(self) -> None:
        if self.data is None or self.panel is None:
            return
        box = self.query_one("#run-text", VerticalScroll)
        body = self.query_one("#run-text-body", Static)
        details = self.data.page.details
        box.border_subtitle = "l log · t traceback · g gate"
        if self.panel == "traceback":
            box.border_title = "Traceback"
            body.update(
                Text(details.traceback.rstrip(), style="red")
                if details.traceback
                else Text(f"no traceback: the run is {details.run.status}", style="dim")
            )
        elif self.panel == "gate":
            box.border_title = "Register gate"
            body.update(self._gate())
        else:
            log = self.data.page.log
            box.border_title = "Log tail"
            body.update(
                Group(Text(log.note, style="dim"), Text("\n".join(log.lines)))
                if log.lines
                else Text(log.note, style="dim")
            )
            box.scroll_end(animate=False)
            return
        box.scroll_home(animate=False)

    def _gate(self) -> RenderableType:
        assert self.data is not None
        gate = self.data.page.gate
        if gate is None:
            return Text(self.data.page.gate_source, style="dim")
        verdict = Text.assemble(
            ("passed" if gate.passed else "refused", "bold green" if gate.passed else "bold red"),
            (f"  ({self.data.page.gate_source})", "dim"),
        )
        table = Table(box=None, padding=(0, 1), show_header=False, show_edge=False)
        table.add_column(no_wrap=True)
        table.add_column(overflow="fold")
        table.add_column(style="dim", overflow="fold")
        for check in gate.checks:
            mark = Text("✓", style="green") if check.passed else Text("✗", style="red")
            table.add_row(mark, check.name, check.detail)
        return Group(verdict, table)
