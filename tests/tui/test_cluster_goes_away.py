"""A cluster that goes away while the app is open: the app says so and recovers."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import run_cli
from tests.tui.screen_text import screen_text, shows
from workbench.core.settings import load_settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.ray]


async def _until(app: WorkbenchApp, pilot: Pilot[None], needle: str, tries: int = 600) -> None:
    for _ in range(tries):
        if shows(app, needle):
            return
        await pilot.pause(0.05)
    pytest.fail(f"{needle!r} never appeared:\n{screen_text(app)}")


async def test_overview_says_disconnected_and_recovers(local_cluster: Path) -> None:
    home = local_cluster
    app = make_app(Workspace(load_settings(home), refresh_s=0.5))
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(app, pilot, "cluster up")
        profile = json.loads((home / "cluster.json").read_text())
        os.killpg(profile["process_group"], signal.SIGKILL)
        await _until(app, pilot, "disconnected")
        assert app.is_running
        up = run_cli(home, "cluster", "up", "--cpus", "2", "--json")
        assert up.returncode == 0, up.stderr[-2000:]
        await _until(app, pilot, "cluster up")
