"""The Models screen (being built: see issue 10)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Static

from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.topbar import TopBar


class ModelsScreen(DataScreen[None]):
    """Models."""

    def compose(self) -> ComposeResult:
        yield TopBar("Models")
        yield Freshness()
        yield Static("Models", classes="panel")
        yield Footer()

    def fetch(self) -> None:
        return None

    def show(self, data: None) -> None:
        pass
