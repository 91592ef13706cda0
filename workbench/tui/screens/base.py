"""The pattern every screen follows: fetch in a thread worker, show on the UI thread.

`fetch` runs in a Textual thread worker (engine calls never block the UI); its result is
handed to `show`. A WorkbenchError becomes a notification with its hint and the screen
keeps its last good data, saying how old it is. Live screens reload every
`Workspace.refresh_s` seconds, only while they are the visible screen.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from rich.markup import escape
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from workbench.core.errors import WorkbenchError
from workbench.services.changes import catalogue_version
from workbench.tui.context import Workspace

T = TypeVar("T")
log = logging.getLogger(__name__)


class Freshness(Static):
    """One line under a screen's title: when its data was read, or why it could not be."""

    DEFAULT_CSS = """
    Freshness { height: 1; color: $text-muted; padding: 0 1; }
    Freshness.-stale { color: $warning; }
    """


class Problem(Static):
    """In place of a screen's content when it has nothing to show: what is wrong, what to do."""

    DEFAULT_CSS = """
    Problem { height: auto; margin: 1 2; padding: 1 2; border: heavy $error; }
    """

    def __init__(self, message: str, hint: str) -> None:
        super().__init__()
        self.set_problem(message, hint)

    def set_problem(self, message: str, hint: str) -> None:
        """Show this error and hint."""
        text = f"[b]{escape(message)}[/b]"
        if hint:
            text += f"\n\nwhat to do: {escape(hint)}"
        self.update(text)


class DataScreen(Screen[None], Generic[T]):
    """A screen whose content comes from one blocking fetch; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("R", "reload", "Refresh", show=False),
    ]
    LIVE: ClassVar[bool] = False
    """Reload on a timer while visible."""
    REREAD_AFTER_S: ClassVar[float] = 1.0
    """A timed reload skips the read while the catalogue file is unchanged (see
    `catalogue_version`) for up to this long; time windows ("last minute") move on."""
    PALETTE: ClassVar[list[tuple[str, str, str]]] = []
    """(title, help, action) of this screen's actions, offered by the command palette."""

    class Loaded(Message):
        """The screen showed its first data (the app reads ahead after it, see prefetch)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: T | None = None
        self.loaded_at: datetime | None = None
        self._timer: Timer | None = None
        self._last_error: str | None = None
        self._version: tuple[int, ...] = ()
        self._read_at = 0.0

    @property
    def workspace(self) -> Workspace:
        """Settings, clock and refresh period of the app this screen runs in."""
        workspace = getattr(self.app, "workspace", None)
        if not isinstance(workspace, Workspace):
            raise TypeError(f"{type(self).__name__} runs inside the Workbench app (make_app)")
        return workspace

    def fetch(self) -> T:
        """Read what the screen shows. Runs in a worker thread: no UI calls here."""
        raise NotImplementedError

    def show(self, data: T) -> None:
        """Put freshly fetched data on screen. Runs on the UI thread."""
        raise NotImplementedError

    def on_screen_resume(self) -> None:
        self.action_reload()
        if self.LIVE and self.workspace.live and self._timer is None:
            self._timer = self.set_interval(self.workspace.refresh_s, self._tick)

    def _tick(self) -> None:
        self._load(force=False)

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def action_reload(self) -> None:
        """Fetch again now (R)."""
        self._load(force=True)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self, force: bool = True) -> None:
        version = catalogue_version(self.workspace.settings)
        unchanged = version == self._version and self.data is not None
        if not force and unchanged and time.monotonic() - self._read_at < self.REREAD_AFTER_S:
            return  # nothing was written and the time windows have not moved on enough
        try:
            data = self.fetch()
        except WorkbenchError as error:
            self.app.call_from_thread(self.fetch_failed, error.message, error.hint)
            return
        except Exception as error:  # a bug must not take the app down; the log has the rest
            log.exception("fetch failed on %s", type(self).__name__)
            message = f"internal error: {type(error).__name__}: {error}".splitlines()[0]
            self.app.call_from_thread(self.fetch_failed, message, "report it with the log")
            return
        self._version, self._read_at = version, time.monotonic()
        self.app.call_from_thread(self._fetched, data)

    def _fetched(self, data: T) -> None:
        for problem in self.query(Problem):
            problem.remove()
        first = self.data is None
        self.data = data
        self.loaded_at = self.workspace.now()
        self.show(data)
        self._set_freshness(f"as of {self.loaded_at:%H:%M:%S}", stale=False)
        if first:
            self.post_message(self.Loaded())

    def fetch_failed(self, message: str, hint: str) -> None:
        """Notify once per distinct error; keep the last good data on screen."""
        text = f"{message}\n{hint}" if hint else message
        if self._last_error != text:
            self.notify(text, title="could not refresh", severity="error", timeout=8)
        self._last_error = text
        age = f"data as of {self.loaded_at:%H:%M:%S}" if self.loaded_at else "no data yet"
        self._set_freshness(f"{age}: {message}", stale=True)
        if self.data is None:
            self.show_problem(message, hint)

    def show_problem(self, message: str, hint: str) -> None:
        """With nothing to show, say what is wrong and what to do, above the (empty) content."""
        found = self.query(Problem)
        if found:
            found.first().set_problem(message, hint)
            return
        anchors = self.query(Freshness)
        if anchors:
            self.mount(Problem(message, hint), after=anchors.first())
        else:
            self.mount(Problem(message, hint))

    def _set_freshness(self, text: str, *, stale: bool) -> None:
        if not stale:
            self._last_error = None
        for line in self.query(Freshness):
            line.update(text)
            line.set_class(stale, "-stale")

    def run_service(self, title: str, call: Any, *args: Any, **kwargs: Any) -> None:
        """Run a blocking service call in a worker; success and failure become notifications."""
        self._act(title, call, args, kwargs)

    @work(thread=True, group="action", exit_on_error=False)
    def _act(self, title: str, call: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            outcome = call(*args, **kwargs)
        except WorkbenchError as error:
            text = f"{error.message}\n{error.hint}" if error.hint else error.message
            self.app.call_from_thread(
                self.notify, text, title=f"{title}: refused", severity="error"
            )
            return
        except Exception as error:
            log.exception("%s failed", title)
            self.app.call_from_thread(
                self.notify, f"{type(error).__name__}: {error}", title=f"{title}: failed",
                severity="error",
            )  # fmt: skip
            return
        self.app.call_from_thread(self.action_done, title, outcome)

    def action_done(self, title: str, outcome: Any) -> None:
        """After a successful action: say so and reload. Screens may say more."""
        self.notify(str(outcome) if isinstance(outcome, str) else title, title="done")
        self.action_reload()
