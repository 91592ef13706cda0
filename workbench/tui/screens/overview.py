"""The Overview (o): cluster state, runs in flight, deployments, recent audit events.

Live: reloads while visible, one `services.overview.overview` call per refresh. The cluster
is read from its saved profile (no Ray in this process). The nodes panel draws each node's
CPU, memory and GPU sparklines from the telemetry history; the alerts panel lists the open
drift alerts (model versions whose newest drift check found drift).
"""

from __future__ import annotations

import textwrap
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, Static

from workbench.services.drift_view import DriftAlert, format_age
from workbench.services.overview import DeploymentActivity, NodeTrend, Overview, overview
from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.progress_list import RunProgressList
from workbench.tui.widgets.sparkline import level_style, spark_line
from workbench.tui.widgets.topbar import TopBar

NO_TELEMETRY = (
    "no telemetry yet: samplers run on a cluster (`workbench cluster up`), "
    "or see `workbench telemetry`"
)
NO_TELEMETRY_SHORT = "no telemetry yet: `workbench cluster up` starts samplers"
NO_ALERTS = "no open drift alerts"


class OverviewScreen(DataScreen[Overview]):
    """What is going on: cluster, running runs, deployments and the newest audit events."""

    DEFAULT_CSS = """
    OverviewScreen #cluster-line { height: auto; max-height: 2; padding: 0 1; }
    OverviewScreen .row { height: 1fr; }
    OverviewScreen .panel { height: 1fr; overflow: hidden hidden; }
    OverviewScreen #nodes { width: 1fr; }
    OverviewScreen #alerts { width: 1fr; }
    OverviewScreen #running, OverviewScreen #deployments { width: 2fr; }
    OverviewScreen.-narrow #nodes, OverviewScreen.-narrow #alerts { width: 24; }
    OverviewScreen.-narrow #running, OverviewScreen.-narrow #deployments { width: 1fr; }
    """
    # Textual declares this without ClassVar; a ClassVar here would not type-check.
    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [
        (0, "-narrow"),
        (100, "-wide"),
    ]
    LIVE: ClassVar[bool] = True
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Refresh overview", "read the cluster, runs, deployments and audit again", "reload"),
    ]

    def compose(self) -> ComposeResult:
        yield TopBar("Overview")
        yield Freshness()
        yield Static("reading the cluster profile ...", id="cluster-line")
        with Horizontal(classes="row"):
            yield _panel(Static("reading ...", id="nodes"), "Nodes (telemetry)")
            yield _panel(RunProgressList("reading ...", id="running"), "Running")
        with Horizontal(classes="row"):
            yield _panel(Static("reading ...", id="deployments"), "Deployments (last minute)")
            yield _panel(Static("reading ...", id="alerts"), "Alerts (drift)")
        yield _panel(Static("reading ...", id="recent"), "Recent audit events")
        yield Footer()

    def fetch(self) -> Overview:
        return overview(self.workspace.settings, self.workspace.now())

    def show(self, data: Overview) -> None:
        self.query_one("#cluster-line", Static).update(_cluster_text(data))
        nodes = self.query_one("#nodes", Static)
        nodes.border_subtitle = "last 10 min" if data.nodes else ""
        size = nodes.content_size
        nodes.update(_nodes_text(data.nodes, size.width or 30, size.height or 4))
        wide = self.has_class("-wide")
        running = self.query_one("#running", RunProgressList)
        running.show_runs(
            data.running, bar_width=10 if wide else 6, project_width=22 if wide else 11
        )
        deployments = self.query_one("#deployments", Static)
        deployments.border_subtitle = "" if data.cluster.up else "no cluster: history only"
        deployments.update(_deployments_text(data.deployments, wide))
        alerts = self.query_one("#alerts", Static)
        alerts.border_subtitle = f"{len(data.alerts)} open" if data.alerts else ""
        alerts.update(_alerts_text(data.alerts, alerts.content_size.width or 30))
        self.query_one("#recent", Static).update(_recent_text(data))


def _panel(widget: Static, title: str) -> Static:
    widget.add_class("panel")
    widget.border_title = title
    return widget


def _cluster_text(data: Overview) -> Text:
    cluster = data.cluster
    if cluster.profile is None:
        return Text.assemble(
            ("no cluster: offline / history only", "bold yellow"),
            "  (Cluster screen: u starts a local head)",
        )
    profile = cluster.profile
    if profile.remote:
        auth = ("checks NO token", "bold red") if profile.insecure else ("token auth", "")
        state = ("up", "bold green") if cluster.up else ("not answering", "bold red")
        return Text.assemble(
            f"shared cluster {profile.name} at {profile.address}: ", state, ", ", auth,
            "  (Cluster screen: s switches)",
        )  # fmt: skip
    saved = f"{profile.cpus} CPU, {profile.gpus} GPU as saved"
    if not cluster.up:
        return Text.assemble(
            (f"cluster disconnected: the head at {profile.address} is down", "bold red"),
            f"  ({saved}): history only; `workbench cluster up` or forget it with `cluster down`",
        )
    return Text.assemble(
        ("cluster up", "bold green"),
        f" at {profile.address} ({saved})  dashboard {profile.dashboard_url}",
    )


def _nodes_text(trends: tuple[NodeTrend, ...], width: int, height: int) -> Text:
    """Per node: its hostname, then CPU, memory and (with GPUs) GPU sparklines, newest right.
    Where that does not fit (a small terminal), each node's newest values on one line, and
    the nodes that still do not fit counted."""
    if not trends:
        fits = len(textwrap.wrap(NO_TELEMETRY, width)) <= height
        return Text(NO_TELEMETRY if fits else NO_TELEMETRY_SHORT, style="dim")
    spark = max(4, width - 10)
    lines = []
    for trend in trends:
        lines.append(_node_heading(trend))
        lines.append(spark_line("CPU", trend.cpu, spark))
        lines.append(spark_line("MEM", trend.memory, spark))
        if trend.gpus:
            lines.append(spark_line("GPU", trend.gpu, spark))
    if len(lines) <= height:
        return Text("\n").join(lines)
    shown = trends if 2 * len(trends) <= height else trends[: max(0, (height - 1) // 2)]
    compact = []
    for trend in shown:
        compact.append(_node_heading(trend))
        compact.append(_node_values(trend))
    if len(shown) < len(trends):
        compact.append(Text(f"+{len(trends) - len(shown)} more: c shows every node", "dim"))
    return Text("\n").join(compact)


def _node_heading(trend: NodeTrend) -> Text:
    gpus = f"  {trend.gpus} GPU" if trend.gpus else "  no GPU"
    return Text.assemble((trend.hostname, "bold"), (gpus, "dim"))


def _node_values(trend: NodeTrend) -> Text:
    """` C32% M52% G80%`: the newest values, each coloured as its sparkline would be."""
    readings = [("C", trend.cpu), ("M", trend.memory)] + ([("G", trend.gpu)] if trend.gpus else [])
    parts: list[tuple[str, str] | str] = []
    for label, values in readings:
        newest = NodeTrend.current(values)
        parts.append(f" {label}")
        parts.append(("-" if newest is None else f"{newest:.0f}%", level_style(newest)))
    return Text.assemble(*parts)


def _deployments_text(deployments: tuple[DeploymentActivity, ...], wide: bool) -> Text:
    if not deployments:
        return Text("no deployments: `workbench serve MODEL` starts one", style="dim")
    lines = []
    for deployment in deployments:
        split = " / ".join(
            f"v{v.version} {v.percent:g}%" + ("" if v.role == "primary" else f" {v.role}")
            if v.percent is not None
            else f"v{v.version} {v.role}"
            for v in deployment.versions
        )
        p95 = f"{deployment.p95_ms:.1f} ms" if deployment.p95_ms is not None else "-"
        line = Text.assemble(
            (f"{deployment.name} ", "bold"),
            (f"{deployment.status} ", "green" if deployment.status == "running" else "yellow"),
        )
        if wide:
            line.append(f"{split}  ")
        line.append(
            f"{deployment.qps:.1f} qps  p95 {p95}  {deployment.error_rate:.1%} 5xx",
        )
        if not wide:
            line.append(f"\n  {split}", style="dim")
        lines.append(line)
    return Text("\n").join(lines)


def _alerts_text(alerts: tuple[DriftAlert, ...], width: int) -> Text:
    """Per open alert, lines cut at `width`: the model version and deployment, the drifted
    share and when, the drifted features."""
    if not alerts:
        return Text(NO_ALERTS, style="dim")
    lines = []
    for alert in alerts:
        where = f" @{alert.deployment}" if alert.deployment else ""
        lines.append(Text.assemble((alert.model, "bold red"), where))
        lines.append(Text(f" {alert.share:.0%} drifted {format_age(alert.age_s)}"))
        lines.append(Text(f" {', '.join(alert.drifted_features)}", style="dim"))
    for line in lines:
        line.truncate(width, overflow="ellipsis")
    text = Text("\n").join(lines)
    text.no_wrap = True
    return text


def _recent_text(data: Overview) -> Text:
    if not data.recent:
        return Text("no audit events yet", style="dim")
    lines = []
    for event in data.recent:
        reason = f' "{event.reason}"' if event.reason else ""
        lines.append(
            Text.assemble(
                (f"{event.ts:%m-%d %H:%M} ", "dim"),
                (f"{event.action:<16} ", "bold"),
                f"{event.target or '-'}",
                (reason, "italic"),
                (f"  {event.actor}", "dim"),
            )
        )
    return Text("\n").join(lines)
