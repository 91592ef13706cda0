"""The real `workbench` command in a pseudo-terminal, driven as a person would.

pexpect runs it on a pty of 120x40; pyte plays the terminal, so the test reads the
screen the user would see, presses keys, and quits.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest

pytestmark = pytest.mark.slow

COLUMNS, LINES = 120, 40


class Terminal:
    """A pty running `workbench` and the screen it draws."""

    def __init__(self, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env.update(WORKBENCH_HOME=str(home), TERM="xterm-256color")
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        self.screen = pyte.Screen(COLUMNS, LINES)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            sys.executable, ["-m", "workbench"], env=env, dimensions=(LINES, COLUMNS)
        )

    def text(self) -> str:
        """What is on the screen now."""
        return "\n".join(self.screen.display)

    def wait_for(self, needle: str, timeout_s: float = 30.0) -> str:
        """Read output until `needle` is on screen; fail with the screen if it never is."""
        deadline = time.monotonic() + timeout_s
        while needle not in self.text():
            if time.monotonic() > deadline:
                pytest.fail(f"{needle!r} never appeared; the screen:\n{self.text()}")
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.2))
            except pexpect.TIMEOUT:
                continue
        return self.text()

    def press(self, keys: str) -> None:
        """Type keys as a person would."""
        self.child.send(keys)


def test_workbench_on_a_terminal_opens_the_app_and_q_quits(fixed_home: Path) -> None:
    terminal = Terminal(fixed_home)
    try:
        screen = terminal.wait_for("Workbench · Overview")
        assert "q Quit" in screen
        terminal.press("r")
        terminal.wait_for("Workbench · Runs")
        terminal.wait_for("fraud_detection")
        terminal.press("m")
        terminal.wait_for("Workbench · Models")
        terminal.press("q")
        terminal.child.expect(pexpect.EOF, timeout=15)
    finally:
        terminal.child.close(force=True)
    assert terminal.child.exitstatus == 0


def test_workbench_without_a_terminal_prints_help(fixed_home: Path) -> None:
    env = {**os.environ, "WORKBENCH_HOME": str(fixed_home)}
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "workbench"], env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert "Usage: workbench" in done.stdout
