"""`cluster up` starts a sampler per node that writes the catalogue's telemetry history."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_cli
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def test_cluster_up_samples_into_the_catalogue(local_cluster: Path) -> None:
    home = local_cluster
    deadline = time.monotonic() + 90
    found: dict[str, object] = {}
    while time.monotonic() < deadline:  # the first batch lands after a few seconds
        done = run_cli(home, "telemetry", "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        found = json.loads(done.stdout)
        if found["source"] == "cluster":
            break
    assert found["source"] == "cluster", found
    nodes = found["nodes"]
    assert isinstance(nodes, list)
    assert len(nodes) == 1
    assert 0.0 <= nodes[0]["cpu_percent"] <= 100.0
    assert nodes[0]["mem_total_bytes"] > 0
    history = run_cli(home, "telemetry", "history", "--since", "10m", "--json")
    assert history.returncode == 0, history.stderr[-2000:]
    assert json.loads(history.stdout)["nodes"], history.stdout


BURN_SPEC = """
[project]
name = "burner"

[params]
stop_file = { type = "str", default = "", help = "the step burns CPU until this file exists" }

[[steps]]
name = "burn"
function = "burner.steps:burn"
params = ["stop_file"]
"""
BURN_STEPS = """
import time
from pathlib import Path


def burn(ctx):
    stop, deadline = Path(ctx.params["stop_file"]), time.monotonic() + 180
    while not stop.exists() and time.monotonic() < deadline:
        sum(range(10_000))
"""


def _attributed_busy_samples(home: Path, run_id: str) -> int:
    query = (
        "SELECT count(*) AS n FROM telemetry_processes "
        f"WHERE run_id = '{run_id}' AND cpu_percent > 50"
    )
    done = run_cli(home, "catalogue", "sql", query, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return int(json.loads(done.stdout)[0]["n"])


def test_a_runs_step_is_attributed_to_it_on_a_live_cluster(
    local_cluster: Path, tmp_path: Path
) -> None:
    """The whole chain, live: the run's driver in the catalogue, Ray's state API, the node's
    sampler actor reading the step's worker, its samples stored against the run, and
    `runs show` summing them."""
    home = local_cluster
    project = tmp_path / "burner"
    (project / "burner").mkdir(parents=True)
    (project / "workbench.toml").write_text(BURN_SPEC)
    (project / "burner" / "__init__.py").write_text("")
    (project / "burner" / "steps.py").write_text(BURN_STEPS)
    stop = tmp_path / "stop"
    run = subprocess.Popen(
        ["workbench", "run", str(project), "--param", f"stop_file={stop}", "--json"],
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = wait_until(lambda: _running_run(home), 90, "the run to start", 0.5)
        # New workers join the sampler's pid list within 10 s, attribution within 5 s more.
        wait_until(lambda: _attributed_busy_samples(home, run_id) >= 3, 120,
                   "busy samples attributed to the run", 1.0)  # fmt: skip
    finally:
        stop.touch()
        out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err[-2000:]
    assert json.loads(out)["run_id"] == run_id
    shown = run_cli(home, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr[-2000:]
    resources = json.loads(shown.stdout)["resources"]
    assert resources["samples"] >= 3
    assert resources["cpu_hours"] > 0
    assert resources["peak_memory_bytes"] > 0


def _running_run(home: Path) -> str | None:
    done = run_cli(home, "runs", "ls", "--status", "running", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads(done.stdout)
    return str(runs[0]["run_id"]) if runs else None
