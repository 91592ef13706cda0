"""The Overview screen (being built: see issue 10)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Static

from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.topbar import TopBar


class OverviewScreen(DataScreen[None]):
    """Overview."""

    def compose(self) -> ComposeResult:
        yield TopBar("Overview")
        yield Freshness()
        yield Static("Overview", classes="panel")
        yield Footer()

    def fetch(self) -> None:
        return None

    def show(self, data: None) -> None:
        pass
