"""Deployments outlive nothing silently: after `cluster down` or a killed head, `deployments ls`
says so, `predict` says so in one line, and `serve` works again on a new cluster."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.waiting import wait_until
from tests.integration.test_serving_faults import register_sleepy_models

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _cli(home: Path, *args: str) -> str:
    result = run_cli(home, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _statuses(home: Path) -> dict[str, str]:
    listed = json.loads(_cli(home, "deployments", "ls", "--json"))
    return {d["name"]: d["status"] for d in listed}


def _predict_refused(home: Path, status: str) -> None:
    refused = run_cli(home, "predict", "sleepy", "--input", str(home.parent / "rows.json"))
    assert refused.returncode != 0
    assert f"deployment 'sleepy' is {status}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len([line for line in refused.stderr.splitlines() if line.startswith("error")]) == 1


def _serve_and_predict(home: Path) -> None:
    _cli(home, "serve", "sleepy:2", "--no-auth")
    assert _statuses(home) == {"sleepy": "running"}
    answer = json.loads(
        _cli(home, "predict", "sleepy", "--input", str(home.parent / "rows.json"), "--json")
    )
    assert answer["predictions"] == [2]


def test_deployments_show_cluster_down_and_a_killed_head(tmp_path: Path) -> None:
    home = tmp_path / "home"
    register_sleepy_models(tmp_path, home)
    (tmp_path / "rows.json").write_text(json.dumps({"dataframe_records": [{"seconds": 0.0}]}))
    _cli(home, "cluster", "up", "--cpus", "2")
    try:
        _serve_and_predict(home)
        down = run_cli(home, "cluster", "down")
        assert down.returncode == 0, down.stderr[-2000:]
        assert down.stderr == ""  # nothing but Workbench's own line
        assert down.stdout.startswith("cluster at 127.0.0.1:")
        assert down.stdout.count("\n") == 1
        assert _statuses(home) == {"sleepy": "stopped"}
        _predict_refused(home, "stopped")

        _cli(home, "cluster", "up", "--cpus", "2")
        _serve_and_predict(home)
        profile = json.loads((home / "cluster.json").read_text())
        os.killpg(profile["process_group"], signal.SIGKILL)  # the head crashes
        wait_until(lambda: _statuses(home) == {"sleepy": "unreachable"}, 30, "unreachable")
        _predict_refused(home, "unreachable")

        _cli(home, "cluster", "down")  # forgets the dead head
        _cli(home, "cluster", "up", "--cpus", "2")
        assert _statuses(home) == {"sleepy": "unreachable"}  # it ran on the head that died
        _serve_and_predict(home)
    finally:
        run_cli(home, "cluster", "down")
