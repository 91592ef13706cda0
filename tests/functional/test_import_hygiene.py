"""Commands that need no engine must not import one (ARCHITECTURE.md: fast, offline CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("ray", "mlflow", "textual", "torch", "docker", "pynvml")
_PROBE = """
import json, sys
from workbench.cli.main import cli
try:
    cli(sys.argv[1:], prog_name="workbench")
except SystemExit as exit:
    code = exit.code
heavy = [m for m in {heavy!r} if m in sys.modules]
with open({out!r}, "w") as f:
    json.dump({{"code": code, "heavy": heavy, "duckdb": "duckdb" in sys.modules}}, f)
"""


def _loaded(args: list[str], home: Path, tmp_path: Path) -> dict[str, object]:
    out = tmp_path / "probe.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["WORKBENCH_HOME"] = str(home)
    subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY, out=str(out)), *args],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    result: dict[str, object] = json.loads(out.read_text())
    return result


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["runs", "ls"],
        ["runs", "ls", "--json"],
        ["catalogue", "sql", "SELECT 1"],
        ["version"],
        ["catalogue", "path"],
        ["run", "--help"],
        ["sweep", "--help"],
        ["demo", "--help"],
        ["cluster", "status"],
        ["runs", "show", "--help"],
        ["models", "ls"],
        ["audit", "ls"],
        ["package", "--help"],
        ["package", "build", "--help"],
        ["package", "run", "--help"],
        ["package", "ls", "--help"],
        ["serve", "--help"],
        ["deployments", "ls"],
        ["deployments", "show", "--help"],
        ["predict", "--help"],
    ],
)
def test_no_engine_imported(args: list[str], home: Path, tmp_path: Path) -> None:
    probe = _loaded(args, home, tmp_path)
    assert probe["code"] in (0, None)
    assert probe["heavy"] == []


def test_help_does_not_even_import_duckdb(home: Path, tmp_path: Path) -> None:
    assert _loaded(["--help"], home, tmp_path)["duckdb"] is False
