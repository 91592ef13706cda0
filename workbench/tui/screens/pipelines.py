"""Pipelines (p): pick a project, fill in its params, launch it, watch its steps, cancel it.

Projects come from `Workspace.project_roots` and the catalogue's recent ones. `enter` opens
the params form; `ctrl+s` there launches `workbench run` in a detached child (this process
never joins Ray); the new run's steps are then polled from the catalogue; `x` cancels it.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from workbench.core.entities import RunStatus
from workbench.core.errors import WorkbenchError
from workbench.services.projects import (
    Launch,
    LaunchState,
    ProjectEntry,
    ProjectList,
    launch,
    launch_state,
    list_projects,
)
from workbench.services.runs import cancel
from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.confirm import ConfirmDialog
from workbench.tui.widgets.param_form import ParamForm, describe_param
from workbench.tui.widgets.progress_list import StepProgressList
from workbench.tui.widgets.topbar import TopBar

log = logging.getLogger(__name__)


class PipelinesScreen(DataScreen[ProjectList]):
    """Projects on the left, the highlighted one's params and steps on the right, then the run."""

    DEFAULT_CSS = """
    PipelinesScreen #pipelines-body { height: 1fr; }
    PipelinesScreen #projects { width: 2fr; height: 1fr; }
    PipelinesScreen #right { width: 3fr; height: 1fr; }
    PipelinesScreen #project-detail { height: 1fr; overflow-y: auto; }
    PipelinesScreen #launch { height: auto; max-height: 14; display: none; }
    PipelinesScreen #launch.-shown { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_form", "Params"),
        Binding("x", "cancel_run", "Cancel run"),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Launch a pipeline", "open the params form of the selected project", "open_form"),
        ("Cancel run", "cancel the run launched from the Pipelines screen", "cancel_run"),
        ("Refresh projects", "look for projects under the roots again", "reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.launched: Launch | None = None
        self.launch_state: LaunchState | None = None
        self._watch: Timer | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("Pipelines")
        yield Freshness()
        with Horizontal(id="pipelines-body"):
            projects = OptionList(id="projects", classes="panel")
            projects.border_title = "Projects"
            yield projects
            with Vertical(id="right"):
                detail = Static("looking for projects ...", id="project-detail", classes="panel")
                detail.border_title = "Project"
                yield detail
                progress = StepProgressList("", id="launch", classes="panel")
                progress.border_title = "Launched run"
                yield progress
        yield Footer()

    # -- the project list -----------------------------------------------------------------

    def fetch(self) -> ProjectList:
        return list_projects(self.workspace.settings, self.workspace.project_roots)

    def show(self, data: ProjectList) -> None:
        projects = self.query_one("#projects", OptionList)
        highlighted = projects.highlighted
        projects.clear_options()
        projects.add_options(_option(entry) for entry in data.projects)
        if data.projects:
            projects.highlighted = min(highlighted or 0, len(data.projects) - 1)
        else:
            roots = ", ".join(str(root) for root in self.workspace.project_roots)
            self._detail(Text(f"no workbench.toml under {roots}", style="dim"))
        if data.recent_problem:  # projects on disk still show; the catalogue's problem too
            self.show_problem(data.recent_problem, data.recent_hint)
        self._show_selected()

    def selected(self) -> ProjectEntry | None:
        """The highlighted project, if any."""
        index = self.query_one("#projects", OptionList).highlighted
        if self.data is None or index is None or index >= len(self.data.projects):
            return None
        return self.data.projects[index]

    def on_option_list_option_highlighted(self) -> None:
        self._show_selected()

    def on_option_list_option_selected(self) -> None:
        self.action_open_form()

    def _show_selected(self) -> None:
        entry = self.selected()
        if entry is not None:
            self._detail(_project_text(entry))

    def _detail(self, text: Text) -> None:
        self.query_one("#project-detail", Static).update(text)

    # -- launch -----------------------------------------------------------------------------

    def action_open_form(self) -> None:
        """Open the params form of the highlighted project (enter)."""
        entry = self.selected()
        if entry is None:
            self.notify("no project selected", severity="warning")
            return
        if entry.spec is None:
            self.notify(entry.problem, title=f"cannot launch {entry.name}", severity="error")
            return
        spec = entry.spec

        def launch_with(values: dict[str, str] | None) -> None:
            if values is not None:
                settings = self.workspace.settings
                self.run_service(f"launch {spec.name}", launch, settings, spec, values)

        shown = entry.shown if entry.source == "recent" else f"./{entry.shown}"
        self.app.push_screen(ParamForm(spec, shown), launch_with)

    def action_done(self, title: str, outcome: Any) -> None:
        if isinstance(outcome, Launch):
            self.notify(f"workbench run {outcome.project} started; log {outcome.log_file}",
                        title="launched")  # fmt: skip
            self.launched, self.launch_state = outcome, None
            panel = self.query_one("#launch", StepProgressList)
            panel.add_class("-shown")
            panel.update(Text("starting `workbench run` (Ray takes a few seconds) ...", "dim"))
            self._start_watch()
            return
        super().action_done(title, outcome)
        self._poll()

    def _start_watch(self) -> None:
        if self._watch is None:
            self._watch = self.set_interval(self.workspace.refresh_s, self._poll)
        self._poll()

    def _stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.launched is not None and not self._launch_over():
            self._start_watch()

    def on_screen_suspend(self) -> None:
        super().on_screen_suspend()
        self._stop_watch()

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def _poll(self) -> None:
        launched = self.launched
        if launched is None:
            return
        try:
            state = launch_state(self.workspace.settings, launched, self.workspace.now())
        except WorkbenchError as error:
            self.app.call_from_thread(self._watch_failed, error.message)
            return
        except Exception as error:  # a bug must not take the app down; the log has the rest
            log.exception("polling the launched run failed")
            self.app.call_from_thread(self._watch_failed, f"{type(error).__name__}: {error}")
            return
        self.app.call_from_thread(self._show_launch, launched, state)

    def _watch_failed(self, message: str) -> None:
        self.query_one("#launch", StepProgressList).border_subtitle = f"not refreshed: {message}"

    def _show_launch(self, launched: Launch, state: LaunchState) -> None:
        if launched is not self.launched:
            return  # a newer launch replaced this one while it was read
        self.launch_state = state
        panel = self.query_one("#launch", StepProgressList)
        panel.border_subtitle = ""
        run = state.run
        if run is not None:
            over = RunStatus(run.status).terminal
            failed = over and run.status != RunStatus.FINISHED
            panel.show_steps(run, launched.steps, state.log_tail if failed else "")
            if over:
                self._stop_watch()
        elif state.exit_code is not None:
            self._stop_watch()
            panel.update(
                Text.assemble(
                    (
                        f"`workbench run` ended (exit {state.exit_code}) before its run appeared\n",
                        "red",
                    ),
                    (state.log_tail or f"see {launched.log_file}", "dim"),
                )  # fmt: skip
            )

    def _launch_over(self) -> bool:
        state = self.launch_state
        if state is None:
            return False
        if state.run is not None:
            return RunStatus(state.run.status).terminal
        return state.exit_code is not None

    # -- cancel -----------------------------------------------------------------------------

    def action_cancel_run(self) -> None:
        """Cancel the run launched from here (x), after a confirmation."""
        run = self.launch_state.run if self.launch_state else None
        if run is None:
            self.notify("no run launched from this screen is in flight", severity="warning")
            return
        if RunStatus(run.status).terminal:
            self.notify(f"run {run.run_id[:12]} is already {run.status}", severity="warning")
            return
        run_id = run.run_id

        def cancel_if(yes: bool | None) -> None:
            if yes:
                self.run_service("cancel run", cancel, self.workspace.settings, run_id)

        self.app.push_screen(
            ConfirmDialog(
                f"Cancel run {run_id[:12]}?",
                f"{run.project}: the driver is stopped and the run ends `cancelled`; "
                "finished steps stay cached.",
                "Cancel run",
            ),
            cancel_if,
        )


def _option(entry: ProjectEntry) -> Option:
    prompt = Text.assemble(
        (entry.name, "bold" if entry.spec else "red"),
        ("  recent" if entry.source == "recent" else "", "cyan"),
        "\n  ",
        (entry.shown if entry.source == "recent" else f"./{entry.shown}", "dim"),
    )
    return Option(prompt)


def _project_text(entry: ProjectEntry) -> Text:
    where = entry.shown if entry.source == "recent" else f"./{entry.shown}"
    text = Text.assemble((entry.name, "bold"), (f"  {where}", "dim"), "\n")
    if entry.spec is None:
        text.append(entry.problem or "no readable workbench.toml", style="red")
        return text
    spec = entry.spec
    if spec.description:
        text.append(f"{spec.description}\n")
    text.append("\nparams", style="bold")
    text.append("  (enter: edit and launch)\n" if spec.params else ": none\n", style="dim")
    for param in spec.params.values():
        text.append(f"  {param.name}", style="cyan")
        text.append(f"  {describe_param(param)}\n")
        if param.help:
            text.append(f"      {param.help}\n", style="dim")
    text.append("\nsteps\n", style="bold")
    for index, step in enumerate(spec.steps, start=1):
        where = "" if step.runner == "task" else f"  ({step.runner})"
        text.append(f"  {index}. {step.name}{where}\n")
    return text
