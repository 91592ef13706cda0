"""The cluster switcher (s on the Cluster screen): the saved clusters, like `cluster ls`.

`enter` makes the highlighted cluster the one in use (`cluster use`), `n` connects a new one
(ConnectForm), `x` forgets a shared one after a confirmation (`cluster forget`). Reading the
list probes each head for a connection, so it and every change run in thread workers.
The dialog dismisses with the name of the cluster now in use when that changed, else None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from workbench.core.errors import WorkbenchError
from workbench.core.settings import Settings
from workbench.services.clusters import ProfileRow, forget, listing, use
from workbench.tui.widgets.confirm import ConfirmDialog
from workbench.tui.widgets.connect_form import ConnectForm

log = logging.getLogger(__name__)
KEYS = "enter use   n connect new   x forget   R re-read   esc back"


def row_cells(row: ProfileRow) -> tuple[Text, ...]:
    """The cells of one saved cluster: in use, name, address, state, auth."""
    danger = "bold red" if row.insecure else ""
    if row.up:
        state = Text("up", style="green")
    elif row.remote:
        state = Text("DOWN", style="yellow")
    else:
        state = Text("no head", style="dim")
    if not row.remote:
        auth = Text("local", style="dim")
    elif row.insecure:
        auth = Text("NONE: insecure", style="bold red")
    else:
        auth = Text("token")
    return (
        Text("●" if row.current else "", style="bold green"),
        Text(row.name, style=danger or ("bold" if row.current else "")),
        Text(row.address),
        state,
        auth,
    )


class ClusterSwitcher(ModalScreen[str | None]):
    """The saved clusters; see the module docstring for the keys and the answer."""

    DEFAULT_CSS = """
    ClusterSwitcher { align: center middle; }
    ClusterSwitcher > Vertical {
        width: 96; height: auto; max-width: 100%; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ClusterSwitcher #switcher-title { height: 1; margin-bottom: 1; }
    ClusterSwitcher DataTable { height: auto; max-height: 14; }
    ClusterSwitcher #switcher-state { height: auto; color: $text-muted; margin-top: 1; }
    ClusterSwitcher #switcher-error { height: auto; color: $error; display: none; }
    ClusterSwitcher #switcher-keys { height: 1; margin-top: 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "connect", "Connect new"),
        Binding("x,delete", "forget", "Forget"),
        Binding("R", "reread", "Re-read", show=False),
        Binding("escape", "close", "Back"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings
        self.rows: list[ProfileRow] = []
        """The clusters as last read (empty until the first read lands)."""
        self._in_use_at_open: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                Text.assemble(("Clusters", "bold"), ("   ● the one in use", "dim")),
                id="switcher-title",
            )
            table: DataTable[Text] = DataTable(id="switcher-table", cursor_type="row")
            table.add_columns("", "name", "address", "state", "auth")
            yield table
            yield Static("reading the saved clusters ...", id="switcher-state")
            yield Static("", id="switcher-error")
            yield Static(KEYS, id="switcher-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self._read()

    def highlighted(self) -> ProfileRow | None:
        """The row under the cursor, if the list has been read."""
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def in_use(self) -> str | None:
        """The name of the cluster in use, as last read."""
        return next((row.name for row in self.rows if row.current), None)

    @work(thread=True, exclusive=True, group="read", exit_on_error=False)
    def _read(self) -> None:
        self._in_worker(lambda: listing(self._settings), self._show)

    def _show(self, rows: list[ProfileRow]) -> None:
        keep = self.highlighted()
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(*row_cells(row), key=row.name)
        names = [row.name for row in rows]
        current = self.in_use()
        if self._in_use_at_open is None:
            self._in_use_at_open = current
        at = keep.name if keep is not None and keep.name in names else current
        table.move_cursor(row=names.index(at) if at in names else 0)
        shared = len(rows) - 1
        self.query_one("#switcher-state", Static).update(
            f"{shared} shared cluster{'s' if shared != 1 else ''} saved; "
            "`local` is the local head, or an embedded Ray when none is up"
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: make the highlighted cluster the one in use, then close."""
        event.stop()
        row = self.highlighted()
        if row is None:
            return
        if row.current:
            self.notify(f"{row.name} is already in use")
            self.action_close()
            return
        self._act(lambda: use(self._settings, row.name), lambda _: self._used(row))

    def _used(self, row: ProfileRow) -> None:
        warning = ": it checks no token, anyone who reaches it can run code" if row.insecure else ""
        self.notify(
            f"now using {row.name} ({row.address}){warning}",
            title="cluster switched",
            severity="warning" if row.insecure else "information",
        )
        self.dismiss(row.name)

    def action_connect(self) -> None:
        """Connect a new shared cluster (n); on success it is in use and this closes."""

        def connected(name: str | None) -> None:
            if name:
                self.dismiss(name)

        self.app.push_screen(ConnectForm(self._settings), connected)

    def action_forget(self) -> None:
        """Forget the highlighted shared cluster after a confirmation (x)."""
        row = self.highlighted()
        if row is None:
            return
        if not row.remote:
            self.notify("`local` is not a saved profile: nothing to forget", severity="warning")
            return
        after = " Commands go back to `local`." if row.current else ""

        def forget_if(yes: bool | None) -> None:
            if yes:
                self._act(lambda: forget(self._settings, row.name), lambda _: self._forgot(row))

        self.app.push_screen(
            ConfirmDialog(
                f"Forget the cluster {row.name}?",
                f"`workbench cluster forget {row.name}`: its saved profile ({row.address}) goes; "
                f"the cluster itself and its token file are untouched.{after}",
                "Forget",
            ),
            forget_if,
        )

    def _forgot(self, row: ProfileRow) -> None:
        self.notify(f"forgot {row.name} ({row.address})", title="cluster forgotten")
        self._read()

    def action_reread(self) -> None:
        """Read the saved clusters and probe their heads again (R)."""
        self._read()

    def action_close(self) -> None:
        """Back to the Cluster screen (esc), with the cluster in use if that changed here."""
        now = self.in_use()
        self.dismiss(now if now != self._in_use_at_open else None)

    @work(thread=True, group="act", exit_on_error=False)
    def _act(self, call: Callable[[], Any], then: Callable[[Any], None]) -> None:
        self._in_worker(call, then)

    def _in_worker(self, call: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """Run `call` here (a worker thread), then `then(result)` or the refusal on the UI."""
        try:
            result = call()
        except WorkbenchError as error:
            self.app.call_from_thread(self._refused, error.message, error.hint)
            return
        except Exception as error:  # a bug must not take the app down; the log has the rest
            log.exception("cluster switcher")
            message = f"internal error: {type(error).__name__}: {error}".splitlines()[0]
            self.app.call_from_thread(self._refused, message, "report it with the log")
            return
        self.app.call_from_thread(self._done, then, result)

    def _done(self, then: Callable[[Any], None], result: Any) -> None:
        self._show_error(None)
        then(result)

    def _refused(self, message: str, hint: str) -> None:
        text = Text(message, style="bold")
        if hint:
            text.append(f"\nwhat to do: {hint}", style="not bold")
        self._show_error(text)

    def _show_error(self, text: Text | None) -> None:
        line = self.query_one("#switcher-error", Static)
        line.update(text or "")
        line.display = text is not None
