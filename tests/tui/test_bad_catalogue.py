"""A corrupt, newer-schema or locked catalogue: every screen says which and what to do.

No traceback and no crash: the screen that cannot read shows the error and its hint in
place of its content, and the app stays usable (keys still switch screens, q quits).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.tui.screen_text import screen_text, shows
from workbench.core.settings import load_settings
from workbench.tui.app import SCREENS, WorkbenchApp, make_app
from workbench.tui.context import Workspace

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
"""


def _app(home: Path) -> WorkbenchApp:
    return make_app(Workspace(load_settings(home), live=False))


async def _every_screen_says(app: WorkbenchApp, *needles: str) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        for key, mode, _, _ in SCREENS:
            await pilot.press(key)
            for _ in range(300):  # the read runs in a worker: wait for its verdict
                await pilot.pause(0.05)
                if all(shows(app, needle) for needle in needles):
                    break
            missing = [n for n in needles if not shows(app, n)]
            assert not missing, f"{mode} screen does not say {missing}:\n{screen_text(app)}"
            assert not shows(app, "Traceback")
        await pilot.press("q")


async def test_a_corrupt_catalogue_is_named_with_what_to_do(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "catalogue.duckdb").write_bytes(b"this is not a database" * 1000)
    await _every_screen_says(_app(home), "not a valid DuckDB database", "move it aside")


async def test_a_newer_catalogue_says_upgrade(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    con = duckdb.connect(str(home / "catalogue.duckdb"))
    con.execute("CREATE TABLE migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    con.execute("INSERT INTO migrations VALUES ('9999_from_the_future', ?)", [datetime(2030, 1, 1)])
    con.close()
    await _every_screen_says(_app(home), "written by a newer version", "upgrade Workbench")


@pytest.fixture
def held_catalogue(fixed_home: Path) -> Iterator[Path]:
    """The fixed catalogue held open by another process that is not a Workbench owner."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(fixed_home / "catalogue.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    yield fixed_home
    holder.communicate("", timeout=30)


@pytest.mark.slow
async def test_a_locked_catalogue_names_the_process(held_catalogue: Path) -> None:
    app = _app(held_catalogue)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(400):  # an opener waits out a brief holder (5 s) before it says so
            await pilot.pause(0.05)
            if shows(app, "in use by process"):
                break
        assert shows(app, "in use by process"), screen_text(app)
        assert not shows(app, "Traceback")
