"""Opening the app stays light: no Ray, MLflow, Docker or torch before (or at) first paint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent(
    """
    import asyncio, json, sys
    from workbench.core.settings import load_settings
    from workbench.tui.app import make_app
    from workbench.tui.context import Workspace

    async def main():
        app = make_app(Workspace(load_settings(sys.argv[1]), live=False))
        async with app.run_test(size=(120, 40)) as pilot:
            for key in "ormdpcf":
                await pilot.press(key)
                for _ in range(200):
                    await pilot.pause(0.05)
                    if getattr(app.screen, "loaded_at", None) is not None:
                        break
        heavy = ("ray", "mlflow", "docker", "torch", "sklearn")
        print(json.dumps(sorted(m for m in heavy if m in sys.modules)))

    asyncio.run(main())
    """
)


def test_no_engine_is_imported_by_opening_every_screen(fixed_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(fixed_home)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
