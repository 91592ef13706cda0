"""Snapshots of the Models screen (list and model card) and the Deployments screen.

The app reads a fixed catalogue under the relative home `home` (the test runs in its own
temporary directory), so paths on screen (the top bar, the card's artifact) are the same
on every run and every machine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Markdown

from tests.tui.catalogue_fixture import NOW, build_fixed_catalogue
from tests.tui.test_models_screen import until
from workbench.core.settings import Settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.base import DataScreen
from workbench.tui.screens.models import ModelCardScreen

SIZES = [(120, 40), (80, 24)]
SnapCompare = Callable[..., bool]


@pytest.fixture
def snapshot_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkbenchApp:
    """The app on the fixed catalogue at the relative home `home`, clock frozen, not live."""
    monkeypatch.chdir(tmp_path)
    build_fixed_catalogue(Path("home"))
    return make_app(Workspace(Settings(home=Path("home")), now=lambda: NOW, live=False))


def showing(key: str, *then: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the first screen's read, press `key`, wait for its data, then press `then`."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        first = app.screen
        if isinstance(first, DataScreen):
            await until(pilot, lambda: first.loaded_at is not None, "the first screen")
        await pilot.press(key)
        screen = app.screen
        assert isinstance(screen, DataScreen)
        await until(pilot, lambda: screen.data is not None, f"screen {key} to load")
        if then:
            await pilot.press(*then)
        card = app.screen
        if isinstance(card, ModelCardScreen):
            await until(pilot, lambda: card.data is not None, "the model card")
            await until(pilot, lambda: card.query_one(Markdown).children, "the card to render")
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_models_list(snap_compare: SnapCompare, snapshot_app: WorkbenchApp, size: Any) -> None:
    assert snap_compare(snapshot_app, terminal_size=size, run_before=showing("m"))


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_model_card(snap_compare: SnapCompare, snapshot_app: WorkbenchApp, size: Any) -> None:
    # enter on the model focuses its versions; enter on v3 opens its card
    run_before = showing("m", "enter", "enter")
    assert snap_compare(snapshot_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
def test_deployments(snap_compare: SnapCompare, snapshot_app: WorkbenchApp, size: Any) -> None:
    assert snap_compare(snapshot_app, terminal_size=size, run_before=showing("d"))
