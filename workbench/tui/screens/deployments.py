"""The Deployments screen: traffic split, replicas, live latency, QPS and errors; canary actions.

Figures come from the catalogue's `requests` table over the last minutes before the
workspace clock (services.deployment_view), refreshed while the screen is visible.
Promote, rollback and stop need Ray Serve, so they run `workbench deployments ...` in a
child process (services.child): the app itself never joins a cluster.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer

from workbench.core.deployments import CANARY, SHADOW, DeploymentSpec, VersionEntry
from workbench.services.child import run_json
from workbench.services.deployment_view import DeploymentHealth, deployments_health
from workbench.tui.dialogs import ReasonAnswer, ReasonDialog
from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.chart import Chart, Series
from workbench.tui.widgets.topbar import TopBar

WINDOW_MINUTES = 10
BUCKET_S = 10
# (header, width): fixed widths, so a header never lags behind rows that widen a column.
_DEPLOYMENT_COLUMNS = (("NAME", 14), ("STATUS", 11), ("VERSIONS", 35), ("REPLICAS", 8), ("URL", 34))
_VERSION_COLUMNS = (("VERSION", 7), ("ROLE", 7), ("TRAFFIC", 7), ("SERVED", 6), ("REQUESTS", 8),
                    ("QPS", 6), ("P50 MS", 6), ("P95 MS", 6), ("P99 MS", 6), ("5XX", 6),
                    ("4XX", 4))  # fmt: skip


class DeploymentsScreen(DataScreen[list[DeploymentHealth]]):
    """Every deployment; the highlighted one's versions, figures and charts. P, B, S act on it."""

    LIVE: ClassVar[bool] = True
    DEFAULT_CSS = """
    DeploymentsScreen #deployments { height: auto; max-height: 8; }
    DeploymentsScreen #figures { height: auto; max-height: 9; }
    DeploymentsScreen #charts { height: 1fr; min-height: 5; }
    DeploymentsScreen #charts Chart { width: 1fr; height: 1fr; min-height: 5; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("P", "promote", "Promote canary"),
        Binding("B", "rollback", "Rollback"),
        Binding("S", "stop", "Stop"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Promote canary", "send all traffic to the selected deployment's canary", "promote"),
        ("Roll back deployment", "drop the canary, or return to the earlier primary", "rollback"),
        ("Stop deployment", "remove the selected deployment from Serve", "stop"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._name: str | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("Deployments")
        yield Freshness()
        table: DataTable[str] = DataTable(id="deployments", cursor_type="row", classes="panel")
        table.border_title = "Deployments"
        yield table
        figures: DataTable[str] = DataTable(id="figures", cursor_type="none", classes="panel")
        figures.border_title = f"last {WINDOW_MINUTES} min"
        yield figures
        with Horizontal(id="charts"):
            for key, title in (("qps", "QPS"), ("p95", "p95 ms"), ("errors", "5xx %")):
                yield Chart(title, x_label="min", id=f"chart-{key}", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        for table_id, columns in (("#deployments", _DEPLOYMENT_COLUMNS),
                                  ("#figures", _VERSION_COLUMNS)):  # fmt: skip
            table = self.query_one(table_id, DataTable)
            for header, width in columns:
                table.add_column(header, width=width)

    def fetch(self) -> list[DeploymentHealth]:
        return deployments_health(
            self.workspace.settings, self.workspace.now(),
            window_minutes=WINDOW_MINUTES, bucket_s=BUCKET_S,
        )  # fmt: skip

    def show(self, data: list[DeploymentHealth]) -> None:
        table = self.query_one("#deployments", DataTable)
        table.clear()
        for health in data:
            spec = health.deployment.spec
            versions = " · ".join(
                f"v{v.version} {v.role} {_traffic(spec, v)}".rstrip() for v in spec.versions
            )
            table.add_row(spec.name, _status(health.deployment.status), versions,
                          _replicas(spec), spec.url, key=spec.name)  # fmt: skip
        names = [health.deployment.name for health in data]
        if self._name not in names:
            self._name = names[0] if names else None
        if self._name is not None:
            table.move_cursor(row=names.index(self._name))
        self._show_selected()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "deployments" and event.row_key.value != self._name:
            self._name = event.row_key.value
            self._show_selected()

    def _selected(self) -> DeploymentHealth | None:
        return next((h for h in self.data or [] if h.deployment.name == self._name), None)

    def _show_selected(self) -> None:
        health = self._selected()
        figures = self.query_one("#figures", DataTable)
        figures.clear()
        if health is None:
            figures.border_title = "no deployments yet: workbench serve NAME@champion"
            return
        spec = health.deployment.spec
        figures.border_title = f"{spec.name} · last {health.window_minutes} min"
        figures.border_subtitle = f"charts: {BUCKET_S} s buckets"
        for entry in spec.versions:
            share = health.observed_share(entry)
            figures.add_row(f"v{entry.version}", entry.role, _traffic(spec, entry) or "-",
                            "-" if share is None else f"{share:.0%}",
                            *_figures(health, entry))  # fmt: skip
        figures.add_row("all", "", "", "", *_figures(health, None))
        self._chart(health)

    def _chart(self, health: DeploymentHealth) -> None:
        """QPS, p95 and 5xx share per bucket against minutes before now (empty p95 skipped)."""
        last = health.buckets[-1] if health.buckets else None
        now = last.start + timedelta(seconds=last.seconds) if last else None
        series: dict[str, tuple[str, str, list[tuple[float, float]]]] = {
            "qps": ("QPS", "", []), "p95": ("p95", " ms", []), "errors": ("5xx", "%", []),
        }  # fmt: skip
        for bucket in health.buckets:
            minutes = (bucket.start - now).total_seconds() / 60 if now else 0.0
            series["qps"][2].append((minutes, bucket.qps))
            if bucket.p95_ms is not None:
                series["p95"][2].append((minutes, bucket.p95_ms))
            series["errors"][2].append((minutes, 100 * bucket.error_rate))
        for key, (title, unit, points) in series.items():
            values = [y for _, y in points]
            summary = f"  now {values[-1]:.1f}{unit}  max {max(values):.1f}{unit}" if values else ""
            self.query_one(f"#chart-{key}", Chart).plot(
                [Series(title, points)], title=f"{title}{summary}"
            )

    def action_promote(self) -> None:
        """Send all traffic to the canary (asks why)."""
        spec = self._spec()
        if spec is None:
            return
        if spec.canary is None:
            self.notify(f"{spec.name} has no canary to promote", severity="warning")
            return
        changes = (
            f"{spec.name}: canary v{spec.canary.version} becomes the primary with all traffic;\n"
            f"v{spec.primary.version} (primary) leaves"
        )
        self._ask("promote", spec.name, f"Promote the canary of {spec.name}", changes)

    def action_rollback(self) -> None:
        """Drop the canary, or go back to the primary before the last promotion (asks why)."""
        spec = self._spec()
        if spec is None:
            return
        if spec.canary is not None:
            changes = (
                f"{spec.name}: canary v{spec.canary.version} removed; "
                f"v{spec.primary.version} takes all traffic"
            )
        elif spec.previous is not None:
            changes = (
                f"{spec.name}: back to v{spec.previous.version}; v{spec.primary.version} leaves"
            )
        else:
            self.notify(f"{spec.name} has no canary and no earlier primary", severity="warning")
            return
        self._ask("rollback", spec.name, f"Roll back {spec.name}", changes)

    def action_stop(self) -> None:
        """Remove the deployment from Serve (asks why)."""
        spec = self._spec()
        if spec is not None:
            changes = f"{spec.name}: removed from Serve, its token deleted; its history stays"
            self._ask("stop", spec.name, f"Stop {spec.name}", changes)

    def _spec(self) -> DeploymentSpec | None:
        health = self._selected()
        if health is None:
            self.notify("no deployment selected", severity="warning")
            return None
        return health.deployment.spec

    def _ask(self, verb: str, name: str, title: str, changes: str) -> None:
        def answered(answer: ReasonAnswer | None) -> None:
            if answer is not None:
                self.run_service(f"{verb} {name}", self._run_command, verb, name, answer.reason)

        self.app.push_screen(ReasonDialog(title, changes), answered)

    def _run_command(self, verb: str, name: str, reason: str) -> str:
        """Worker thread: `workbench deployments VERB NAME --reason R --json` in a child."""
        run_json(self.workspace.settings, "deployments", verb, name, "--reason", reason)
        return f"{name}: {verb} done"


def _traffic(spec: DeploymentSpec, entry: VersionEntry) -> str:
    """The configured share: the canary's percent, the rest to the primary; a shadow mirrors."""
    if entry.role == SHADOW:
        return "mirror"
    canary = spec.canary
    if entry.role == CANARY:
        return f"{entry.traffic or 0:g}%"
    return f"{100 - (canary.traffic or 0) if canary else 100:g}%"


def _replicas(spec: DeploymentSpec) -> str:
    autoscale = spec.scaling.autoscale
    return f"{autoscale[0]}-{autoscale[1]} auto" if autoscale else str(spec.scaling.replicas)


def _status(status: str) -> str:
    colour = {"running": "green", "failed": "red", "unreachable": "yellow"}.get(status, "dim")
    return f"[{colour}]{status}[/]"


def _figures(health: DeploymentHealth, entry: VersionEntry | None) -> tuple[str, ...]:
    stats = health.overall if entry is None else health.of_version(entry)
    if stats is None:
        return ("0", "-", "-", "-", "-", "-", "-")
    return (str(stats.requests), f"{stats.qps:.2f}", _ms(stats.p50_ms), _ms(stats.p95_ms),
            _ms(stats.p99_ms), f"{stats.error_rate:.1%}", str(stats.client_errors))  # fmt: skip


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
