"""Which run or deployment a Ray worker process works for: the sampler actors' `Attributor`.

How a pid is tied to a run: every Ray worker belongs to the Ray job of the driver that started
its tasks and actors (steps, Ray Train workers, Tune trials). Workbench records each running
run's driver (`PipelineLedger.driver`: host, pid and, for a detached run, the job submission
id). Ray's state API lists jobs with their driver pid and submission id, live actors (Train
workers, trials, step actors) with their pid and job id, and running tasks with their worker's
pid and job id; joining them gives pid -> run. A Tune trial is attributed to the run that
drives the sweep. Serve replicas are actors of class `ServeReplica:<app>:<deployment>`, so
they are attributed to that deployment. Idle workers (`ray::IDLE`, no job) stay unattributed.

The map is rebuilt on a thread every `refresh_s` (never per sample); a lookup is a dict read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from workbench.core.settings import Settings
from workbench.core.telemetry import Attribution

DEFAULT_REFRESH_S = 5.0
SERVE_REPLICA_PREFIX = "ServeReplica:"
_LIMIT = 10_000

RunDrivers = Callable[[], Mapping[str, Mapping[str, Any]]]
"""Running runs' drivers by run id: {"pid": ..., "host": ..., "job_id": <submission id>}."""

_log = logging.getLogger(__name__)


def attribution_map(
    drivers: Mapping[str, Mapping[str, Any]],
    jobs: Iterable[Mapping[str, Any]],
    tasks: Iterable[Mapping[str, Any]],
    actors: Iterable[Mapping[str, Any]],
) -> dict[int, Attribution]:
    """pid -> Attribution from runs' drivers and Ray state records (jobs, running tasks, live
    actors); a Serve replica goes to its deployment whatever job started it."""
    by_submission = {str(d["job_id"]): run for run, d in drivers.items() if d.get("job_id")}
    by_pid = {int(d["pid"]): run for run, d in drivers.items() if d.get("pid")}
    job_runs: dict[str, str] = {}
    for job in jobs:
        driver = job.get("driver_info") or {}
        pid = driver.get("pid")
        run = by_submission.get(str(job.get("submission_id") or "")) or (
            by_pid.get(int(pid)) if pid else None
        )
        if run and job.get("job_id"):
            job_runs[str(job["job_id"])] = run
    found: dict[int, Attribution] = {}
    for task in tasks:
        run = job_runs.get(str(task.get("job_id") or ""))
        if run and task.get("worker_pid"):
            found[int(task["worker_pid"])] = Attribution(run_id=run)
    for actor in actors:
        pid = actor.get("pid")
        class_name = str(actor.get("class_name") or "")
        if not pid:
            continue
        if class_name.startswith(SERVE_REPLICA_PREFIX):
            found[int(pid)] = Attribution(deployment=class_name.rsplit(":", 1)[-1])
        elif run := job_runs.get(str(actor.get("job_id") or "")):
            found[int(pid)] = Attribution(run_id=run)
    return found


def catalogue_drivers(settings: Settings) -> RunDrivers:
    """The running runs' drivers, read from the catalogue at `settings.home`."""

    def read() -> dict[str, dict[str, Any]]:
        from workbench.catalogue.pipelines import PipelineLedger
        from workbench.owner import open_catalogue

        with open_catalogue(settings) as catalogue:
            ledger = PipelineLedger(catalogue)
            running = catalogue.search_runs(status="running", limit=1000)
            return {run.run_id: ledger.driver(run.run_id) for run in running}

    return read


def _ray_state() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Jobs, running tasks and live actors from Ray's state API (the connected cluster)."""
    from ray.util.state import list_actors, list_jobs, list_tasks  # deferred: loads Ray

    jobs = list_jobs(limit=_LIMIT, raise_on_missing_output=False)
    running: list[tuple[str, str, str | bool | int | float]] = [("state", "=", "RUNNING")]
    tasks = list_tasks(filters=running, limit=_LIMIT, raise_on_missing_output=False)
    alive: list[tuple[str, str, str | bool | int | float]] = [("state", "=", "ALIVE")]
    actors = list_actors(filters=alive, limit=_LIMIT, raise_on_missing_output=False)
    return [_plain(j) for j in jobs], [_plain(t) for t in tasks], [_plain(a) for a in actors]


def _plain(record: Any) -> dict[str, Any]:
    if isinstance(record, Mapping):
        return dict(record)
    return record.model_dump() if hasattr(record, "model_dump") else dict(vars(record))


class RayAttributor:
    """An `Attributor` for the sampler actors: a pid -> run/deployment map refreshed on a
    thread every `refresh_s` from the catalogue's running runs and Ray's state API.

    Picklable (it travels to each sampler actor); the thread starts on the first lookup.
    """

    def __init__(self, drivers: RunDrivers, refresh_s: float = DEFAULT_REFRESH_S) -> None:
        self._drivers = drivers
        self._refresh_s = refresh_s
        self._map: dict[int, Attribution] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def __call__(self, pid: int) -> Attribution | None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="workbench-attribution", daemon=True
            )
            self._thread.start()
        return self._map.get(pid)

    def refresh(self) -> None:
        """Rebuild the map now (one catalogue read, three state API calls)."""
        drivers = self._drivers()
        jobs, tasks, actors = _ray_state()
        self._map = attribution_map(drivers, jobs, tasks, actors)

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the previous map stays; sampling goes on
                _log.exception("telemetry attribution refresh failed")
            if self._stop.wait(self._refresh_s):
                return

    def close(self) -> None:
        """Stop refreshing."""
        self._stop.set()

    def __getstate__(self) -> dict[str, object]:
        return {"_drivers": self._drivers, "_refresh_s": self._refresh_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["_drivers"], state["_refresh_s"])  # type: ignore[misc]
