"""Attribution: pid -> run or deployment from runs' drivers and Ray state records; a real
sampler reading this process with it, and the samples landing in a real catalogue."""

from __future__ import annotations

import os
import pickle
from typing import Any

from workbench.catalogue.catalogue import Catalogue
from workbench.catalogue.run_resources import RunResourceLedger
from workbench.compute.telemetry.attribution import RayAttributor, attribution_map
from workbench.compute.telemetry.nvml import NvmlGpus
from workbench.compute.telemetry.sampler import NodeSampler
from workbench.core.telemetry import Attribution

DRIVERS = {
    "run-local": {"host": "h", "pid": 4000, "job_id": None},
    "run-detached": {"host": "h", "pid": 5000, "job_id": "workbench-abc"},
}
JOBS: list[dict[str, Any]] = [
    {"job_id": "01000000", "submission_id": None, "driver_info": {"pid": "4000"}},
    {"job_id": "02000000", "submission_id": "workbench-abc", "driver_info": {"pid": "9999"}},
    {"job_id": "03000000", "submission_id": None, "driver_info": {"pid": "7777"}},  # not a run
]
TASKS: list[dict[str, Any]] = [
    {"job_id": "01000000", "worker_pid": 4101},
    {"job_id": "03000000", "worker_pid": 4301},
    {"job_id": None, "worker_pid": None},
]
ACTORS: list[dict[str, Any]] = [
    {"job_id": "02000000", "pid": 5101, "class_name": "RayTrainWorker"},
    {"job_id": "03000000", "pid": 6101, "class_name": "ServeReplica:fraud:fraud-scorer"},
    {"job_id": "01000000", "pid": 0, "class_name": "Pending"},
]


def test_runs_by_driver_pid_or_submission_id_and_replicas_by_deployment() -> None:
    found = attribution_map(DRIVERS, JOBS, TASKS, ACTORS)
    assert found == {
        4101: Attribution(run_id="run-local"),
        5101: Attribution(run_id="run-detached"),
        6101: Attribution(deployment="fraud-scorer"),
    }


def test_nothing_running_attributes_nothing() -> None:
    assert attribution_map({}, JOBS, TASKS, ACTORS) == {
        6101: Attribution(deployment="fraud-scorer")
    }
    assert attribution_map(DRIVERS, [], [], []) == {}


def test_attributor_pickles_without_its_thread_or_map() -> None:
    attributor = RayAttributor(dict, refresh_s=1.0)
    copy = pickle.loads(pickle.dumps(attributor))
    assert isinstance(copy, RayAttributor)


def test_sampler_attributes_a_real_process_and_the_ledger_sums_it(catalogue: Catalogue) -> None:
    me = os.getpid()
    owners = {me: Attribution(run_id="run-local")}
    sampler = NodeSampler(
        node_id="node-a", gpus=NvmlGpus(), pids=lambda: [me], attribute=owners.get
    )
    try:
        samples = [sampler.sample() for _ in range(3)]
    finally:
        sampler.close()
    usage = samples[-1].processes
    assert [(p.pid, p.run_id) for p in usage] == [(me, "run-local")]
    assert usage[0].rss_bytes > 0
    ledger = RunResourceLedger(catalogue)
    ledger.append(samples)
    catalogue.backend.sync()
    found = ledger.usage("run-local")
    assert found.samples == 3
    assert found.peak_rss_bytes == max(s.processes[0].rss_bytes for s in samples)
    assert found.cpu_hours >= 0.0
