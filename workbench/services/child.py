"""Run a `workbench` command in a child process, for front ends that must not join Ray.

A Ray driver is bound to its cluster: when the cluster goes away the driver process is
ended with it. The TUI is long-lived and must survive `cluster down` and the end of an
embedded run, so actions that need Ray (serve, cluster up/down, launching a pipeline)
run here, in a child, and come back as the command's `--json` document or its error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.core.errors import WorkbenchError
from workbench.core.settings import Settings


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of a child `workbench`: ours, pointed at the same home."""
    return {**os.environ, "WORKBENCH_HOME": str(settings.home)}


def workbench_command(*args: str) -> list[str]:
    """argv of `workbench ARGS` with this interpreter (works without the console script)."""
    return [sys.executable, "-m", "workbench", *args]


def run_json(settings: Settings, *args: str, timeout_s: float = 600.0) -> Any:
    """Run `workbench ARGS --json` and return its JSON; its error becomes a WorkbenchError."""
    try:
        done = subprocess.run(
            workbench_command(*args, "--json"),
            env=child_env(settings),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WorkbenchError(
            f"`workbench {' '.join(args)}` did not finish within {timeout_s:.0f} s",
            "run it in a terminal to see where it waits",
            exit_code=1,
        ) from None
    if done.returncode != 0:
        message, hint = _error_lines(done.stderr)
        raise WorkbenchError(message, hint, exit_code=done.returncode)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise WorkbenchError(
            f"`workbench {' '.join(args)}` printed no JSON", done.stdout.strip()[:200], exit_code=1
        ) from None


def start_detached(settings: Settings, log_file: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start `workbench ARGS` in its own session, output to `log_file`; it outlives the caller."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            workbench_command(*args),
            env=child_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


LAUNCH_LOGS = "logs"
"""Under the home: where runs launched from the app write their output."""


def launch_log(settings: Settings, project: str, at: datetime) -> Path:
    """Where a run of `project` launched at `at` writes its output."""
    return settings.home / LAUNCH_LOGS / f"run-{project}-{at:%Y%m%dT%H%M%S%f}.log"


def launch_logs(settings: Settings, project: str) -> list[Path]:
    """Every launch log of `project`, in any order."""
    return list((settings.home / LAUNCH_LOGS).glob(f"run-{project}-*.log"))


def _error_lines(stderr: str) -> tuple[str, str]:
    """The CLI's `error: ...` and `hint: ...` lines, else the last line of stderr."""
    message = hint = ""
    for line in stderr.splitlines():
        if line.startswith("error: "):
            message = line.removeprefix("error: ").strip()
        elif line.startswith("hint: "):
            hint = line.removeprefix("hint: ").strip()
    if not message:
        lines = [line for line in stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else "the command failed without a message"
    return message, hint
