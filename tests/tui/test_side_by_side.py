"""The app never locks other terminals out (issue 10, point 4), with real processes.

With the app open and no cluster: `workbench run` in a second process, `runs ls` and
`models promote` in a third all work, and the new run shows in the app within 2 s of
being created. The run waits in its train step for a release file, so the checks happen
while its embedded Ray's owner holds the catalogue.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.fixtures.projects import write_project
from tests.tui.catalogue_fixture import FRAUD
from workbench.core.settings import load_settings
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace, utcnow

pytestmark = pytest.mark.slow

HELD_TRAIN = """

def train(ctx):  # noqa: F811 - replaces the tiny project's train: waits to be released
    import time
    from pathlib import Path

    release = Path(ctx.params["fail_in"] or "release")
    deadline = time.monotonic() + 180
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # the held step's own poll for its release file: the subject
    ctx.log_metric("loss", 0.5, 0)
    (ctx.output_dir("model") / "weight.json").write_text('{"weight": 3.0}')
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["WORKBENCH_HOME"] = str(home)
    return env


async def _workbench(home: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workbench", *args, env=_env(home),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    return process.returncode or 0, out.decode(), err.decode()


def _screen_text(app: WorkbenchApp) -> str:
    return app.export_screenshot()


async def test_the_app_and_three_terminals_share_the_catalogue(
    fixed_home: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "project", name="held")
    steps = project / "tinyproj" / "steps.py"
    steps.write_text(steps.read_text() + HELD_TRAIN)
    release = tmp_path / "release"
    workspace = Workspace(load_settings(fixed_home), refresh_s=0.5)
    app = make_app(workspace)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        run = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "workbench", "run", str(project), "--json",
            "--param", f"fail_in={release}", env=_env(fixed_home),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            # Third terminal: `runs ls` sees the run while its owner holds the file.
            run_id, created = "", datetime.min
            for _ in range(240):
                code, out, err = await _workbench(fixed_home, "runs", "ls", "--json")
                assert code == 0, err
                held = [r for r in json.loads(out) if r["project"] == "held"]
                if held and held[0]["status"] == "running":
                    run_id = held[0]["run_id"]
                    created = datetime.fromisoformat(held[0]["created_at"])
                    break
                assert run.returncode is None, "the run ended before it was seen running"
            assert run_id, "the held run never showed up in `runs ls`"
            # The app shows it within 2 s of its creation.
            shown_at = None
            for _ in range(400):
                if run_id[:8] in _screen_text(app):
                    shown_at = utcnow()
                    break
                await pilot.pause(0.05)
            assert shown_at is not None, "the app never showed the new run"
            assert (shown_at - created).total_seconds() <= 2.0
            code, out, err = await _workbench(
                fixed_home, "models", "promote", f"{FRAUD}:3", "staging",
                "--reason", "side by side", "--json",
            )  # fmt: skip
            assert code == 0, err
        finally:
            release.touch()
            _, run_err = await asyncio.wait_for(run.communicate(), timeout=180)
        assert run.returncode == 0, run_err.decode()[-2000:]
        # After the run, its embedded owner is gone and the app reads the file itself again.
        for _ in range(400):
            screen = app.screen
            if "finished" in _screen_text(app) and getattr(screen, "_last_error", None) is None:
                break
            await pilot.pause(0.05)
        assert getattr(app.screen, "_last_error", None) is None
