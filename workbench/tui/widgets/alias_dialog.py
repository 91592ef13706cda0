"""The ReasonDialog with an alias box: which alias to move, and what that will change.

"What will change" follows the alias as it is typed (`fraud@champion: v2 -> v3`), and the
approve box shows only for an alias that is gated (champion).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.widgets import Checkbox, Input

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

    def compose_fields(self) -> ComposeResult:
        yield Input(self._alias, placeholder="alias", id="alias")

    def on_mount(self) -> None:  # ReasonDialog.on_mount runs too: the reason box has focus
        self._follow_alias(self._alias)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "alias":
            self._follow_alias(event.value.strip())

    def answer(self, reason: str, approve: bool) -> ReasonAnswer | str:
        alias = self.query_one("#alias", Input).value.strip()
        if not alias:
            return "name the alias to move"
        return AliasAnswer(reason, approve, alias)

    def _follow_alias(self, alias: str) -> None:
        self.show_changes(self._changes_of(alias) if alias else "")
        for approve in self.query("#approve").results(Checkbox):
            approve.display = alias == GATED_ALIAS
