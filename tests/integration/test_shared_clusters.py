"""Shared clusters as profiles against real heads: `cluster connect` checks reachability, the
token and token authentication itself; the profile is used with its own token file; a head
without token authentication is refused unless --insecure, which then warns every time."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.heads import bare_head
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """The token of every head on this machine (Ray's ~/.ray/auth_token), in a 0600 copy."""
    copy = tmp_path / "team_token"
    copy.write_text((Path.home() / ".ray" / "auth_token").read_text())
    copy.chmod(0o600)
    return copy


@pytest.fixture
def open_head(tmp_path: Path) -> Iterator[str]:
    with bare_head(tmp_path / "open-head.log", auth=False) as address:
        yield address


def test_connect_checks_the_head_then_commands_use_its_token(
    local_cluster: Path, tmp_path: Path, token_file: Path
) -> None:
    shared = json.loads((local_cluster / "cluster.json").read_text())["address"]
    member = tmp_path / "member"  # another user's home: this head is not theirs
    wrong = tmp_path / "wrong_token"
    wrong.write_text("not-the-token")
    wrong.chmod(0o600)
    refused = run_cli(member, "cluster", "connect", "team", "--address", shared,
                      "--token-file", str(wrong))  # fmt: skip
    assert refused.returncode == 2
    assert f"the cluster at {shared} refused the token" in refused.stderr
    token_file.chmod(0o644)
    loose = run_cli(member, "cluster", "connect", "team", "--address", shared,
                    "--token-file", str(token_file))  # fmt: skip
    assert loose.returncode == 2
    assert "can be read by others" in loose.stderr
    token_file.chmod(0o600)

    done = run_cli(member, "cluster", "connect", "team", "--address", shared,
                   "--token-file", str(token_file), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["name"] == "team"
    assert oct((member / "clusters.json").stat().st_mode & 0o777) == "0o600"
    status = run_cli(member, "cluster", "status", "--json")
    assert status.returncode == 0, status.stderr[-2000:]
    document = json.loads(status.stdout)
    assert (document["up"], document["name"], document["remote"]) == (True, "team", True)
    assert document["resources"]["CPU"] == 2  # the head's, reached with the profile's token
    assert document["warnings"] == []  # its dashboard and Serve proxy are on 127.0.0.1
    listed = json.loads(run_cli(member, "cluster", "ls", "--json").stdout)
    assert [(r["name"], r["current"], r["up"]) for r in listed] == [("local", False, False),
                                                                   ("team", True, True)]  # fmt: skip
    down = run_cli(member, "cluster", "down")
    assert down.returncode == 2
    assert "is shared: Workbench does not stop it" in down.stderr
    token = token_file.read_text().strip()
    for result in (refused, loose, done, status, down):
        assert token not in result.stdout + result.stderr
    assert token not in (member / "clusters.json").read_text()
    assert run_cli(member, "cluster", "use", "local").returncode == 0
    assert run_cli(member, "cluster", "forget", "team").returncode == 0
    assert json.loads(run_cli(member, "cluster", "ls", "--json").stdout)[0]["current"] is True


def test_a_head_without_token_auth_is_refused_unless_insecure(
    open_head: str, home: Path, token_file: Path
) -> None:
    refused = run_cli(home, "cluster", "connect", "open", "--address", open_head,
                      "--token-file", str(token_file))  # fmt: skip
    assert refused.returncode == 2
    assert "checks no token: anyone who reaches it can run code on it" in refused.stderr
    assert not (home / "clusters.json").exists()
    accepted = run_cli(home, "cluster", "connect", "open", "--address", open_head, "--insecure")
    assert accepted.returncode == 0, accepted.stderr[-2000:]
    assert "warning: cluster open checks no token" in accepted.stderr
    for _ in range(2):  # every time, not once
        status = run_cli(home, "cluster", "status", "--json")
        assert status.returncode == 0, status.stderr[-2000:]
        assert "warning: cluster open at" in status.stderr
        assert json.loads(status.stdout)["insecure"] is True
    listed = run_cli(home, "cluster", "ls")
    assert "NONE (insecure)" in listed.stdout


def test_a_dashboard_on_every_interface_is_a_warning(tmp_path: Path, token_file: Path) -> None:
    home = tmp_path / "home"
    with bare_head(tmp_path / "exposed-head.log", auth=True, dashboard_host="0.0.0.0") as address:
        done = run_cli(home, "cluster", "connect", "exposed", "--address", address,
                       "--token-file", str(token_file))  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        status = run_cli(home, "cluster", "status", "--json")
        assert status.returncode == 0, status.stderr[-2000:]
        warnings = json.loads(status.stdout)["warnings"]
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith("the dashboard listens on 0.0.0.0:")
        text = run_cli(home, "cluster", "status")
        assert "warning: the dashboard listens on 0.0.0.0:" in text.stderr


SHIPPED_SPEC = """
[project]
name = "shipped"

[params]
how = { type = "str", default = "attached", help = "a new value runs the step again" }

[[steps]]
name = "where"
function = "shipped_steps:where"
outputs = ["where"]
params = ["how"]
"""
SHIPPED_STEPS = """
import json
from pathlib import Path


def where(ctx):
    here = Path(__file__).resolve()
    found = {"file": str(here), "secret_shipped": (here.parent / "secret.txt").exists()}
    (ctx.output_dir("where") / "where.json").write_text(json.dumps(found))
"""


def _shipped_project(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "workbench.toml").write_text(SHIPPED_SPEC)
    (root / "shipped_steps.py").write_text(SHIPPED_STEPS)
    (root / ".gitignore").write_text("secret.txt\n")
    (root / "secret.txt").write_text("never leaves this machine")
    return root


def _where(member: Path, run_id: str) -> dict[str, object]:
    from workbench.core.settings import load_settings

    found = load_settings(member).run_dir(run_id) / "artifacts" / "where" / "where.json"
    return dict(json.loads(found.read_text()))


def test_a_run_on_a_shared_cluster_ships_the_project_to_its_workers(
    local_cluster: Path, tmp_path: Path, token_file: Path
) -> None:
    """Attached and detached: the step's code is imported from the copy Ray unpacked for the
    job (not the driver's folder), and what .gitignore names stays behind."""
    shared = json.loads((local_cluster / "cluster.json").read_text())["address"]
    member = tmp_path / "member"
    done = run_cli(member, "cluster", "connect", "team", "--address", shared,
                   "--token-file", str(token_file), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["dashboard_url"].startswith("http://127.0.0.1:")
    project = _shipped_project(tmp_path / "project")

    attached = run_cli(member, "run", str(project), "--json")
    assert attached.returncode == 0, attached.stderr[-2000:]
    seen = _where(member, json.loads(attached.stdout)["run_id"])
    assert "runtime_resources" in str(seen["file"]), seen
    assert not str(seen["file"]).startswith(str(project)), seen
    assert seen["secret_shipped"] is False

    detached = run_cli(member, "run", str(project), "--detach", "--param", "how=detached", "--json")
    assert detached.returncode == 0, detached.stderr[-2000:]
    run_id = json.loads(detached.stdout)["run_id"]

    def ended() -> str | None:
        shown = json.loads(run_cli(member, "runs", "show", run_id, "--json").stdout)
        return str(shown["status"]) if shown["status"] not in ("queued", "running") else None

    assert wait_until(ended, 180, "the detached run to end", 1.0) == "finished"
    seen = _where(member, run_id)
    assert "runtime_resources" in str(seen["file"]), seen
    assert seen["secret_shipped"] is False
    # Its driver's output, through the Jobs API: all of it, and followed to the job's end.
    for follow in ((), ("--follow",)):
        logs = run_cli(member, "runs", "logs", run_id, *follow, timeout=120)
        assert logs.returncode == 0, logs.stderr[-2000:]
        assert f"finished run {run_id}" in logs.stdout
    # The token travels in no job's metadata, entrypoint or runtime environment.
    dashboard = json.loads(done.stdout)["dashboard_url"]
    jobs = subprocess.run(["ray", "job", "list", "--address", dashboard],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "RAY_AUTH_MODE": "token"})  # fmt: skip
    assert jobs.returncode == 0, jobs.stderr[-2000:]
    assert f"workbench-{run_id[:12]}" in jobs.stdout
    assert token_file.read_text().strip() not in jobs.stdout + jobs.stderr
    kept_none = run_cli(member, "runs", "logs", json.loads(attached.stdout)["run_id"])
    assert kept_none.returncode == 2
    assert "no log kept" in kept_none.stderr
