"""Two nodes on this machine (a head from `cluster up` and a second `ray start --address`, as
Ray's own multi-node tests run them): training spreads over both and survives the second
node's removal, a deployment puts a replica on each, telemetry sees both, and there is one
catalogue owner."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_env, run_cli
from tests.fixtures.heads import kill_group, worker_node
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.ray]

REPO = Path(__file__).resolve().parents[2]
MAINTENANCE = REPO / "sample_projects" / "predictive_maintenance"
# Long enough that both workers are seen and attributed before the second node goes.
PARAMS = ["--param", "n_machines=400", "--param", "epochs=25", "--param", "batch_size=32"]


@pytest.fixture
def head(home: Path) -> Iterator[dict[str, Any]]:
    up = run_cli(home, "cluster", "up", "--cpus", "1", "--json")
    assert up.returncode == 0, up.stderr[-2000:]
    try:
        yield json.loads(up.stdout)
    finally:
        run_cli(home, "cluster", "down")


def _status(home: Path) -> dict[str, Any]:
    done = run_cli(home, "cluster", "status", "--json")  # also starts samplers on new nodes
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout))


def _alive_nodes(home: Path) -> int:
    return sum(1 for node in _status(home)["node_details"] if node["alive"])


def _telemetry_nodes(home: Path) -> int:
    done = run_cli(home, "telemetry", "--json")
    found = json.loads(done.stdout)
    return len(found["nodes"]) if found["source"] == "cluster" else 0


def _sql(home: Path, query: str) -> list[dict[str, Any]]:
    done = run_cli(home, "catalogue", "sql", query, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return list(json.loads(done.stdout))


def _actors(dashboard: str) -> list[dict[str, Any]]:
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    done = subprocess.run(
        ["ray", "list", "actors", "--address", dashboard, "--filter", "state=ALIVE",
         "--format", "json", "--limit", "1000"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return list(json.loads(done.stdout))


def test_two_nodes_train_serve_and_lose_one(
    head: dict[str, Any], home: Path, tmp_path: Path
) -> None:
    address, dashboard = head["address"], head["dashboard_url"]
    with worker_node(address, tmp_path / "node2.log") as second:
        wait_until(lambda: _alive_nodes(home) == 2, 90, "the second node to join", 1.0)
        wait_until(lambda: _telemetry_nodes(home) == 2, 90, "telemetry from both nodes", 1.0)

        run = subprocess.Popen(
            ["workbench", "run", str(MAINTENANCE), *PARAMS, "--json"],
            env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            # One CPU a node and a worker a CPU: the two Train workers sit on both nodes,
            # and each node's sampler attributes its worker to the run.
            spread = (
                "SELECT count(DISTINCT node_id) AS n FROM telemetry_processes WHERE run_id IN "
                "(SELECT run_id FROM runs WHERE status = 'running') AND cpu_percent > 20"
            )
            wait_until(lambda: _sql(home, spread)[0]["n"] == 2, 240,
                       "busy training workers attributed on both nodes", 1.0)  # fmt: skip
            kill_group(second)  # the second node goes, mid-run
            with worker_node(address, tmp_path / "node3.log"):  # and a third takes its place
                out, err = run.communicate(timeout=600)
                assert run.returncode == 0, err[-3000:]
                assert out.startswith("{"), (out[:3000], err[-3000:])  # --json: JSON alone
                result = json.loads(out)
                shown = json.loads(run_cli(home, "runs", "show", result["run_id"], "--json").stdout)
                assert (shown["status"], shown["attempt"]) == ("finished", 2)

                served = run_cli(home, "serve", "maintenance:1", "--replicas", "2", "--json")
                assert served.returncode == 0, served.stderr[-2000:]
                actors = _actors(dashboard)
                replicas = [a for a in actors if str(a["class_name"]).startswith("ServeReplica:")]
                assert len(replicas) == 2
                assert len({a["node_id"] for a in replicas}) == 2, replicas
                owners = [a for a in actors if str(a.get("name") or "").startswith("catalogue-")]
                assert len(owners) == 1, owners
        finally:
            if run.poll() is None:
                run.kill()
