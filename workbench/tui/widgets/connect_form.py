"""Connect a shared cluster: name, address, token file and the insecure box, as `cluster connect`.

The check (`services.clusters.connect`: the name, the address, the token file's mode, then a
probe of the head over gRPC) runs in a thread worker; a refusal shows under the form with
its hint and the form stays open. Success says so and dismisses with the name, now in use.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from workbench.core.errors import WorkbenchError
from workbench.core.settings import Settings
from workbench.services.clusters import connect

log = logging.getLogger(__name__)


class ConnectForm(ModalScreen[str | None]):
    """Ask for a shared cluster and check it before saving; esc goes back without saving."""

    DEFAULT_CSS = """
    ConnectForm { align: center middle; }
    ConnectForm > Vertical {
        width: 80; height: auto; max-width: 100%; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ConnectForm #connect-title { height: 1; margin-bottom: 1; }
    ConnectForm .field { height: 1; margin-bottom: 1; }
    ConnectForm .field Label { width: 12; }
    ConnectForm .field Input { width: 1fr; background: $boost; }
    ConnectForm #insecure { margin-left: 12; }
    ConnectForm #connect-state { height: auto; color: $text-muted; margin-top: 1; display: none; }
    ConnectForm #connect-error { height: auto; color: $error; margin-top: 1; display: none; }
    ConnectForm #connect-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    ConnectForm Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "connect", "Connect", priority=True),
        Binding("escape", "cancel", "Back"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                Text.assemble(
                    ("Connect a shared cluster", "bold"),
                    ("   `workbench cluster connect`; esc goes back", "dim"),
                ),
                id="connect-title",
            )
            yield _field("name", "name", "e.g. gpu-lab: lowercase, digits, - and _")
            yield _field("address", "address", "HOST:PORT of the head's GCS (10.0.0.5:6379)")
            yield _field("token-file", "token file", "a 0600 file holding the head's token")
            yield Checkbox(
                "insecure: accept a head that checks no token", id="insecure", compact=True
            )
            yield Static("", id="connect-state")
            yield Static("", id="connect-error")
            with Horizontal(id="connect-buttons"):
                yield Button("Cancel (esc)", id="cancel", compact=True)
                yield Button("Connect (ctrl+s)", id="connect", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next box; on the last one it connects."""
        if event.input.id == "token-file":
            self.action_connect()
        else:
            self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "connect":
            self.action_connect()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Back without saving anything (esc)."""
        self.dismiss(None)

    def action_connect(self) -> None:
        """Check the cluster in a worker and save it if it passes (ctrl+s)."""
        button = self.query_one("#connect", Button)
        if button.disabled:
            return  # a check is under way
        name = self.query_one("#name", Input).value.strip()
        address = self.query_one("#address", Input).value.strip()
        token_text = self.query_one("#token-file", Input).value.strip()
        token_file = Path(token_text).expanduser() if token_text else None
        insecure = self.query_one("#insecure", Checkbox).value
        button.disabled = True
        self._say(Text(f"checking the head at {address} ..." if address else "checking ..."), None)
        self._connect(name, address, token_file, insecure)

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def _connect(self, name: str, address: str, token_file: Path | None, insecure: bool) -> None:
        try:
            saved = connect(self._settings, name, address, token_file, insecure=insecure)
        except WorkbenchError as error:
            self.app.call_from_thread(self._refused, error.message, error.hint)
            return
        except Exception as error:  # a bug must not take the app down; the log has the rest
            log.exception("connect failed")
            message = f"internal error: {type(error).__name__}: {error}".splitlines()[0]
            self.app.call_from_thread(self._refused, message, "report it with the log")
            return
        self.app.call_from_thread(self._connected, saved.name, saved.address, saved.insecure)

    def _connected(self, name: str, address: str, insecure: bool) -> None:
        warning = ": it checks no token, anyone who reaches it can run code" if insecure else ""
        self.app.notify(
            f"{name} at {address} is saved and in use{warning}",
            title="cluster connected",
            severity="warning" if insecure else "information",
        )
        self.dismiss(name)

    def _refused(self, message: str, hint: str) -> None:
        text = Text(message, style="bold")
        if hint:
            text.append(f"\nwhat to do: {hint}", style="not bold")
        self._say(None, text)
        self.query_one("#connect", Button).disabled = False

    def _say(self, state: Text | None, error: Text | None) -> None:
        """Show what is under way or what went wrong under the form (None hides a line)."""
        for line_id, text in (("#connect-state", state), ("#connect-error", error)):
            line = self.query_one(line_id, Static)
            line.update(text or "")
            line.display = text is not None


def _field(field_id: str, label: str, placeholder: str) -> Horizontal:
    """One line of the form: its label, then a one-line input box."""
    return Horizontal(
        Label(label), Input(placeholder=placeholder, id=field_id, compact=True), classes="field"
    )
