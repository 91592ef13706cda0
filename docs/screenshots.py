"""Regenerate the README's screenshots: each main screen on the fixed test catalogue.

python docs/screenshots.py          # writes docs/screenshots/*.svg
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.tui.catalogue_fixture import NOW, RUNS, build_fixed_catalogue  # noqa: E402
from workbench.core.settings import load_settings  # noqa: E402
from workbench.tui.app import make_app  # noqa: E402
from workbench.tui.context import Workspace  # noqa: E402
from workbench.tui.screens.base import DataScreen  # noqa: E402
from workbench.tui.screens.run_detail import RunDetailScreen  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SHOTS = (("o", "overview"), ("r", "runs"), ("m", "models"), ("d", "deployments"))


async def _loaded(pilot: Pilot[None], screen: Screen[Any]) -> None:
    """Wait (bounded) until the screen has shown its first read."""
    for _ in range(200):
        await pilot.pause(0.05)
        if isinstance(screen, DataScreen) and screen.loaded_at is not None:
            await pilot.pause(0.2)  # let the charts lay out at their final size
            return


async def main() -> None:
    """Open each screen at 120x40 and save its SVG."""
    home = Path(tempfile.mkdtemp()) / "home"
    build_fixed_catalogue(home)
    app = make_app(Workspace(load_settings(home), now=lambda: NOW, live=False))
    OUT.mkdir(parents=True, exist_ok=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for key, name in SHOTS:
            await pilot.press(key)
            await _loaded(pilot, app.screen)
            app.save_screenshot(str(OUT / f"{name}.svg"))
        await pilot.press("r")
        detail = RunDetailScreen(RUNS[1][0])
        await app.push_screen(detail)
        await _loaded(pilot, detail)
        app.save_screenshot(str(OUT / "run_detail.svg"))
    print(f"wrote {len(SHOTS) + 1} screenshots to {OUT}")  # noqa: T201 - a script reports


if __name__ == "__main__":
    asyncio.run(main())
