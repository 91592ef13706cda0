"""The Workbench app: one key per screen, a command palette that reaches every action.

Built by `make_app(workspace)`; the CLI and the tests build it the same way. Screens are
Textual modes, so each keeps its own stack (a run's detail stays open under Runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from workbench.tui.context import Workspace
from workbench.tui.prefetch import RunsPrefetch
from workbench.tui.screens.base import DataScreen


def _overview() -> Screen[None]:
    from workbench.tui.screens.overview import OverviewScreen

    return OverviewScreen()


def _runs() -> Screen[None]:
    from workbench.tui.screens.runs import RunsScreen

    return RunsScreen()


def _models() -> Screen[None]:
    from workbench.tui.screens.models import ModelsScreen

    return ModelsScreen()


def _deployments() -> Screen[None]:
    from workbench.tui.screens.deployments import DeploymentsScreen

    return DeploymentsScreen()


def _pipelines() -> Screen[None]:
    from workbench.tui.screens.pipelines import PipelinesScreen

    return PipelinesScreen()


def _cluster() -> Screen[None]:
    from workbench.tui.screens.cluster import ClusterScreen

    return ClusterScreen()


def _drift() -> Screen[None]:
    from workbench.tui.screens.drift import DriftScreen

    return DriftScreen()


# (key, mode, title, what it shows): the order of the footer and the palette.
SCREENS: tuple[tuple[str, str, str, str], ...] = (
    ("o", "overview", "Overview", "cluster, running runs, deployments, recent audit events"),
    ("r", "runs", "Runs", "every run: filter, sort, choose columns, compare"),
    ("m", "models", "Models", "versions, aliases, gate results; promote and roll back"),
    ("d", "deployments", "Deployments", "traffic split, latency, errors; canary actions"),
    ("p", "pipelines", "Pipelines", "pick a project, set its params, launch, cancel"),
    ("c", "cluster", "Cluster", "nodes and resources, the catalogue file; start or stop"),
    ("f", "drift", "Drift", "drift checks: features by severity, histograms; check now"),
)
_FACTORIES: dict[str, Callable[[], Screen[None]]] = {
    "overview": _overview,
    "runs": _runs,
    "models": _models,
    "deployments": _deployments,
    "pipelines": _pipelines,
    "cluster": _cluster,
    "drift": _drift,
}


class WorkbenchApp(App[None]):
    """Every job of the workbench in one terminal app."""

    CSS_PATH = "workbench.tcss"
    TITLE = "Workbench"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[None]]]] = dict(_FACTORIES)
    DEFAULT_MODE: ClassVar[str] = "overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"show('{mode}')", title) for key, mode, title, _ in SCREENS),
        Binding("colon", "command_palette", "Palette", show=False),
        Binding("question_mark", "help", "Keys"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.runs_prefetch = RunsPrefetch()

    def on_data_screen_loaded(self, _: DataScreen.Loaded) -> None:
        """After the first screen's first data: read the Runs screen's first page ahead."""
        if self.workspace.prefetch_runs and self.runs_prefetch.claim():
            self.run_worker(
                partial(self.runs_prefetch.read, self.workspace),
                thread=True, group="prefetch", exit_on_error=False,
            )  # fmt: skip

    def action_show(self, mode: str) -> None:
        """Switch to one of the top-level screens."""
        self.switch_mode(mode)

    def action_help(self) -> None:
        """Show or hide the keys of the current screen."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for _, mode, title, help_text in SCREENS:
            yield SystemCommand(f"Show {title}", help_text, lambda m=mode: self.switch_mode(m))
        for title, help_text, action in getattr(screen, "PALETTE", ()):
            yield SystemCommand(
                title, help_text, lambda a=action: self.run_action(a, screen)
            )  # fmt: skip


def make_app(workspace: Workspace) -> WorkbenchApp:
    """The app for `workspace`: what `workbench` runs and what the tests drive."""
    return WorkbenchApp(workspace)
