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

import psutil
import pytest

from tests.conftest import run_cli
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
    time.sleep(0.5)
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

    def killer() -> None:
        # Wait until epoch 1 is in the catalogue (so epoch 0's checkpoint was reported) and
        # long enough for Ray Train's controller to have registered it, then kill mid-epoch.
        deadline = time.time() + 240
        catalogue = None
        while time.time() < deadline:
            time.sleep(0.3)
            if catalogue is None and env.catalogue_path.exists():
                catalogue = open_catalogue(env)
            if catalogue is None:
                continue
            seen = catalogue.sql("SELECT max(step) AS s FROM metrics WHERE key = 'val_loss'")
            if (seen.to_pylist()[0]["s"] or 0) >= 1:
                break
        time.sleep(1.5)  # Ray Train's controller registers the reported checkpoint
        # A worker may sit idle for a moment (between epochs, reporting): look again until
        # one is busy, while training still runs.
        while time.time() < deadline and not killed:
            worker = _busiest_train_worker()
            if worker is not None:
                worker.send_signal(signal.SIGKILL)
                killed.append(worker.pid)
            elif not _train_workers_alive():
                break
        if catalogue is not None:
            catalogue.close()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    result = run_pipeline(env, RunRequest(MAINTENANCE, overrides=PARAMS), Quiet())
    thread.join(timeout=5)
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
    args = ["run", str(MAINTENANCE)] + [f"--param={k}={v}" for k, v in PARAMS.items()]
    driver = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and not _checkpoints(home) and driver.poll() is None:
        time.sleep(0.2)
    assert driver.poll() is None, "the driver ended before it could be killed"
    checkpoint_step = json.loads(_checkpoints(home)[-1].read_text())["step"]
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    killed_at = time.time()

    status = None
    run_id = None
    while time.time() < killed_at + 45:
        listed = run_cli(home, "runs", "ls", "--json")
        assert listed.returncode == 0, listed.stderr[-2000:]
        runs = json.loads(listed.stdout)
        run_id, status = runs[0]["run_id"], runs[0]["status"]
        if status == "crashed":
            break
        time.sleep(2)
    assert status == "crashed"
    # When the catalogue marked it (ended_at, naive UTC), not when this loop noticed.
    marked = datetime.fromisoformat(runs[0]["ended_at"]).replace(tzinfo=UTC).timestamp()
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
        assert row["n"] == int(PARAMS["epochs"])
        # Training continued from the checkpoint, not from epoch 0.
        assert row["first_resumed"] is not None
        assert row["first_resumed"] > checkpoint_step - 1
        assert row["first_resumed"] >= 1
