"""The Overview: cluster state, node telemetry trends, runs in flight, deployments' last minute,
open drift alerts, recent audit events.

One call per refresh, one brief open of the catalogue. The cluster is read from its saved
profile and process group, never by joining Ray: the TUI must outlive any cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from workbench.catalogue.activity import ActiveRun, ActivityLedger, RequestWindow, StepState
from workbench.catalogue.deployments import DeploymentLedger
from workbench.catalogue.drift import DriftLedger
from workbench.catalogue.models import ModelLedger
from workbench.catalogue.telemetry import TelemetryLedger
from workbench.core.audit import AuditEvent
from workbench.core.deployments import CANARY, PRIMARY, Deployment
from workbench.core.errors import WorkbenchError
from workbench.core.settings import Settings
from workbench.core.spec import load_spec
from workbench.owner import open_catalogue
from workbench.services.cluster import ClusterStatus, saved_status
from workbench.services.deployment_view import as_seen, serving_since
from workbench.services.drift_view import DriftAlert, drift_alerts
from workbench.services.telemetry_view import NodeTrend, recent_trends

__all__ = [
    "DeploymentActivity",
    "NodeTrend",
    "Overview",
    "RequestWindow",
    "RunProgress",
    "StepState",
    "VersionShare",
    "overview",
    "run_progress",
]

WINDOW = timedelta(minutes=1)
"""The span the deployments panel summarises, ending at the caller's `now`."""
AUDIT_EVENTS = 8


@dataclass(frozen=True)
class RunProgress:
    """A run in flight: its steps so far, how many it will have, how long it has been going."""

    run_id: str
    project: str
    status: str
    attempt: int
    steps: tuple[StepState, ...]
    total_steps: int
    elapsed_s: float | None

    @property
    def done(self) -> int:
        """Steps finished (ran or reused from the cache)."""
        return sum(1 for step in self.steps if step.status == "finished")

    @property
    def current_step(self) -> str | None:
        """The step running now, or None between steps."""
        return next((s.step for s in self.steps if s.status == "running"), None)

    @property
    def fraction(self) -> float:
        """Share of the steps done, 0 to 1."""
        return self.done / self.total_steps if self.total_steps else 0.0


@dataclass(frozen=True)
class VersionShare:
    """One version of a deployment: NAME:VERSION, its role and share of traffic in percent."""

    label: str
    version: int
    role: str
    percent: float | None


@dataclass(frozen=True)
class DeploymentActivity:
    """A deployment, its versions, and what it answered in the window ending at `now`."""

    name: str
    status: str
    versions: tuple[VersionShare, ...]
    requests: int
    server_errors: int
    p95_ms: float | None
    window_s: float

    @property
    def qps(self) -> float:
        """Requests per second over the window."""
        return self.requests / self.window_s

    @property
    def error_rate(self) -> float:
        """Share of requests answered with a 5xx (0 with no requests)."""
        return self.server_errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Overview:
    """Everything the Overview screen shows, read at once."""

    cluster: ClusterStatus
    running: tuple[RunProgress, ...]
    deployments: tuple[DeploymentActivity, ...]
    recent: tuple[AuditEvent, ...]
    window_end: datetime
    nodes: tuple[NodeTrend, ...] = ()
    """Each node's CPU, memory and GPU trends over the minutes ending at `window_end`."""
    alerts: tuple[DriftAlert, ...] = ()
    """Open drift alerts (model versions whose newest check found drift), newest first."""


def overview(settings: Settings, now: datetime) -> Overview:
    """Read the Overview; request windows end at `now` (naive UTC)."""
    cluster = saved_status(settings)
    live_since = serving_since(settings)
    with open_catalogue(settings) as catalogue:
        activity = ActivityLedger(catalogue)
        active = activity.active_runs()
        counts = activity.step_counts(sorted({run.project for run in active}))
        windows = activity.request_windows(now - WINDOW, now)
        deployments = DeploymentLedger(catalogue).all()
        recent = ModelLedger(catalogue).audit_events(AUDIT_EVENTS)
        nodes = recent_trends(TelemetryLedger(catalogue), now)
        alerts = drift_alerts(DriftLedger(catalogue), now)
    return Overview(
        cluster=cluster,
        running=tuple(run_progress(run, counts.get(run.project, 0), now) for run in active),
        deployments=tuple(
            _activity(as_seen(d, live_since), windows.get(d.name)) for d in deployments
        ),
        recent=tuple(recent),
        window_end=now,
        nodes=nodes,
        alerts=alerts,
    )


def run_progress(run: ActiveRun, steps_seen: int, now: datetime) -> RunProgress:
    """`run` with its total steps: from its project's spec, else the most any run recorded."""
    total = max(_spec_steps(run.project_dir) or steps_seen, len(run.steps))
    began = run.started_at or run.created_at
    return RunProgress(
        run_id=run.run_id,
        project=run.project,
        status=run.status,
        attempt=run.attempt,
        steps=run.steps,
        total_steps=total,
        elapsed_s=max(0.0, (now - began).total_seconds()),
    )


def _spec_steps(project_dir: str | None) -> int:
    """Steps in the spec the run was launched from (0 when it is gone or broken)."""
    if not project_dir:
        return 0
    try:
        return len(load_spec(project_dir).steps)
    except WorkbenchError:
        return 0


def _activity(deployment: Deployment, window: RequestWindow | None) -> DeploymentActivity:
    canary_share = sum(v.traffic or 0.0 for v in deployment.spec.versions if v.role == CANARY)
    shares = []
    for entry in deployment.spec.versions:
        percent = (
            entry.traffic if entry.role == CANARY
            else 100.0 - canary_share if entry.role == PRIMARY
            else None
        )  # fmt: skip
        shares.append(VersionShare(entry.label, entry.version, entry.role, percent))
    return DeploymentActivity(
        name=deployment.name,
        status=deployment.status,
        versions=tuple(shares),
        requests=window.requests if window else 0,
        server_errors=window.server_errors if window else 0,
        p95_ms=window.p95_ms if window else None,
        window_s=WINDOW.total_seconds(),
    )
