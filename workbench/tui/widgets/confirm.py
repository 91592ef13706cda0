"""A yes/no dialog for actions that need no reason in the audit log (start a cluster, cancel)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmDialog(ModalScreen[bool]):
    """`title` and what will happen; `y` or Confirm answers True, `n`, esc or Cancel False."""

    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical {
        width: 64; height: auto; max-width: 95%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmDialog .changes { margin: 1 0; }
    ConfirmDialog Horizontal { height: auto; align-horizontal: right; }
    ConfirmDialog Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, changes: str, confirm: str = "Confirm") -> None:
        super().__init__()
        self._title = title
        self._changes = changes
        self._confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self._title, style="bold"))
            yield Static(self._changes, classes="changes", markup=False)
            with Horizontal():
                yield Button("Cancel (n)", id="cancel")
                yield Button(f"{self._confirm} (y)", id="confirm", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, answer: bool) -> None:
        """Close with `answer`."""
        self.dismiss(answer)
