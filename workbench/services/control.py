"""Runs that outlive the CLI: submit with --detach (Ray Jobs API), cancel, watch."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
import time
from typing import Any

from workbench.catalogue.pipelines import PipelineLedger
from workbench.compute import cluster
from workbench.compute.errors import ClusterError
from workbench.compute.profile import ClusterProfile, read_profile
from workbench.compute.shipping import project_runtime_env
from workbench.core.entities import RunStatus
from workbench.core.errors import InvalidInputError, WorkbenchError
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.lineage import collect_lineage
from workbench.services.pipeline import RunRequest, prepare

# Right after `cluster up` the head's job agent may still be starting.
SUBMIT_WAIT_S = 60.0
CANCEL_POLL_S = 0.2


def submit_detached(settings: Settings, request: RunRequest) -> dict[str, Any]:
    """Queue the run in the catalogue and hand its driver to the cluster as a Ray job."""
    spec, params, _ = prepare(settings, request)
    profile = read_profile(settings)
    if profile is None:
        raise ClusterError(
            "--detach needs a cluster that outlives this command", "start one: workbench cluster up"
        )
    connection = cluster.connect(settings)
    project_dir = request.project_dir.resolve()
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.create_run(
            spec.name,
            params=params,
            lineage=collect_lineage(project_dir, connection),
            tags={"project_dir": str(project_dir), "detached": "true"},
            status=RunStatus.QUEUED,
        )
        # A shared cluster's head does not see this disk: the project travels with the job
        # and its driver starts in the unpacked copy, with the head's own Python.
        shipped = project_runtime_env(project_dir) if profile.remote else {}
        python, where = ("python", ".") if shipped else (sys.executable, str(project_dir))
        command = [python, "-m", "workbench.cli", "run", where, "--adopt", run_id]
        for key, value in request.overrides.items():
            command += ["--param", f"{key}={value}"]
        if request.workers is not None:
            command += ["--workers", str(request.workers)]
        if request.gpus_per_worker is not None:
            command += ["--gpus-per-worker", str(request.gpus_per_worker)]
        try:
            job_id = _submit(profile, shlex.join(command), run_id, settings, shipped)
        except WorkbenchError as error:
            catalogue.set_status(run_id, RunStatus.FAILED, error=error.message)
            raise
        PipelineLedger(catalogue).set_driver(run_id, {"job_id": job_id})
    return {"run_id": run_id, "job_id": job_id, "status": "queued"}


def _submit(
    profile: ClusterProfile,
    entrypoint: str,
    run_id: str,
    settings: Settings,
    runtime_env: dict[str, Any],
) -> str:
    """Submit the driver as a Ray job, waiting out a job agent that is still starting."""
    from ray.job_submission import JobSubmissionClient  # deferred: needs the dashboard

    if not profile.dashboard_url:
        raise ClusterError(
            f"cluster {profile.name} has no dashboard on record, and jobs go through it",
            f"connect again with --dashboard URL: workbench cluster connect {profile.name} ...",
        )
    deadline = time.monotonic() + SUBMIT_WAIT_S
    env = {"WORKBENCH_HOME": str(settings.home),
           "RAY_AUTH_MODE": "disabled" if profile.insecure else "token"}  # fmt: skip
    while True:
        try:
            client = JobSubmissionClient(profile.dashboard_url)
            return str(
                client.submit_job(
                    entrypoint=entrypoint,
                    submission_id=f"workbench-{run_id[:12]}",
                    runtime_env={**runtime_env, "env_vars": env},
                )
            )
        except (RuntimeError, ConnectionError) as error:
            starting = "No available agent" in str(error)
            if not starting or time.monotonic() > deadline:
                raise ClusterError(
                    f"the cluster's Jobs API refused the run: {str(error).splitlines()[0]}",
                    "check `workbench cluster status`; run without --detach meanwhile",
                    exit_code=1,
                ) from None
            time.sleep(1.0)


def cancel_run(settings: Settings, ref: str, wait_s: float = 20.0) -> RunStatus:
    """Stop a queued or running run and make sure it ends up `cancelled`.

    A run shows `running` a moment before its driver records who it is: until that record
    appears the signal waits for it, so a cancel sent at once is not lost.
    """
    with open_catalogue(settings) as catalogue:
        run = catalogue.get_run(ref)
        if run.status.terminal:
            raise InvalidInputError(f"run {run.run_id[:12]} is already {run.status}")
        ledger = PipelineLedger(catalogue)
        deadline = time.monotonic() + wait_s
        signalled = False
        while time.monotonic() < deadline:
            signalled = signalled or _signal_driver(settings, ledger.driver(run.run_id))
            if catalogue.get_run(run.run_id).status.terminal:
                break
            time.sleep(CANCEL_POLL_S)
        status = catalogue.get_run(run.run_id).status
        if not status.terminal:  # the driver is gone or deaf: record the cancellation ourselves
            ledger.close_open_steps(run.run_id, "cancelled")
            catalogue.set_status(run.run_id, RunStatus.CANCELLED, error="cancelled")
            status = RunStatus.CANCELLED
        return status


def job_client(settings: Settings, job_id: str) -> Any:
    """A Ray JobSubmissionClient for the cluster in use, which ran Ray job `job_id`."""
    profile = read_profile(settings)
    if profile is None or not profile.dashboard_url:
        raise ClusterError(
            f"the run is Ray job {job_id}, and no saved cluster has a dashboard to ask",
            "`workbench cluster use NAME` for the cluster it was submitted to",
        )
    cluster.connect(settings)  # first: Ray reads its auth mode once, when it is imported
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(profile.dashboard_url)


def _signal_driver(settings: Settings, driver: dict[str, Any]) -> bool:
    """Ask the run's driver to stop; False while there is no driver on record to ask."""
    job_id = driver.get("job_id")
    if job_id:
        job_client(settings, str(job_id)).stop_job(job_id)
        return True
    pid = driver.get("pid")
    if not pid or driver.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(pid), signal.SIGTERM)
    except ProcessLookupError:
        pass  # already gone: the caller records the cancellation
    return True
