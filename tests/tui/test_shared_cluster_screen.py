"""The Cluster screen on a shared cluster whose dashboard listens on every interface: it names
the profile, how the cluster is reached, and warns about the exposed dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from tests.conftest import run_cli
from tests.fixtures.heads import bare_head
from tests.fixtures.waiting import wait_until_async
from workbench.core.settings import load_settings
from workbench.tui.app import make_app
from workbench.tui.context import Workspace
from workbench.tui.screens.cluster import ClusterScreen

pytestmark = [pytest.mark.slow, pytest.mark.ray]


async def test_the_cluster_screen_warns_of_an_exposed_dashboard(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text((Path.home() / ".ray" / "auth_token").read_text())
    token_file.chmod(0o600)
    home = tmp_path / "home"
    with bare_head(tmp_path / "head.log", auth=True, dashboard_host="0.0.0.0") as address:
        done = run_cli(home, "cluster", "connect", "exposed", "--address", address,
                       "--token-file", str(token_file))  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        app = make_app(Workspace(load_settings(home), live=False))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("c")
            screen = app.screen
            assert isinstance(screen, ClusterScreen)

            def head_text() -> str | None:
                text = str(screen.query_one("#head", Static).content)
                return text if "warning:" in text else None

            text = await wait_until_async(head_text, 60, "the dashboard warning", 0.2)
            assert "the dashboard listens on 0.0.0.0:" in text
            assert f"address    {address} (shared" in text
            assert str(token_file) in text
            assert token_file.read_text().strip() not in app.export_screenshot()
            assert screen.query_one("#head", Static).border_title == "Cluster: exposed"
