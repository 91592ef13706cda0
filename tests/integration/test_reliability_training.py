"""Training under real failures: a step that fails on every attempt, a disk that fills up."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import run_cli
from tests.fixtures.engines import require_engine, require_module
from tests.fixtures.waiting import wait_until
from workbench.compute.steps import StepFailed
from workbench.core.settings import Settings
from workbench.owner import open_catalogue, stop_owner
from workbench.services.pipeline import RunRequest, run_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.ray]

FAILING_SPEC = """
[project]
name = "always_fails"

[resources]
workers = 2
cpus_per_worker = 0.5

[[steps]]
name = "train"
function = "always_fails.steps:train"
runner = "torch"
distributed = true
outputs = ["model"]
"""

FAILING_STEPS = """
def train(ctx):
    ctx.log_metric("loss", float("nan"), 0)
    raise FloatingPointError("loss is nan at step 0")
"""


class Quiet:
    def run_started(self, *args: object) -> None: ...
    def step_started(self, *args: object) -> None: ...
    def step_finished(self, *args: object) -> None: ...


def _project(root: Path, name: str, spec: str, steps: str) -> Path:
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "steps.py").write_text(steps)
    (root / "workbench.toml").write_text(spec)
    return root


def _train_processes() -> list[str]:
    """Ray Train's processes (workers, controller) under this test process's Ray cluster."""
    found = []
    for process in psutil.Process(os.getpid()).children(recursive=True):
        try:
            title = " ".join(process.cmdline())
        except psutil.Error:
            continue  # gone meanwhile
        if "RayTrainWorker" in title or "TrainController" in title:
            found.append(f"{process.pid} {title[:80]}")
    return found


@pytest.fixture
def env(ray_cluster: object, settings: Settings) -> Iterator[Settings]:
    require_module("torch", "pip install -e '.[torch]' (.ci/run installs it)")
    yield settings
    stop_owner(settings)


def test_a_step_failing_on_every_attempt_ends_failed_and_leaves_no_workers(
    env: Settings, tmp_path: Path
) -> None:
    assert not _train_processes(), "Ray Train processes before the run"
    project = _project(tmp_path / "project", "always_fails", FAILING_SPEC, FAILING_STEPS)
    with pytest.raises(StepFailed, match="FloatingPointError: loss is nan at step 0"):
        run_pipeline(env, RunRequest(project), Quiet())
    with open_catalogue(env) as catalogue:
        (run,) = catalogue.sql("SELECT run_id, status, attempt, error FROM runs").to_pylist()
        steps = catalogue.sql("SELECT step, status FROM pipeline_runs").to_pylist()
    # Ray Train's FailureConfig(max_failures=3): the first attempt and three restarts.
    assert (run["status"], run["attempt"]) == ("failed", 4)
    assert "FloatingPointError: loss is nan at step 0" in run["error"]
    assert "\n" not in run["error"]
    assert {(s["step"], s["status"]) for s in steps} == {("train", "failed")}
    wait_until(lambda: not _train_processes(), 60, "Ray Train's processes to exit")
    assert not _train_processes()


DISK_SPEC = """
[project]
name = "big_checkpoints"

[params]
epochs = { type = "int", default = 4 }
checkpoint_mb = { type = "int", default = 3 }

[resources]
workers = 1
cpus_per_worker = 1

[[steps]]
name = "train"
function = "big_checkpoints.steps:train"
runner = "torch"
distributed = true
outputs = ["model"]
params = ["epochs", "checkpoint_mb"]
"""

DISK_STEPS = """
import hashlib
import json
import os
import tempfile
from pathlib import Path


def train(ctx):
    start = 0
    resumed = ctx.latest_checkpoint()
    if resumed is not None:  # a resumed checkpoint must be whole: its digest proves it
        meta = json.loads((resumed / "state.json").read_text())
        blob = (resumed / "weights.bin").read_bytes()
        assert hashlib.sha256(blob).hexdigest() == meta["sha256"], "a truncated checkpoint"
        start = meta["epoch"] + 1
    for epoch in range(start, ctx.params["epochs"]):
        with tempfile.TemporaryDirectory() as tmp:
            blob = os.urandom(ctx.params["checkpoint_mb"] << 20)
            (Path(tmp) / "weights.bin").write_bytes(blob)
            state = {"epoch": epoch, "sha256": hashlib.sha256(blob).hexdigest()}
            (Path(tmp) / "state.json").write_text(json.dumps(state))
            ctx.report({"loss": 1.0 / (epoch + 1)}, step=epoch, checkpoint_dir=Path(tmp))
    (ctx.output_dir("model") / "weights.json").write_text(json.dumps({"epochs": start}))
"""


@pytest.fixture
def small_disk(home: Path) -> Iterator[Path]:
    """A real 8 MiB tmpfs mounted as the home's run storage (home/runs); unmounted after."""
    runs = home / "runs"
    runs.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(runs)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        require_engine(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); run as root")
    try:
        yield runs
    finally:
        subprocess.run(["umount", "-l", str(runs)], check=False)


def test_a_full_disk_during_a_checkpoint_fails_the_run_clearly_and_resume_recovers(
    small_disk: Path, home: Path, tmp_path: Path
) -> None:
    require_module("torch", "pip install -e '.[torch]' (.ci/run installs it)")
    project = _project(tmp_path / "project", "big_checkpoints", DISK_SPEC, DISK_STEPS)
    first = run_cli(home, "run", str(project), "--json", timeout=600)
    assert first.returncode != 0, first.stdout[-2000:]
    (run,) = json.loads(run_cli(home, "runs", "ls", "--json").stdout)
    assert run["status"] == "failed"
    errors = [line for line in first.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, first.stderr[-3000:]
    assert "No space left on device" in errors[0]
    shown = json.loads(run_cli(home, "runs", "show", run["run_id"], "--json").stdout)
    assert "No space left on device" in shown["error"]
    assert "\n" not in shown["error"]
    # The catalogue (on another disk) is intact and readable.
    counted = run_cli(home, "catalogue", "sql", "SELECT count(*) AS n FROM metrics", "--json")
    assert counted.returncode == 0, counted.stderr[-2000:]
    assert json.loads(counted.stdout)[0]["n"] >= 1
    # Space is back: the same run resumes from its last whole checkpoint and finishes.
    grown = subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert grown.returncode == 0, grown.stderr
    resumed = run_cli(home, "run", str(project), "--resume", run["run_id"], "--json", timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    outcome = json.loads(resumed.stdout)
    assert (outcome["run_id"], outcome["status"]) == (run["run_id"], "finished")
    losses = json.loads(run_cli(home, "runs", "metrics", run["run_id"], "loss", "--json").stdout)
    assert [point["step"] for point in losses["points"]] == [0, 1, 2, 3]
