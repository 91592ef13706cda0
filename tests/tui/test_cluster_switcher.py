"""The cluster switcher (s on the Cluster screen): list the saved clusters, switch, connect a new
one (every refusal shown under the form, nothing saved) and forget one after a confirmation.

Nothing listens on the addresses used here: listing and switching need no head, and a connect
to 127.0.0.1:1 is refused at once by the probe.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static

from tests.fixtures.heads import bare_head
from tests.tui.screen_text import shows
from workbench.compute.profile import ClusterProfile, current_name, remote_profiles, save_remote
from workbench.core.settings import Settings
from workbench.tui.app import WorkbenchApp
from workbench.tui.context import Workspace
from workbench.tui.screens.base import DataScreen
from workbench.tui.screens.cluster import ClusterScreen
from workbench.tui.widgets.cluster_switcher import ClusterSwitcher
from workbench.tui.widgets.confirm import ConfirmDialog
from workbench.tui.widgets.connect_form import ConnectForm


def save_shared(settings: Settings, name: str, address: str, *, insecure: bool = False) -> None:
    """Save a shared cluster as `cluster connect` would (and make it the one in use)."""
    save_remote(
        settings,
        ClusterProfile(
            address=address, dashboard_url="", process_group=0, cpus=0, gpus=0,
            started_at="2026-11-30T09:00:00+00:00", token_file=f"/secrets/{name}.token",
            name=name, remote=True, insecure=insecure,
        ),
    )  # fmt: skip


class Notes(list[Notification]):
    """The app's notifications, as a `message_hook`."""

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.append(message.notification)

    def said(self, text: str) -> bool:
        return any(text in note.message for note in self)


async def until(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    """Let the app run until `condition` holds (bounded)."""
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"waited in vain for {what}")


async def open_switcher(app: WorkbenchApp, pilot: Pilot[Any]) -> ClusterSwitcher:
    """The Cluster screen once loaded, then its switcher once it has read the clusters."""
    overview = app.screen
    assert isinstance(overview, DataScreen)
    await until(pilot, lambda: overview.data is not None, "the overview")
    await pilot.press("c")
    screen = app.screen
    assert isinstance(screen, ClusterScreen)
    await until(pilot, lambda: screen.data is not None, "the cluster screen")
    await pilot.press("s")
    switcher = app.screen
    assert isinstance(switcher, ClusterSwitcher)
    await until(pilot, lambda: switcher.rows, "the saved clusters")
    return switcher


async def test_the_switcher_lists_the_clusters_and_switches(
    app: WorkbenchApp, fixed_workspace: Workspace
) -> None:
    settings = fixed_workspace.settings
    save_shared(settings, "gpu-lab", "127.0.0.1:1")
    save_shared(settings, "open-lab", "127.0.0.1:2", insecure=True)
    notes = Notes()
    async with app.run_test(size=(120, 40), message_hook=notes) as pilot:
        switcher = await open_switcher(app, pilot)
        assert [row.name for row in switcher.rows] == ["local", "gpu-lab", "open-lab"]
        assert switcher.in_use() == "open-lab"
        assert shows(app, "127.0.0.1:1")
        assert shows(app, "NONE: insecure")
        highlighted = switcher.highlighted()
        assert highlighted is not None
        assert highlighted.name == "open-lab"

        await pilot.press("up", "enter")
        screen = app.screen
        assert isinstance(screen, ClusterScreen)
        await until(
            pilot,
            lambda: screen.query_one("#head", Static).border_title == "Cluster: gpu-lab",
            "the head panel to show gpu-lab",
        )
        assert current_name(settings) == "gpu-lab"
        assert notes.said("now using gpu-lab (127.0.0.1:1)")


async def fill_connect_form(
    pilot: Pilot[Any], name: str, address: str, token_file: Path | None, *, insecure: bool = False
) -> ConnectForm:
    """Open the connect form from the switcher (n), fill it in and submit it (ctrl+s)."""
    await pilot.press("n")
    form = pilot.app.screen
    assert isinstance(form, ConnectForm)
    form.query_one("#name", Input).value = name
    form.query_one("#address", Input).value = address
    form.query_one("#token-file", Input).value = str(token_file) if token_file else ""
    form.query_one("#insecure", Checkbox).value = insecure
    await pilot.press("ctrl+s")
    return form


def token(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / f"token-{mode:o}"
    path.write_text("not-a-real-token\n")
    path.chmod(mode)
    return path


async def refusal(pilot: Pilot[Any], form: ConnectForm) -> str:
    """The error under the form, once the worker has answered."""
    line = form.query_one("#connect-error", Static)
    await until(pilot, lambda: line.display and str(line.content), "the refusal under the form")
    return str(line.content)


async def test_connect_shows_each_refusal_under_the_form_and_saves_nothing(
    app: WorkbenchApp, fixed_workspace: Workspace, tmp_path: Path
) -> None:
    settings = fixed_workspace.settings
    async with app.run_test(size=(120, 40)) as pilot:
        await open_switcher(app, pilot)
        form = await fill_connect_form(pilot, "lab", "127.0.0.1:1", token(tmp_path, 0o600))
        shown = await refusal(pilot, form)
        assert "cannot reach a Ray head at 127.0.0.1:1" in shown
        assert "what to do: give the head's GCS address" in shown
        assert "Traceback" not in shown
        assert app.screen is form
        assert not form.query_one("#connect").disabled

        form.query_one("#token-file", Input).value = str(token(tmp_path, 0o644))
        form.query_one("#connect-error", Static).display = False
        await pilot.press("ctrl+s")
        shown = await refusal(pilot, form)
        assert "can be read by others (mode 644)" in shown
        assert "what to do: chmod 600" in shown

        form.query_one("#name", Input).value = "Bad Name!"
        form.query_one("#connect-error", Static).display = False
        await pilot.press("ctrl+s")
        shown = await refusal(pilot, form)
        assert "'Bad Name!' cannot name a cluster" in shown
        assert app.screen is form
        assert remote_profiles(settings) == {}
        assert current_name(settings) == "local"

        await pilot.press("escape")
        assert isinstance(app.screen, ClusterSwitcher)


@pytest.mark.slow
@pytest.mark.ray
async def test_a_cluster_that_passes_is_saved_used_and_shown(
    app: WorkbenchApp, fixed_workspace: Workspace, tmp_path: Path
) -> None:
    """A real head with token authentication: the form's check passes and the cluster is used."""
    settings = fixed_workspace.settings
    token_file = tmp_path / "lab.token"
    token_file.write_text((Path.home() / ".ray" / "auth_token").read_text())
    token_file.chmod(0o600)
    notes = Notes()
    with bare_head(tmp_path / "head.log", auth=True) as address:
        async with app.run_test(size=(120, 40), message_hook=notes) as pilot:
            await open_switcher(app, pilot)
            await fill_connect_form(pilot, "new-lab", address, token_file)
            await until(pilot, lambda: isinstance(app.screen, ClusterScreen), "both dialogs closed")
            screen = app.screen
            assert isinstance(screen, ClusterScreen)
            await until(
                pilot,
                lambda: screen.query_one("#head", Static).border_title == "Cluster: new-lab",
                "the head panel to show new-lab",
            )
    assert current_name(settings) == "new-lab"
    assert remote_profiles(settings)["new-lab"].token_file == str(token_file.resolve())
    assert notes.said(f"new-lab at {address} is saved and in use")


async def test_forget_asks_first(app: WorkbenchApp, fixed_workspace: Workspace) -> None:
    settings = fixed_workspace.settings
    save_shared(settings, "gpu-lab", "127.0.0.1:1")
    save_shared(settings, "old-lab", "127.0.0.1:2")
    async with app.run_test(size=(120, 40)) as pilot:
        switcher = await open_switcher(app, pilot)
        assert switcher.in_use() == "old-lab"  # highlighted: the one in use
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        assert shows(app, "Forget the cluster old-lab?")
        await pilot.press("n")
        assert app.screen is switcher
        assert set(remote_profiles(settings)) == {"gpu-lab", "old-lab"}

        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await until(pilot, lambda: len(switcher.rows) == 2, "the list without old-lab")
        assert set(remote_profiles(settings)) == {"gpu-lab"}
        assert switcher.in_use() == "local"  # it was in use: back to local

        await pilot.press("escape")  # the cluster in use changed: the screen reloads
        screen = app.screen
        assert isinstance(screen, ClusterScreen)
        await until(
            pilot,
            lambda: screen.query_one("#head", Static).border_title == "Local head",
            "the head panel back on the local head",
        )


async def test_local_cannot_be_forgotten(app: WorkbenchApp) -> None:
    notes = Notes()
    async with app.run_test(size=(120, 40), message_hook=notes) as pilot:
        switcher = await open_switcher(app, pilot)
        assert [row.name for row in switcher.rows] == ["local"]
        await pilot.press("x")
        await until(pilot, lambda: notes.said("`local` is not a saved profile"), "the warning")
        assert app.screen is switcher


async def test_the_palette_reaches_the_switcher(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        overview = app.screen
        assert isinstance(overview, DataScreen)
        await until(pilot, lambda: overview.data is not None, "the overview")
        await pilot.press("c")
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        ran = commands["Switch cluster"].callback()  # what the palette runs on enter
        if inspect.isawaitable(ran):
            await ran
        await until(pilot, lambda: isinstance(app.screen, ClusterSwitcher), "the switcher")
