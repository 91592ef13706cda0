"""Fixtures for the TUI tests: the fixed catalogue and the app built on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.catalogue_fixture import NOW, build_fixed_catalogue
from workbench.core.settings import load_settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace


@pytest.fixture
def fixed_home(tmp_path: Path) -> Path:
    """A workbench home holding the fixed catalogue."""
    home = tmp_path / "home"
    build_fixed_catalogue(home)
    return home


@pytest.fixture
def fixed_workspace(fixed_home: Path) -> Workspace:
    """A workspace on the fixed catalogue with a frozen clock; screens still load live data."""
    return Workspace(load_settings(fixed_home), now=lambda: NOW, live=False)


@pytest.fixture
def app(fixed_workspace: Workspace) -> WorkbenchApp:
    """The real app on the fixed catalogue."""
    return make_app(fixed_workspace)
