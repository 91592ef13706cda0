"""What is happening now: active runs with their steps, request windows, known projects.

Read-only queries for the TUI's Overview and Pipelines screens; every time window takes
its end explicitly so that a frozen clock gives the same answer every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workbench.catalogue.catalogue import Catalogue

ACTIVE_STATUSES = ("queued", "running")

_RUNS = """
SELECT r.run_id, r.project, r.name, r.status, r.attempt, r.created_at, r.started_at,
       (SELECT t.value FROM tags t WHERE t.run_id = r.run_id AND t.key = 'project_dir')
           AS project_dir
FROM runs r WHERE {condition}
ORDER BY r.created_at DESC, r.run_id LIMIT ?
"""
_STEPS = """
SELECT p.run_id, p.step, p.status, p.cached, p.started_at, p.ended_at
FROM pipeline_runs p JOIN runs r ON r.run_id = p.run_id AND r.attempt = p.attempt
WHERE list_contains(?, p.run_id)
ORDER BY p.started_at NULLS LAST, p.step
"""
_STEP_COUNTS = """
SELECT r.project, max(s.steps) AS steps
FROM (SELECT run_id, count(DISTINCT step) AS steps FROM pipeline_runs GROUP BY run_id) s
JOIN runs r ON r.run_id = s.run_id
WHERE list_contains(?, r.project) GROUP BY r.project
"""
_REQUESTS = """
SELECT deployment_id,
       count(*) AS requests,
       count(*) FILTER (WHERE status_code >= 500) AS server_errors,
       quantile_cont(latency_ms, 0.95) FILTER (WHERE status_code < 400) AS p95_ms
FROM requests WHERE ts >= ? AND ts < ?
GROUP BY deployment_id
"""


@dataclass(frozen=True)
class StepState:
    """One step of a run's current attempt as its driver recorded it."""

    step: str
    status: str
    cached: bool
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class ActiveRun:
    """A run with the steps of its current attempt; `project_dir` is where it was launched."""

    run_id: str
    project: str
    name: str | None
    status: str
    attempt: int
    created_at: datetime
    started_at: datetime | None
    project_dir: str | None
    steps: tuple[StepState, ...]


@dataclass(frozen=True)
class RequestWindow:
    """Requests one deployment answered in a time window: count, 5xx count, p95 of the good."""

    deployment_id: str
    requests: int
    server_errors: int
    p95_ms: float | None


@dataclass(frozen=True)
class ProjectRecord:
    """A row of the projects table: a project name and the folder it was registered from."""

    name: str
    root: str | None
    created_at: datetime


class ActivityLedger:
    """Queries over runs in flight, recent requests and known projects."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.backend = catalogue.backend

    def active_runs(self, limit: int = 20) -> list[ActiveRun]:
        """Queued and running runs, newest first, each with its steps."""
        rows = self.backend.query(
            _RUNS.format(condition="list_contains(?, r.status)"), (list(ACTIVE_STATUSES), limit)
        ).to_pylist()
        return self._with_steps(rows)

    def newest_run(self, project: str, since: datetime) -> ActiveRun | None:
        """The newest run of `project` created at or after `since` (any status), or None."""
        rows = self.backend.query(
            _RUNS.format(condition="r.project = ? AND r.created_at >= ?"), (project, since, 1)
        ).to_pylist()
        found = self._with_steps(rows)
        return found[0] if found else None

    def step_counts(self, projects: Sequence[str]) -> dict[str, int]:
        """The most steps any run of each project recorded: a run's total when no spec says."""
        if not projects:
            return {}
        rows = self.backend.query(_STEP_COUNTS, (list(projects),)).to_pylist()
        return {row["project"]: int(row["steps"]) for row in rows}

    def request_windows(self, start: datetime, end: datetime) -> dict[str, RequestWindow]:
        """Per deployment, the requests with `start <= ts < end`."""
        rows = self.backend.query(_REQUESTS, (start, end)).to_pylist()
        return {
            row["deployment_id"]: RequestWindow(
                deployment_id=row["deployment_id"],
                requests=int(row["requests"]),
                server_errors=int(row["server_errors"]),
                p95_ms=None if row["p95_ms"] is None else float(row["p95_ms"]),
            )
            for row in rows
        }

    def projects(self) -> list[ProjectRecord]:
        """Every registered project, newest first."""
        rows = self.backend.query(
            "SELECT name, root, created_at FROM projects ORDER BY created_at DESC, name"
        ).to_pylist()
        return [ProjectRecord(row["name"], row["root"], row["created_at"]) for row in rows]

    def project_dirs(self, limit: int = 20) -> list[str]:
        """Folders runs were launched from (their `project_dir` tag), most recently used first."""
        rows = self.backend.query(
            "SELECT t.value AS project_dir FROM tags t JOIN runs r ON r.run_id = t.run_id "
            "WHERE t.key = 'project_dir' AND t.value IS NOT NULL "
            "GROUP BY t.value ORDER BY max(r.created_at) DESC LIMIT ?",
            (limit,),
        ).to_pylist()
        return [str(row["project_dir"]) for row in rows]

    def _with_steps(self, rows: list[dict[str, Any]]) -> list[ActiveRun]:
        if not rows:
            return []
        steps: dict[str, list[StepState]] = {row["run_id"]: [] for row in rows}
        for step in self.backend.query(_STEPS, (list(steps),)).to_pylist():
            steps[step["run_id"]].append(
                StepState(
                    step["step"],
                    step["status"],
                    bool(step["cached"]),
                    step["started_at"],
                    step["ended_at"],
                )
            )
        return [
            ActiveRun(
                run_id=row["run_id"],
                project=row["project"],
                name=row["name"],
                status=row["status"],
                attempt=int(row["attempt"]),
                created_at=row["created_at"],
                started_at=row["started_at"],
                project_dir=row["project_dir"],
                steps=tuple(steps[row["run_id"]]),
            )
            for row in rows
        ]
