"""Cluster (c): the saved local head, its nodes as Ray reports them, the catalogue file, and
each node's telemetry: a live nvitop-like panel per node and the last hour as charts.

Not live on a fast timer: reading the nodes runs a child `workbench cluster status`, which
joins the cluster and costs seconds. It reloads when shown and on `R`. `u` starts a local
head and `D` stops it, each after a confirmation, in a child process. `s` opens the cluster
switcher: use another saved cluster, connect a shared one, forget one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Static

from workbench.services.cluster_report import (
    ClusterReport,
    cluster_report,
    start_local_head,
    stop_local_head,
)
from workbench.services.telemetry_view import ClusterTelemetry
from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.chart import Chart, Series
from workbench.tui.widgets.cluster_switcher import ClusterSwitcher
from workbench.tui.widgets.confirm import ConfirmDialog
from workbench.tui.widgets.node_panel import NodePanel
from workbench.tui.widgets.topbar import TopBar


def human_bytes(size: float | None) -> str:
    """`1.5 GiB`, `12.0 KiB`, `512 B`; a dash for unknown."""
    if size is None:
        return "-"
    if size < 1024:
        return f"{size:.0f} B"
    value, units = size / 1024, ["KiB", "MiB", "GiB", "TiB"]
    while value >= 1024 and len(units) > 1:
        value, units = value / 1024, units[1:]
    return f"{value:.1f} {units[0]}"


class ClusterScreen(DataScreen[ClusterReport]):
    """The local head and its nodes on the left, the catalogue file and its owner on the right."""

    DEFAULT_CSS = """
    ClusterScreen #cluster-top { height: auto; }
    ClusterScreen #head { width: 1fr; height: auto; min-height: 8; }
    ClusterScreen #catalogue { width: 1fr; height: auto; min-height: 8; }
    ClusterScreen #nodes { height: auto; min-height: 3; max-height: 10; }
    ClusterScreen #telemetry { height: 1fr; min-height: 6; }
    ClusterScreen #telemetry-source { height: auto; padding: 0 1; color: $text-muted; }
    ClusterScreen #telemetry Chart { height: 12; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "switch_cluster", "Switch cluster"),
        Binding("u", "cluster_up", "Start head"),
        Binding("D", "cluster_down", "Stop head"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        (
            "Switch cluster",
            "use another saved cluster, connect a shared one or forget one (cluster use|connect)",
            "switch_cluster",
        ),
        ("Start local cluster", "start a local Ray head (cluster up)", "cluster_up"),
        ("Stop local cluster", "stop the local Ray head (cluster down)", "cluster_down"),
        ("Refresh cluster", "read the cluster's nodes and the catalogue again", "reload"),
    ]

    def compose(self) -> ComposeResult:
        yield TopBar("Cluster")
        yield Freshness()
        with Horizontal(id="cluster-top"):
            yield _panel("head", "Local head")
            yield _panel("catalogue", "Catalogue")
        yield _panel("nodes", "Nodes (as Ray reports them)")
        with VerticalScroll(id="telemetry", classes="panel") as telemetry:
            telemetry.border_title = "Telemetry"
            yield Static("reading ...", id="telemetry-source")
        yield Footer()

    def fetch(self) -> ClusterReport:
        return cluster_report(self.workspace.settings, self.workspace.now())

    def show(self, data: ClusterReport) -> None:
        head = self.query_one("#head", Static)
        profile = data.status.profile
        head.border_title = f"Cluster: {profile.name}" if profile is not None else "Local head"
        head.update(_head_text(data))
        self.query_one("#catalogue", Static).update(_catalogue_text(data))
        self.query_one("#nodes", Static).update(_nodes(data))
        self._show_telemetry(data.telemetry)
        if data.catalogue.problem:  # the cluster still shows; the catalogue's problem too
            self.show_problem(data.catalogue.problem, data.catalogue.hint)

    def _show_telemetry(self, telemetry: ClusterTelemetry | None) -> None:
        """A NodePanel per node (newest sample), then CPU, memory and GPU charts of the hour."""
        box = self.query_one("#telemetry", VerticalScroll)
        source = self.query_one("#telemetry-source", Static)
        if telemetry is None:
            source.update("no telemetry: the catalogue is not there yet")
            return
        samples = telemetry.live.samples
        source.update(
            f"live: the cluster's samplers ({len(samples)} nodes)"
            if telemetry.live.source == "cluster"
            else "live: this machine (no cluster samplers writing; `workbench cluster up`)"
        )
        panels = list(box.query(NodePanel))
        if len(panels) != len(samples):
            for old in panels:
                old.remove()
            panels = [NodePanel() for _ in samples]
            box.mount_all(panels, after=source)
        for panel, sample in zip(panels, samples, strict=True):
            panel.show(sample)
        charts = list(box.query(Chart))
        if not charts:
            charts = [
                Chart(title, y_label="%", x_label="minutes ago")
                for title in ("CPU % (last hour)", "Memory % (last hour)", "GPU utilisation %")
            ]
            box.mount_all(charts)
        nodes = telemetry.history.nodes
        charts[0].plot([Series(node.hostname, node.cpu) for node in nodes])
        charts[1].plot([Series(node.hostname, node.memory) for node in nodes])
        charts[2].plot(
            [Series(f"{node.hostname} GPU{i}", points) for node in nodes for i, points in node.gpus]
        )

    def action_switch_cluster(self) -> None:
        """Open the cluster switcher (s); reload when it changed the cluster in use."""

        def switched(name: str | None) -> None:
            if name is not None:
                self.action_reload()

        self.app.push_screen(ClusterSwitcher(self.workspace.settings), switched)

    def action_cluster_up(self) -> None:
        """Start a local head after a confirmation (u)."""
        if self.data is not None and self.data.status.up:
            self.notify("a local head is already up; D stops it", severity="warning")
            return

        def start_if(yes: bool | None) -> None:
            if yes:
                self.notify("starting a local Ray head ...", timeout=4)
                self.run_service("cluster up", start_local_head, self.workspace.settings)

        self.app.push_screen(
            ConfirmDialog(
                "Start a local Ray head?",
                "`workbench cluster up`: a head on 127.0.0.1 with token auth, all cores; "
                "runs and serve then use it instead of an embedded Ray.",
                "Start",
            ),
            start_if,
        )

    def action_cluster_down(self) -> None:
        """Stop the local head after a confirmation (D)."""
        if self.data is not None and self.data.status.profile is None:
            self.notify("no local head is saved: nothing to stop", severity="warning")
            return

        def stop_if(yes: bool | None) -> None:
            if yes:
                self.run_service("cluster down", stop_local_head, self.workspace.settings)

        self.app.push_screen(
            ConfirmDialog(
                "Stop the local Ray head?",
                "`workbench cluster down`: runs and deployments on it stop; the catalogue stays.",
                "Stop",
            ),
            stop_if,
        )

    def action_done(self, title: str, outcome: Any) -> None:
        if title == "cluster up":
            outcome = f"cluster up at {outcome.address} ({outcome.cpus} CPU, {outcome.gpus} GPU)"
        super().action_done(title, outcome)


def _panel(panel_id: str, title: str) -> Static:
    panel = Static("reading ...", id=panel_id, classes="panel")
    panel.border_title = title
    return panel


def _head_text(data: ClusterReport) -> Text:
    profile = data.status.profile
    ray = f"Ray {data.ray_version}" if data.ray_version else "Ray is not installed"
    if profile is None:
        return Text.assemble(
            ("no cluster: offline\n", "bold yellow"),
            "workbench commands start an embedded Ray for their own length.\n",
            ("u", "bold"),
            " starts a local head.\n",
            (ray, "dim"),
        )
    state = ("up", "bold green") if data.status.up else ("DOWN", "bold red")
    if profile.remote:
        auth = ("NONE: anyone who reaches it can run code", "bold red") if profile.insecure else (
            f"token ({profile.token_file})", "")  # fmt: skip
        text = Text.assemble(
            "state      ", state, "\n",
            f"address    {profile.address} (shared: s switches cluster)\n",
            "auth       ", auth, "\n",
            (ray, "dim"),
        )  # fmt: skip
    else:
        text = Text.assemble(
            "state      ", state, "\n",
            f"address    {profile.address}\n",
            f"dashboard  {profile.dashboard_url}\n",
            f"offers     {profile.cpus} CPU, {profile.gpus} GPU (as started)\n",
            f"started    {profile.started_at}\n",
            (ray, "dim"),
        )  # fmt: skip
    for warning in data.status.warnings:
        text.append(f"\nwarning: {warning}", style="bold red")
    if data.problem:
        text.append(f"\nnodes unreadable: {data.problem}", style="red")
    return text


def _catalogue_text(data: ClusterReport) -> Text:
    catalogue = data.catalogue
    text = Text.assemble(
        "file   ",
        (str(catalogue.path), "bold"),
        "\n",
        f"size   {human_bytes(catalogue.size_bytes)}",
        f"   WAL {human_bytes(catalogue.wal_bytes)}\n" if catalogue.wal_bytes else "   no WAL\n",
    )
    if catalogue.problem:
        text.append("state  unreadable (see above)\n", style="bold red")
    owner = data.owner
    if owner is None:
        text.append("owner  none: each command opens the file for its own length", style="dim")
    else:
        where = f"socket {owner.socket}" if owner.socket else f"Ray {owner.address}"
        text.append(f"owner  pid {owner.pid} on {owner.host}\n       {where}")
    return text


def _nodes(data: ClusterReport) -> Table | Text:
    if data.status.profile is None:
        return Text("no cluster: offline. Press u to start a local head.", style="dim")
    if not data.status.up and data.status.profile.remote:
        return Text(
            "disconnected: the shared cluster's head does not answer; s switches cluster.",
            style="yellow",
        )
    if not data.status.up:
        return Text(
            "disconnected: the saved head is down; u starts a new one, D forgets it.",
            style="yellow",
        )
    if not data.nodes:
        return Text(data.problem or "Ray reported no nodes", style="yellow")
    table = Table(box=None, expand=True, header_style="bold")
    for column in ("node", "alive", "CPU", "memory", "GPU"):
        table.add_column(column, justify="left" if column == "node" else "right")
    for node in data.nodes:
        table.add_row(
            node.name,
            "yes" if node.alive else "no",
            f"{node.cpus:g}",
            human_bytes(node.memory_bytes),
            f"{node.gpus:g}" if node.gpus else "none",
        )
    return table
