"""Dialogs for auditable actions: say what will change, ask why, then hand back the answer.

The audit row is written by the service the screen calls with the answer, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static


@dataclass(frozen=True)
class ReasonAnswer:
    """What the user confirmed: the reason (never empty) and, when asked, the approval."""

    reason: str
    approve: bool = False


class ReasonDialog(ModalScreen[ReasonAnswer | None]):
    """`title`, what will change, a reason box and (optionally) an approve box; esc cancels."""

    DEFAULT_CSS = """
    ReasonDialog { align: center middle; }
    ReasonDialog > Vertical {
        width: 72; height: auto; max-width: 95%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ReasonDialog .changes { margin: 1 0; }
    ReasonDialog .error { color: $error; height: auto; }
    ReasonDialog Horizontal { height: auto; align-horizontal: right; }
    ReasonDialog Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, changes: str, *, ask_approve: bool = False) -> None:
        super().__init__()
        self._title = title
        self._changes = changes
        self._ask_approve = ask_approve

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self._title}[/b]")
            yield from self.compose_fields()
            yield Static(self._changes, classes="changes")
            yield Input(placeholder="reason (kept in the audit log)", id="reason")
            if self._ask_approve:
                yield Checkbox("approve: the gate asks for a person's approval", id="approve")
            yield Static("", classes="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Confirm", id="confirm", variant="warning")

    def compose_fields(self) -> ComposeResult:
        """Fields a subclass asks for above "what changes" (none here)."""
        yield from ()

    def answer(self, reason: str, approve: bool) -> ReasonAnswer | str:
        """The answer to hand back, or a message saying what is missing (subclass hook)."""
        return ReasonAnswer(reason, approve)

    def show_changes(self, changes: str) -> None:
        """Update the "what will change" line (a subclass's fields may change it)."""
        self.query_one(".changes", Static).update(changes)

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "reason":
            self._confirm()
        else:  # a subclass's field: on to the reason
            self.query_one("#reason", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self._confirm()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Close without doing anything."""
        self.dismiss(None)

    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            error = self.query_one(".error", Static)
            error.update("a reason is required: it goes in the audit log")
            return
        boxes = self.query("#approve").results(Checkbox)
        approve = self._ask_approve and any(box.display and box.value for box in boxes)
        answer = self.answer(reason, approve)
        if isinstance(answer, str):
            self.query_one(".error", Static).update(answer)
            return
        self.dismiss(answer)
