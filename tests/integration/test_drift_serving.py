"""Drift on served traffic end to end: real cluster, real Serve over HTTP on 127.0.0.1.

A version profiled from its training table is served; rows posted to it come back from the
catalogue as columns for `drift check`, and the cluster-side scheduler checks on its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from tests.conftest import run_cli
from tests.fixtures.models import holdout_rows, register_fraud, train_fraud_model
from tests.fixtures.waiting import wait_until
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.settings import DRIFT_TICK_ENV, load_settings

pytestmark = [pytest.mark.slow, pytest.mark.ray]


class Served:
    """The module's home, its holdout rows, and calls to the CLI and the endpoint."""

    def __init__(self, home: Path, rows: pd.DataFrame) -> None:
        self.home, self.rows = home, rows

    def cli_json(self, *args: str) -> Any:
        result = run_cli(self.home, *args, "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)

    def post(self, frame: pd.DataFrame) -> requests.Response:
        token = (self.home / "tokens" / "fraud.token").read_text().strip()
        split = json.loads(frame.to_json(orient="split", index=False))
        url = self.cli_json("deployments", "ls")[0]["url"]
        return requests.post(
            f"{url}/invocations",
            json={"dataframe_split": split},
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        )

    def checks(self) -> list[dict[str, Any]]:
        return self.cli_json("drift", "ls", "--deployment", "fraud")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("drift-serving")
    home = root / "home"
    model_dir = train_fraud_model(root / "v1", seed=7)
    settings = load_settings(home)
    settings.home.mkdir(parents=True)
    catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    register_fraud(catalogue, model_dir)
    catalogue.close()
    train_table = root / "v1" / "artifacts" / "train" / "data.parquet"
    previous = os.environ.get(DRIFT_TICK_ENV)
    os.environ[DRIFT_TICK_ENV] = "2"  # the scheduler `serve` starts looks every 2 s
    try:
        assert (
            run_cli(home, "drift", "profile", "fraud:1", "--data", str(train_table)).returncode == 0
        )
        up = run_cli(home, "cluster", "up", "--cpus", "2", "--json")
        assert up.returncode == 0, up.stderr[-2000:]
        serve = run_cli(home, "serve", "fraud:1", "--json")
        assert serve.returncode == 0, serve.stderr[-2000:]
        yield Served(home, holdout_rows(root / "v1", 400))
    finally:
        if previous is None:
            os.environ.pop(DRIFT_TICK_ENV, None)
        else:
            os.environ[DRIFT_TICK_ENV] = previous
        down = run_cli(home, "cluster", "down")
        assert down.returncode == 0, down.stderr[-2000:]


def test_served_rows_reach_a_check_as_columns(served: Served) -> None:
    ids = []
    for start in range(0, 200, 20):
        response = served.post(served.rows.iloc[start : start + 20])
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-request-id"])
    assert len(set(ids)) == 10

    def served_rows() -> Any:
        found = served.cli_json("drift", "check", "fraud:1", "--window", "1h")
        return found if found["current_rows"] >= 200 else None

    same = wait_until(served_rows, 60, "the served rows in the catalogue")
    assert same["deployment"] == "fraud"
    assert same["model"] == "fraud:1"
    assert {f["status"] for f in same["features"]} <= {"ok", "drift"}, same["features"]

    shifted = served.rows.iloc[200:400].copy()
    shifted["amount"] = shifted["amount"] * 20 + 500
    for start in range(0, 200, 50):
        assert served.post(shifted.iloc[start : start + 50]).status_code == 200

    def shifted_check() -> Any:
        found = served.cli_json("drift", "check", "fraud:1", "--window", "1h")
        return found if found["current_rows"] >= 400 else None

    after = wait_until(shifted_check, 60, "the shifted rows in the catalogue")
    amount = next(f for f in after["features"] if f["feature"] == "amount")
    assert amount["status"] == "drift", amount


def test_the_cluster_scheduler_checks_a_deployment(served: Served) -> None:
    assert served.post(served.rows.head(50)).status_code == 200
    before = {c["check_id"] for c in served.checks()}
    made = served.cli_json("drift", "schedule", "fraud", "--every", "1m", "--window", "1h")
    assert made["interval_s"] == 60
    assert made["source"] == "deployment"

    def scheduled() -> Any:
        return [c for c in served.checks() if c["check_id"] not in before]

    found = wait_until(scheduled, 150, "a check by the scheduler")[0]
    assert found["model_name"] == "fraud"
    assert found["deployment"] == "fraud"
    assert found["source"] == "last 1h"
    assert found["current_rows"] > 0
    listed = served.cli_json("drift", "schedule")
    assert [s["deployment"] for s in listed] == ["fraud"]
