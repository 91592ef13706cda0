"""`cluster up` starts a sampler per node that writes the catalogue's telemetry history."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

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
