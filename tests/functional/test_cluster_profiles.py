"""`cluster connect|use|ls|forget` bad input: one line and a hint, exit 2, within a bounded
time, and nothing saved (no Ray needed)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli.main import cli
from workbench.core.settings import Settings


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("a-canary-token-7f3a")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["connect", "Team", "--address", "127.0.0.1:6379"], "cannot name a cluster"),
        (["connect", "local", "--address", "127.0.0.1:6379"], "cannot name a cluster"),
        (["connect", "team", "--address", "ray://head:10001"], "is not a head's address"),
        (["connect", "team", "--address", "head"], "is not a head's address"),
        (["connect", "team", "--address", "head:99999"], "is not a head's address"),
        (["connect", "team", "--address", "127.0.0.1:1"], "cannot reach a Ray head"),
        (["use", "nope"], "no saved cluster named 'nope'"),
        (["forget", "nope"], "no saved cluster named 'nope'"),
        (["forget", "local"], "not a saved profile"),
    ],
)
def test_bad_input_is_one_line_and_a_hint(
    settings: Settings, token_file: Path, args: list[str], words: str
) -> None:
    if args[0] == "connect":
        args = [*args, "--token-file", str(token_file)]
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["cluster", *args])
    assert time.monotonic() - started < 10  # bounded: an unreachable head is no hang
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert words in lines[0]
    assert lines[1].startswith("hint: ")
    assert len(lines) == 2
    assert "a-canary-token-7f3a" not in result.output
    assert not (settings.home / "clusters.json").exists()


def test_a_missing_or_empty_token_file_is_refused(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.touch(mode=0o600)
    for token in (tmp_path / "missing", empty):
        result = CliRunner().invoke(cli, ["cluster", "connect", "team", "--address",
                                          "127.0.0.1:6379", "--token-file", str(token)])  # fmt: skip
        assert result.exit_code == 2
        assert "token file" in result.stderr
    without = CliRunner().invoke(cli, ["cluster", "connect", "team", "--address", "h:1"])
    assert without.exit_code == 2
    assert "--token-file is required" in without.stderr
