"""The ReasonDialog with an alias box: which alias to move, and what that will change.

"What will change" follows the alias as it is typed (`fraud@champion: v2 -> v3`), and the
approve box shows only for an alias that is gated (champion).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from workbench.tui.dialogs import ReasonAnswer, ReasonDialog

GATED_ALIAS = "champion"
"""The alias the service checks gates for (services.models.promote); the one that asks approval."""


@dataclass(frozen=True)
class AliasAnswer(ReasonAnswer):
    """The reason, the approval and the alias the user chose."""

    alias: str = GATED_ALIAS


class AliasDialog(ReasonDialog):
    """Ask for an alias (default `champion`) and a reason; `changes(alias)` says what happens."""

    DEFAULT_CSS = """
    AliasDialog > Vertical { padding: 0 2; }
    AliasDialog .changes { margin: 0 0 1 0; }
    """

    def __init__(
        self,
        title: str,
        changes: Callable[[str], str],
        alias: str = GATED_ALIAS,
        *,
        ask_approve: bool = True,
    ) -> None:
        super().__init__(title, changes(alias), ask_approve=ask_approve)
        self._changes_of = changes
        self._alias = alias

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self._title}[/b]")
            yield Input(self._alias, placeholder="alias", id="alias")
            yield Static(self._changes, classes="changes")
            yield Input(placeholder="reason (kept in the audit log)", id="reason")
            if self._ask_approve:
                yield Checkbox("approve: record me as the approver", id="approve")
            yield Static("", classes="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Confirm", id="confirm", variant="warning")

    def on_mount(self) -> None:  # ReasonDialog.on_mount runs too: the reason box has focus
        self._follow_alias(self._alias)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "alias":
            self._follow_alias(event.value.strip())

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.prevent_default()  # ReasonDialog's handler would confirm without the alias
        if event.input.id == "alias":
            self.query_one("#reason", Input).focus()
        else:
            self._confirm_alias()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.prevent_default()  # as above
        if event.button.id == "confirm":
            self._confirm_alias()
        else:
            self.dismiss(None)

    def _follow_alias(self, alias: str) -> None:
        self.query_one(".changes", Static).update(self._changes_of(alias) if alias else "")
        for approve in self.query("#approve").results(Checkbox):
            approve.display = alias == GATED_ALIAS

    def _confirm_alias(self) -> None:
        alias = self.query_one("#alias", Input).value.strip()
        reason = self.query_one("#reason", Input).value.strip()
        error = self.query_one(".error", Static)
        if not alias:
            error.update("name the alias to move")
            return
        if not reason:
            error.update("a reason is required: it goes in the audit log")
            return
        approve = any(box.display and box.value for box in self.query("#approve").results(Checkbox))
        self.dismiss(AliasAnswer(reason, approve, alias))
