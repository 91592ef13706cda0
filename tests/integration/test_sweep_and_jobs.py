"""Sweeps on Ray Tune, detached runs through the Ray Jobs API, cancel, the demo, the cluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.projects import write_project
from tests.fixtures.waiting import wait_until
from workbench.core.errors import InvalidInputError
from workbench.core.settings import Settings
from workbench.owner import open_catalogue, stop_owner
from workbench.services.sweep import SweepRequest, run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.ray]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(ray_cluster: object, settings: Settings) -> Iterator[Settings]:
    yield settings
    stop_owner(settings)


def test_sweep_runs_trials_as_child_runs_and_marks_the_best(env: Settings, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj")
    request = SweepRequest(
        project, {"scale": "uniform(0.1, 1.0)", "rows": "120"}, trials=4, concurrency=2, seed=3
    )
    result = run_sweep(env, request)
    assert len(result.trials) == 4
    scores = {t["run_id"]: t["metrics"]["score"] for t in result.trials}
    assert result.best is not None
    assert result.best["metrics"]["score"] == max(scores.values())
    with open_catalogue(env) as catalogue:
        parent = catalogue.get_run(result.run_id)
        children = catalogue.search_runs(where=f"parent_run_id = '{result.run_id}'", limit=10)
        spans = catalogue.sql(
            "SELECT started_at, ended_at FROM runs WHERE kind = 'trial' ORDER BY started_at"
        ).to_pylist()
    assert parent.kind == "sweep"
    assert parent.status == "finished"
    assert parent.tags["best_run_id"] == result.best["run_id"]
    assert parent.metrics["score"] == result.best["metrics"]["score"]
    assert {c.run_id for c in children} == set(scores)
    assert all(c.kind == "trial" and c.params["rows"] == "120" for c in children)
    assert [c.run_id for c in children if c.tags.get("best_trial") == "true"] == [
        result.best["run_id"]
    ]
    # Concurrency is bounded: never more than 2 trials running at the same moment.
    events = sorted([(s["started_at"], 1) for s in spans] + [(s["ended_at"], -1) for s in spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak <= 2
    # Trials share the prepare step through the cache: it ran once.
    with open_catalogue(env) as catalogue:
        ran = catalogue.sql(
            "SELECT count(*) AS n FROM pipeline_runs WHERE step = 'prepare' AND NOT cached"
        ).to_pylist()
    assert ran[0]["n"] <= 2  # two trials may start before either has cached it


def test_sweep_rejects_a_bad_space(env: Settings, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj")
    for items, message in [
        ({"rows": "200"}, "nothing to sweep"),
        ({"scale": "loguniform(0, 1)"}, "invalid range"),
        ({"fail_in": "uniform(1, 2)"}, "str parameter"),
        ({"nope": "uniform(1, 2)"}, "unknown parameter 'nope'"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            run_sweep(env, SweepRequest(project, items, trials=2))
    assert not env.catalogue_path.exists()


def _wait_status(home: Path, run_id: str, wanted: set[str], timeout: float = 240) -> str:
    def status_wanted() -> str | None:
        shown = run_cli(home, "runs", "show", run_id, "--json")
        assert shown.returncode == 0, shown.stderr[-2000:]
        status: str = json.loads(shown.stdout)["status"]
        return status if status in wanted else None

    return wait_until(status_wanted, timeout, f"run {run_id} to be {' or '.join(sorted(wanted))}",
                      step_s=2)  # fmt: skip


def test_detached_run_finishes_without_the_cli_and_cancel_stops_one(
    local_cluster: Path, tmp_path: Path
) -> None:
    home = local_cluster
    status = json.loads(run_cli(home, "cluster", "status", "--json").stdout)
    assert status["up"] is True
    assert status["resources"]["CPU"] == 2
    project = write_project(tmp_path / "proj")
    submitted = run_cli(home, "run", str(project), "--detach", "--json")
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    first = json.loads(submitted.stdout)
    assert first["status"] == "queued"
    assert _wait_status(home, first["run_id"], {"finished", "failed"}) == "finished"

    slow = run_cli(
        home, "run", str(REPO / "sample_projects" / "fraud_detection"), "--detach", "--json",
        "--param", "n_rows=150000", "--param", "n_estimators=400",
    )  # fmt: skip
    assert slow.returncode == 0, slow.stderr[-2000:]
    second = json.loads(slow.stdout)["run_id"]
    assert _wait_status(home, second, {"running"}) == "running"
    cancelled = run_cli(home, "runs", "cancel", second)
    assert cancelled.returncode == 0, cancelled.stderr[-2000:]
    shown = json.loads(run_cli(home, "runs", "show", second, "--json").stdout)
    assert shown["status"] == "cancelled"
    assert all(step["status"] != "running" for step in shown["steps"])
    again = run_cli(home, "runs", "cancel", second)
    assert again.returncode == 2
    assert "already cancelled" in again.stderr


def test_run_against_a_cluster_that_is_down_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    home.mkdir(parents=True)
    (home / "cluster.json").write_text(
        json.dumps({"address": "127.0.0.1:1", "dashboard_url": "http://127.0.0.1:2",
                    "process_group": 2**22 + 12345, "cpus": 2, "gpus": 0,
                    "started_at": "2026-01-01T00:00:00+00:00"})
    )  # fmt: skip
    result = run_cli(home, "run", str(write_project(tmp_path / "proj")))
    assert result.returncode == 2
    assert "the cluster at 127.0.0.1:1 is down" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (home / "catalogue.duckdb").exists()


def test_demo_trains_evaluates_and_registers_v1(home: Path) -> None:
    result = run_cli(home, "demo", "--no-tui", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "registered fraud v1" in result.stdout
    assert "gate passed" in result.stdout
    listed = json.loads(run_cli(home, "runs", "ls", "--json").stdout)
    assert len(listed) == 1
    assert listed[0]["status"] == "finished"
    assert listed[0]["metrics"]["auc"] >= 0.9
