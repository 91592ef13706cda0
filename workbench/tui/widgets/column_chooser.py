"""The column chooser of the Runs table: a checkbox per param and metric key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, SelectionList


class ColumnChooser(ModalScreen[list[str] | None]):
    """Pick the `params.*` and `metrics.*` columns; enter/Apply returns them in offer order."""

    DEFAULT_CSS = """
    ColumnChooser { align: center middle; }
    ColumnChooser > Vertical {
        width: 60; height: auto; max-height: 90%; max-width: 95%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    ColumnChooser SelectionList { height: auto; max-height: 24; margin: 1 0 0 0; }
    ColumnChooser Horizontal { height: auto; align-horizontal: right; }
    ColumnChooser Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        # Priority: SelectionList toggles on enter, which would hide the shortcut.
        Binding("enter", "apply", "Apply", priority=True),
    ]

    def __init__(self, offered: Sequence[str], chosen: Sequence[str]) -> None:
        super().__init__()
        self._offered = list(offered)
        self._chosen = set(chosen)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Columns[/b]  space toggles, enter applies, esc cancels")
            yield SelectionList[str](
                *((key, key, key in self._chosen) for key in self._offered), id="keys"
            )
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Apply", id="apply", variant="primary")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        else:
            self.dismiss(None)

    def action_apply(self) -> None:
        """Close and hand back the chosen keys, in the order offered."""
        selected = set(self.query_one(SelectionList).selected)
        self.dismiss([key for key in self._offered if key in selected])

    def action_cancel(self) -> None:
        """Close and keep the columns as they were."""
        self.dismiss(None)
