"""Reading runs: list, show, metric history, a run's page and a comparison of runs."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.catalogue.models import ModelLedger
from workbench.catalogue.pipelines import PipelineLedger
from workbench.core.entities import Run, RunStatus
from workbench.core.errors import InvalidInputError
from workbench.core.gate import GateResult
from workbench.core.models import ModelVersion
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.child import launch_logs

if TYPE_CHECKING:
    import pyarrow as pa


def list_runs(
    settings: Settings,
    *,
    project: str | None = None,
    status: str | None = None,
    where: str | None = None,
    sort: str | None = None,
    limit: int = 50,
) -> list[Run]:
    """Runs matching the filters, newest first unless `sort` says otherwise."""
    with open_catalogue(settings) as catalogue:
        return catalogue.search_runs(
            project=project, status=status, where=where, sort=sort, limit=limit
        )


@dataclass(frozen=True)
class RunDetails:
    """A run plus what its pipeline left: steps, gate verdict, models, traceback."""

    run: Run
    steps: list[dict[str, Any]]
    gate: dict[str, Any] | None
    models: list[ModelVersion]
    traceback: str | None

    def to_json(self) -> dict[str, Any]:
        """The `runs show --json` document."""
        models = [
            {"name": m.name, "version": m.version, "uri": m.uri, "sha256": m.sha256,
             "created_at": m.created_at}
            for m in self.models
        ]  # fmt: skip
        return {
            **self.run.to_json(),
            "steps": self.steps,
            "gate": self.gate,
            "models": models,
            "traceback": self.traceback,
        }


def show_run(settings: Settings, ref: str) -> RunDetails:
    """One run by id or unique prefix, with its steps, gate, models and traceback."""
    with open_catalogue(settings) as catalogue:
        run = catalogue.get_run(ref)
        pipeline = PipelineLedger(catalogue)
        return RunDetails(
            run=run,
            steps=pipeline.steps(run.run_id),
            gate=pipeline.gate(run.run_id),
            models=ModelLedger(catalogue).versions(run.run_id),
            traceback=catalogue.run_traceback(run.run_id),
        )


def cancel(settings: Settings, ref: str) -> RunStatus:
    """Stop a queued or running run; it ends `cancelled`."""
    from workbench.services.control import cancel_run

    return cancel_run(settings, ref)


def metric_history(settings: Settings, ref: str, key: str) -> tuple[str, pa.Table]:
    """The full run id and the (step, timestamp, value) history of one metric."""
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.resolve_run_id(ref)
        return run_id, catalogue.metric_history(run_id, key)


LOG_TAIL_LINES = 200
LAUNCH_LOGS_SCANNED = 20
LAUNCH_LOG_SLACK_S = 60.0
"""A launch log is written from before its run is created: this much before counts."""
_LOG_TAIL_BYTES = 256 * 1024
_LOG_HEAD_BYTES = 8 * 1024
MetricSeries = dict[str, list[tuple[int, float]]]
"""Metric key -> (step, value) points by step: what a chart draws."""


@dataclass(frozen=True)
class StepRecord:
    """One step attempt of a run's pipeline: ran or cached, its status and timings."""

    step: str
    attempt: int
    status: str
    cached: bool
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None

    @property
    def duration_s(self) -> float | None:
        """Wall time of the step, None while it runs."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class RunLog:
    """The tail of a run's driver output and where it was read, or why there is none."""

    lines: tuple[str, ...]
    source: str | None
    """The file the lines come from; None when Workbench kept no log."""
    note: str
    """What the lines are, or why there are none."""


@dataclass(frozen=True)
class RunPage:
    """Everything the run detail screen shows, read in one visit to the catalogue."""

    details: RunDetails
    steps: list[StepRecord]
    gate: GateResult | None
    gate_source: str
    """Where the verdict was recorded: the run, a model version registered from it, or nowhere."""
    series: MetricSeries
    log: RunLog


@dataclass(frozen=True)
class RunComparison:
    """Two or more runs side by side: their params that differ, metrics and histories."""

    runs: list[Run]
    series: list[MetricSeries]
    """Per run, in the order of `runs`."""
    differing_params: dict[str, list[str | None]] = field(default_factory=dict)
    """Param key -> its value in each run (None where a run lacks it), only keys that differ."""
    equal_params: int = 0

    @property
    def metric_keys(self) -> list[str]:
        """Every metric key any of the runs logged, sorted."""
        return sorted({key for run in self.runs for key in run.metrics})


def run_page(settings: Settings, ref: str, *, log_lines: int = LOG_TAIL_LINES) -> RunPage:
    """A run with its steps, gate verdict, metric histories and the tail of its driver log."""
    with open_catalogue(settings) as catalogue:
        run = catalogue.get_run(ref)
        pipeline = PipelineLedger(catalogue)
        details = RunDetails(
            run=run,
            steps=pipeline.steps(run.run_id),
            gate=pipeline.gate(run.run_id),
            models=ModelLedger(catalogue).versions(run.run_id),
            traceback=catalogue.run_traceback(run.run_id),
        )
        series = catalogue.metric_series(run.run_id)
        driver = pipeline.driver(run.run_id)
    gate, gate_source = _gate_of(details)
    return RunPage(
        details=details,
        steps=[_step_record(row) for row in details.steps],
        gate=gate,
        gate_source=gate_source,
        series=series,
        log=run_log(settings, run, driver, log_lines),
    )


def compare_runs(settings: Settings, refs: list[str]) -> RunComparison:
    """Runs by id or prefix, with their histories and the params on which they differ."""
    if len(set(refs)) < 2:
        raise InvalidInputError("compare needs two or more runs", "mark runs with space, then C")
    with open_catalogue(settings) as catalogue:
        runs = [catalogue.get_run(ref) for ref in refs]
        series = [catalogue.metric_series(run.run_id) for run in runs]
    keys = sorted({key for run in runs for key in run.params})
    differing = {
        key: [run.params.get(key) for run in runs]
        for key in keys
        if len({run.params.get(key) for run in runs}) > 1
    }
    return RunComparison(runs, series, differing, len(keys) - len(differing))


def run_log(
    settings: Settings, run: Run, driver: dict[str, Any], lines: int = LOG_TAIL_LINES
) -> RunLog:
    """The tail of a run's driver output, where Workbench or Ray kept one on this machine.

    Kept are: the Ray job log of a run submitted with --detach, and the log of a run the
    TUI launched (its child writes under `home/logs`). A run started in a terminal with
    `workbench run` printed there: no copy exists, and the note says so.
    """
    job_id = driver.get("job_id")
    if job_id:
        found = _ray_job_log(str(job_id))
        if found is None:
            return RunLog(
                (), None, f"no log found for Ray job {job_id}: Ray keeps it under "
                f"{_ray_temp_dir()}/session_*/logs on the head, and it is not on this machine",
            )  # fmt: skip
        return RunLog(tuple(_tail(found, lines)), str(found), f"driver log of Ray job {job_id}")
    launched = launch_log_of(settings, run)
    if launched is not None:
        return RunLog(tuple(_tail(launched, lines)), str(launched), f"output of {launched.name}")
    where = f" (pid {driver['pid']} on {driver.get('host', '?')})" if driver.get("pid") else ""
    return RunLog(
        (), None, f"no log kept for this run: its driver{where} wrote to the terminal that "
        "started it; runs submitted with --detach or launched from the app keep one",
    )  # fmt: skip


def _ray_temp_dir() -> Path:
    """Where Ray keeps its sessions on this machine (RAY_TMPDIR, TMPDIR, else /tmp) + /ray."""
    base = os.environ.get("RAY_TMPDIR")
    if base is None and sys.platform.startswith("linux"):
        base = os.environ.get("TMPDIR")
    return Path(base or "/tmp") / "ray"


def _tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of a text file, reading at most its last 256 KiB."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _LOG_TAIL_BYTES))
            text = handle.read().decode(errors="replace")
    except OSError as error:
        return [f"could not read {path}: {error.strerror or error}"]
    return text.splitlines()[-lines:] if lines > 0 else []


def launch_log_of(settings: Settings, run: Run) -> Path | None:
    """The log of the app's launch of `run`: one of the newest `logs/run-<project>-*.log`
    written since the run was created whose first lines name the run (`run <id12> ...`)."""
    since = run.created_at.replace(tzinfo=UTC).timestamp() - LAUNCH_LOG_SLACK_S
    candidates = [(_mtime(path), path) for path in launch_logs(settings, run.project)]
    newest = sorted((c for c in candidates if c[0] >= since), reverse=True)
    for _, path in newest[:LAUNCH_LOGS_SCANNED]:
        try:
            with path.open("rb") as handle:
                head = handle.read(_LOG_HEAD_BYTES).decode(errors="replace")
        except OSError:
            continue
        if f"run {run.run_id[:12]}" in head:
            return path
    return None


def _ray_job_log(job_id: str) -> Path | None:
    """The newest `job-driver-<id>.log` in any Ray session on this machine."""
    found = list(_ray_temp_dir().glob(f"session_*/logs/job-driver-{job_id}.log"))
    return max(found, key=_mtime) if found else None


def _mtime(path: Path) -> float:
    """When a file was last written; 0 for one removed meanwhile."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _gate_of(details: RunDetails) -> tuple[GateResult | None, str]:
    if details.gate is not None:
        return GateResult.from_json(details.gate), "recorded with the run"
    for model in details.models:
        if model.gate is not None:
            return GateResult.from_json(model.gate), f"recorded with model {model.label}"
    return None, "no gate verdict recorded for this run"


def _step_record(row: dict[str, Any]) -> StepRecord:
    return StepRecord(
        step=str(row["step"]),
        attempt=int(row["attempt"] or 1),
        status=str(row["status"]),
        cached=bool(row["cached"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        error=row["error"],
    )
