"""The Models screen on the fixed catalogue: promote and roll back with a reason, refusals, card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Markdown, Static

from tests.tui.catalogue_fixture import FRAUD
from workbench.artifacts.manifest import write_manifest
from workbench.core.settings import load_settings
from workbench.services.models import audit_trail, registry
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.base import DataScreen
from workbench.tui.screens.models import ModelCardScreen, ModelsScreen
from workbench.tui.widgets.alias_dialog import AliasDialog


async def until(pilot: Pilot[Any], condition: Any, what: str, tries: int = 500) -> None:
    """Wait (bounded) until `condition()` holds."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"gave up waiting for {what}")


async def open_models(pilot: Pilot[Any], app: WorkbenchApp) -> ModelsScreen:
    """Let the first screen finish its first read, then show Models and wait for its data."""
    first = app.screen
    if isinstance(first, DataScreen):
        await until(pilot, lambda: first.loaded_at is not None, "the first screen to load")
    await pilot.press("m")
    screen = app.screen
    assert isinstance(screen, ModelsScreen)
    await until(pilot, lambda: screen.data is not None, "the models to load")
    return screen


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Type as a person does, key by key."""
    await pilot.press(*("space" if char == " " else char for char in text))


def champion(home: Path) -> int:
    found = next(m for m in registry(load_settings(home)) if m.name == FRAUD)
    return found.aliases["champion"]


def give_v3_a_verified_artifact(home: Path) -> None:
    """The fixture's versions have no files; v3 gets a real artifact with its manifest, so the
    champion gates pass for it."""
    artifact = home / "models" / FRAUD / "3"
    artifact.mkdir(parents=True)
    (artifact / "model.pkl").write_bytes(b"fraud model v3")
    write_manifest(artifact)


async def test_promote_with_a_reason_moves_the_alias_and_audits_it(
    app: WorkbenchApp, fixed_home: Path
) -> None:
    give_v3_a_verified_artifact(fixed_home)
    settings = load_settings(fixed_home)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_models(pilot, app)
        assert screen.query_one("#versions", DataTable).get_row_at(0)[0] == "v3"
        await pilot.press("P")
        dialog = app.screen
        assert isinstance(dialog, AliasDialog)
        changes = str(dialog.query_one(".changes", Static).content)
        assert f"{FRAUD}@champion: v2 -> v3" in changes
        await type_text(pilot, "auc 0.953 beats v2")
        await pilot.press("enter")
        await until(pilot, lambda: champion(fixed_home) == 3, "champion to move to v3")
        await until(
            pilot,
            lambda: "champion" in str(screen.query_one("#versions", DataTable).get_row_at(0)[1]),
            "the screen to show champion on v3",
        )
    newest = audit_trail(settings, limit=1)[0]
    assert newest.action == "alias.move"
    assert newest.target == f"{FRAUD}@champion"
    assert newest.reason == "auc 0.953 beats v2"
    assert (newest.details["from"], newest.details["to"]) == (2, 3)
    assert newest.details["approver"] is None  # the approve box was left unticked


async def test_approve_box_records_the_approver(
    app: WorkbenchApp, fixed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_IDENTITY", "reviewer-ana")
    give_v3_a_verified_artifact(fixed_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_models(pilot, app)
        await pilot.press("P")
        await type_text(pilot, "approved in review")
        # to the approve box, tick it, back to the reason, confirm
        await pilot.press("tab", "space", "shift+tab", "enter")
        await until(pilot, lambda: champion(fixed_home) == 3, "champion to move to v3")
    assert audit_trail(load_settings(fixed_home), limit=1)[0].details["approver"] == "reviewer-ana"


async def test_escape_cancels_and_changes_nothing(app: WorkbenchApp, fixed_home: Path) -> None:
    give_v3_a_verified_artifact(fixed_home)
    settings = load_settings(fixed_home)
    before = audit_trail(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_models(pilot, app)
        await pilot.press("P")
        await type_text(pilot, "second thoughts")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ModelsScreen), "the dialog to close")
        await pilot.pause(0.2)
    assert champion(fixed_home) == 2
    assert audit_trail(settings) == before


async def test_an_empty_reason_is_refused_in_the_dialog(
    app: WorkbenchApp, fixed_home: Path
) -> None:
    give_v3_a_verified_artifact(fixed_home)
    before = audit_trail(load_settings(fixed_home))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_models(pilot, app)
        await pilot.press("P")
        await type_text(pilot, "   ")
        await pilot.press("enter")
        await pilot.pause(0.1)
        dialog = app.screen
        assert isinstance(dialog, AliasDialog), "the dialog must stay open"
        assert "reason is required" in str(dialog.query_one(".error", Static).content)
    assert champion(fixed_home) == 2
    assert audit_trail(load_settings(fixed_home)) == before


async def test_a_refused_promotion_names_the_gate(app: WorkbenchApp, fixed_home: Path) -> None:
    # v3 has no artifact on disk here, so the champion gate on its files refuses it.
    notes: list[Notification] = []

    def keep_notifications(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification)

    async with app.run_test(size=(120, 40), message_hook=keep_notifications) as pilot:
        screen = await open_models(pilot, app)
        await pilot.press("P")
        await type_text(pilot, "try it")
        await pilot.press("enter")
        refusal = screen.query_one("#refusal", Static)
        await until(pilot, lambda: str(refusal.content), "the refusal under the table")
        shown = str(refusal.content)
        assert "promote refused" in shown
        assert "artifact failed verification" in shown
        assert "hint: fix the cause" in shown
        assert refusal.display
        refused_notes = [n for n in notes if n.title == "promote: refused"]
        assert len(refused_notes) == 1
        assert "artifact failed verification" in refused_notes[0].message
    assert champion(fixed_home) == 2
    refused = audit_trail(load_settings(fixed_home), limit=1)[0]
    assert (refused.action, refused.reason) == ("alias.move.refused", "try it")


async def test_rollback_points_the_alias_back(app: WorkbenchApp, fixed_home: Path) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_models(pilot, app)
        await pilot.press("enter", "down")  # into fraud_detection's versions, down to v2
        # v2 is the champion: the dialog defaults to its alias
        assert screen.query_one("#versions", DataTable).cursor_row == 1
        await pilot.press("B")
        dialog = app.screen
        assert isinstance(dialog, AliasDialog)
        assert f"{FRAUD}@champion: v2 -> v1" in str(dialog.query_one(".changes", Static).content)
        assert not dialog.query("#approve")
        await type_text(pilot, "v2 regressed on fresh data")
        await pilot.press("enter")
        await until(pilot, lambda: champion(fixed_home) == 1, "champion to go back to v1")
    newest = audit_trail(load_settings(fixed_home), limit=1)[0]
    assert (newest.action, newest.reason) == ("alias.move", "v2 regressed on fresh data")


async def test_the_dialog_follows_the_alias_typed(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await open_models(pilot, app)
        await pilot.press("P")
        dialog = app.screen
        assert isinstance(dialog, AliasDialog)
        alias = dialog.query_one("#alias", Input)
        alias.value = "staging"
        await pilot.pause()
        assert f"{FRAUD}@staging: (new alias) -> v3" in str(
            dialog.query_one(".changes", Static).content
        )
        assert not dialog.query_one("#approve").display  # only champion asks for approval


async def test_enter_opens_the_model_card_and_escape_returns(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_models(pilot, app)
        screen.query_one("#versions", DataTable).focus()
        await pilot.press("enter")
        card = app.screen
        assert isinstance(card, ModelCardScreen)
        await until(pilot, lambda: card.data is not None, "the card to load")
        assert card.data is not None
        assert f"# Model card: {FRAUD} v3" in card.data
        await until(pilot, lambda: card.query_one(Markdown).children, "the card to render")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back to the versions")
