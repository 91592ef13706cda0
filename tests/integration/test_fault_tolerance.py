"""Training survives a killed worker; a killed driver is noticed and its run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import run_cli
from tests.fixtures.waiting import wait_until
from workbench.core.entities import RunStatus
from workbench.core.settings import Settings
from workbench.owner import open_catalogue, stop_owner
from workbench.services.pipeline import RunRequest, run_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.ray]

REPO = Path(__file__).resolve().parents[2]
MAINTENANCE = REPO / "sample_projects" / "predictive_maintenance"
# Small enough for CI; 10 epochs (~0.8 s each on a warm cluster) so that a kill ~3 s after
# epoch 1 reached the catalogue still lands mid-run (6 epochs raced it in a full-suite run).
PARAMS = {"n_machines": "400", "epochs": "10", "batch_size": "32"}
# A killed driver's Train workers live on until Ray reaps its job (seconds, more under load):
# enough epochs that they cannot finish the run meanwhile (10 did once, in CI, and the resume
# then had nothing left to train).
DRIVER_KILL_PARAMS = {**PARAMS, "epochs": "30"}


class Quiet:
    def run_started(self, *args: object) -> None: ...
    def step_started(self, *args: object) -> None: ...
    def step_finished(self, *args: object) -> None: ...


def _checkpoints(home: Path) -> list[Path]:
    return sorted(home.glob("runs/*/train/train/checkpoint_*/workbench-checkpoint.json"))


def _busiest_train_worker() -> psutil.Process | None:
    """The Ray Train worker process burning the most CPU: one that is mid-epoch.

    Ray keeps idle worker processes around too, so a process title alone is not enough.
    """
    candidates = []
    for process in psutil.process_iter(["cmdline"]):
        if "RayTrainWorker" in " ".join(process.info["cmdline"] or []):
            candidates.append((process, process.cpu_times()))
    time.sleep(0.5)  # the interval CPU use is measured over, not a wait
    busiest, most = None, 0.0
    for process, before in candidates:
        try:
            after = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        used = (after.user + after.system) - (before.user + before.system)
        if used > most:
            busiest, most = process, used
    return busiest


def _registered_checkpoint(home: Path) -> bool:
    """Whether Ray Train's controller registered a checkpoint: it writes its snapshot then."""
    return any(
        "checkpoint_" in snapshot.read_text()
        for snapshot in home.glob("runs/*/train/**/checkpoint_manager_snapshot.json")
    )


def _train_workers_alive() -> bool:
    return any(
        "RayTrainWorker" in " ".join(p.info["cmdline"] or [])
        for p in psutil.process_iter(["cmdline"])
    )


def _assert_no_duplicate_metric_rows(rows: list[dict[str, object]]) -> None:
    assert rows, "no metrics were logged"
    for row in rows:
        assert row["n"] == row["distinct_steps"], row


@pytest.fixture
def env(ray_cluster: object, settings: Settings) -> Iterator[Settings]:
    yield settings
    stop_owner(settings)


def test_sigkill_a_training_worker_resumes_from_the_checkpoint(env: Settings) -> None:
    killed: list[int] = []
    waited: list[AssertionError] = []

    def killer() -> None:
        # Once Ray Train's controller has registered a checkpoint (its snapshot lists one),
        # kill a worker mid-epoch; a worker may sit idle for a moment, so look until one is busy.
        try:
            wait_until(lambda: _registered_checkpoint(env.home), 240, "a registered checkpoint",
                       step_s=0.2)  # fmt: skip
            worker = wait_until(lambda: _busiest_train_worker() or not _train_workers_alive(),
                                120, "a busy Ray Train worker", step_s=0)  # fmt: skip
        except AssertionError as error:
            waited.append(error)
            return
        if isinstance(worker, psutil.Process):
            worker.send_signal(signal.SIGKILL)
            killed.append(worker.pid)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    result = run_pipeline(env, RunRequest(MAINTENANCE, overrides=PARAMS), Quiet())
    thread.join(timeout=5)
    assert not waited, waited
    assert killed, "no Ray Train worker was found to kill"
    assert result.status == RunStatus.FINISHED
    with open_catalogue(env) as catalogue:
        runs = catalogue.sql("SELECT run_id, status, attempt FROM runs").to_pylist()
        assert runs == [{"run_id": result.run_id, "status": "finished", "attempt": 2}]
        counts = catalogue.sql(
            "SELECT key, count(*) AS n, count(DISTINCT step) AS distinct_steps FROM metrics "
            "GROUP BY key"
        ).to_pylist()
        _assert_no_duplicate_metric_rows(counts)
        epochs = catalogue.metric_history(result.run_id, "val_loss").column("step").to_pylist()
        attempts = (
            catalogue.sql(
                "SELECT DISTINCT attempt FROM metrics WHERE key = 'val_loss' ORDER BY attempt"
            )
            .column("attempt")
            .to_pylist()
        )
    assert epochs == list(range(int(PARAMS["epochs"])))
    # Epochs before the checkpoint are kept from attempt 1; attempt 2 resumed after it.
    assert attempts == [1, 2]


def test_sigkill_the_driver_marks_crashed_then_resume_continues(local_cluster: Path) -> None:
    home = local_cluster
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["WORKBENCH_HOME"] = str(home)
    args = ["run", str(MAINTENANCE)] + [f"--param={k}={v}" for k, v in DRIVER_KILL_PARAMS.items()]
    driver = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    wait_until(lambda: _checkpoints(home) or driver.poll() is not None, 240, "a checkpoint",
               step_s=0.2)  # fmt: skip
    assert driver.poll() is None, "the driver ended before it could be killed"
    checkpoint_step = json.loads(_checkpoints(home)[-1].read_text())["step"]
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    killed_at = time.time()

    def crashed_run() -> dict[str, Any] | None:
        listed = run_cli(home, "runs", "ls", "--json")
        assert listed.returncode == 0, listed.stderr[-2000:]
        run: dict[str, Any] = json.loads(listed.stdout)[0]
        return run if run["status"] == "crashed" else None

    run = wait_until(crashed_run, 45, "the run marked crashed", step_s=2)
    run_id = run["run_id"]
    # When the catalogue marked it (ended_at, naive UTC), not when this loop noticed.
    marked = datetime.fromisoformat(run["ended_at"]).replace(tzinfo=UTC).timestamp()
    crashed_after = marked - killed_at
    assert 0 < crashed_after <= 30, f"marked crashed {crashed_after:.1f}s after the kill"

    resumed = run_cli(home, "run", str(MAINTENANCE), "--resume", str(run_id), "--json")
    assert resumed.returncode in (0, 1), resumed.stderr[-3000:]  # 1: the gate may reject
    assert resumed.stdout, resumed.stderr[-3000:]
    outcome = json.loads(resumed.stdout)
    assert outcome["run_id"] == run_id
    assert outcome["status"] == "finished"
    assert outcome["attempt"] == 2
    assert outcome["steps"] == {"prepare": "resumed", "train": "ran", "evaluate": "ran"}
    query = (
        "SELECT key, count(*) AS n, count(DISTINCT step) AS distinct_steps, "
        "min(step) FILTER (WHERE attempt = 2) AS first_resumed FROM metrics "
        "WHERE key IN ('loss', 'val_loss', 'val_auc') GROUP BY key"
    )
    rows = json.loads(run_cli(home, "catalogue", "sql", query, "--json").stdout)
    _assert_no_duplicate_metric_rows(rows)
    for row in rows:
        assert row["n"] == int(DRIVER_KILL_PARAMS["epochs"])
        # Training continued from the checkpoint, not from epoch 0.
        assert row["first_resumed"] is not None
        assert row["first_resumed"] > checkpoint_step - 1
        assert row["first_resumed"] >= 1
