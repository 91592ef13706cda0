"""Commands change Serve through the serve agent, a detached actor on the cluster: a traffic
change from the CLI never loads Ray Serve itself, and a killed agent is made again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli
from tests.integration.test_serving_faults import _serve, cluster_home  # noqa: F401 - a fixture

pytestmark = [pytest.mark.slow, pytest.mark.ray]

KILL_AGENTS = """
from workbench.compute.cluster import connect
from workbench.core.settings import load_settings
connect(load_settings())  # before Ray's import: it sets the token auth mode Ray reads then
import ray
killed = 0
for found in ray.util.list_named_actors(all_namespaces=True):
    if found["name"].startswith("serve-agent-"):
        ray.kill(ray.get_actor(found["name"], namespace=found["namespace"]), no_restart=True)
        killed += 1
print(killed)
"""


def _primary(home: Path, name: str) -> int:
    listed = run_cli(home, "deployments", "ls", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    found = next(d for d in json.loads(listed.stdout) if d["name"] == name)
    return int(next(v["version"] for v in found["versions"] if v["role"] == "primary"))


def test_a_traffic_change_loads_no_serve_in_the_command(cluster_home: Path) -> None:  # noqa: F811
    _serve(cluster_home, "agent-imports")
    env = cli_env(cluster_home)
    promoted = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "workbench.cli",
         "deployments", "promote", "agent-imports"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr[-3000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in promoted.stderr.splitlines()
                if line.startswith("import time:")]  # fmt: skip
    assert "ray" in imported  # it did join the cluster
    assert not [name for name in imported if name.startswith("ray.serve")]
    assert _primary(cluster_home, "agent-imports") == 2


def test_a_killed_agent_is_made_again_by_the_next_change(cluster_home: Path) -> None:  # noqa: F811
    _serve(cluster_home, "agent-killed")
    env = cli_env(cluster_home)
    killed = subprocess.run([sys.executable, "-c", KILL_AGENTS], capture_output=True, text=True,
                            env=env, timeout=120, check=False)  # fmt: skip
    assert killed.returncode == 0, killed.stderr[-3000:]
    assert int(killed.stdout.strip()) >= 1  # `_serve` went through one
    promoted = run_cli(cluster_home, "deployments", "promote", "agent-killed")
    assert promoted.returncode == 0, promoted.stderr[-3000:]
    assert _primary(cluster_home, "agent-killed") == 2
