"""Domain records shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """Life cycle of a run; terminal states never change again except through --resume."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CRASHED = "crashed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True once the run has stopped for good (or until resumed)."""
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class Lineage:
    """Where a run came from: enough to reproduce it or to explain it in an audit."""

    git_commit: str | None = None
    git_dirty: bool | None = None
    data_fingerprint: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    cluster_id: str | None = None
    nodes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    """One run as stored in the catalogue, with its params, latest metrics and tags."""

    run_id: str
    project: str
    name: str | None
    status: RunStatus
    attempt: int
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    parent_run_id: str | None = None
    kind: str = "run"
    error: str | None = None
    lineage: Lineage = field(default_factory=Lineage)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        """Wall time from start to end (or None while it has not both)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the `--json` contract of `runs ls` and `runs show`."""
        return {
            "run_id": self.run_id,
            "project": self.project,
            "name": self.name,
            "status": str(self.status),
            "attempt": self.attempt,
            "kind": self.kind,
            "parent_run_id": self.parent_run_id,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "duration_s": self.duration_s,
            "error": self.error,
            "lineage": {
                "git_commit": self.lineage.git_commit,
                "git_dirty": self.lineage.git_dirty,
                "data_fingerprint": self.lineage.data_fingerprint,
                "environment": self.lineage.environment,
                "cluster_id": self.lineage.cluster_id,
                "nodes": self.lineage.nodes,
            },
            "params": self.params,
            "metrics": self.metrics,
            "tags": self.tags,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
