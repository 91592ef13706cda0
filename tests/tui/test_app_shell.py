"""The shell every screen lives in: one key per screen, the palette, help, quit."""

from __future__ import annotations

import pytest

from workbench.tui.app import SCREENS, WorkbenchApp


@pytest.mark.parametrize(("key", "mode"), [(key, mode) for key, mode, _, _ in SCREENS])
async def test_each_screen_is_one_key_away(app: WorkbenchApp, key: str, mode: str) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(key)
        await pilot.pause()
        assert app.current_mode == mode


async def test_q_quits(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_question_mark_shows_the_keys(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        await pilot.pause()
        assert not app.screen.query("HelpPanel")


async def test_the_palette_reaches_every_screen(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for _, _, title, _ in SCREENS:
            assert f"Show {title}" in titles
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press(*"Show Runs")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "runs"
