"""Scheduled drift checks: while a deployment serves, a cluster-side actor checks each of its
versions' traffic every interval; a check that opens a drift alert can start a retrain whose
new version becomes `challenger`.

A deployment's schedule is its own (`workbench drift schedule`) or else its project's
([drift] interval, window, retrain in workbench.toml, stored with the version's profile).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workbench.catalogue import Catalogue
from workbench.catalogue.catalogue import utcnow
from workbench.catalogue.deployments import DeploymentLedger
from workbench.catalogue.drift import DriftLedger
from workbench.catalogue.drift_schedules import DriftScheduleLedger
from workbench.catalogue.models import ModelLedger
from workbench.core.errors import InvalidInputError, NotFoundError, WorkbenchError, first_line
from workbench.core.settings import Settings, drift_tick_seconds
from workbench.owner import open_catalogue
from workbench.services.drift import ConfigOverrides, check_model
from workbench.services.telemetry import parse_since

SCHEDULER_NAME = "drift-scheduler"
MIN_INTERVAL = timedelta(minutes=1)
RETRAIN_ALIAS = "challenger"


@dataclass(frozen=True)
class Schedule:
    """How one deployment's traffic is checked."""

    deployment: str
    interval: timedelta
    window: timedelta
    retrain: bool
    source: str  # "deployment" (set by drift schedule) or "project" ([drift] in workbench.toml)
    project_root: str | None = None


@dataclass(frozen=True)
class DueCheck:
    """A check the scheduler runs now: which deployment, model version and schedule."""

    schedule: Schedule
    model_name: str
    model_version: int


@dataclass(frozen=True)
class ScheduledOutcome:
    """What one scheduled check did."""

    deployment: str
    model: str
    check_id: str | None
    status: str
    retrain_log: str | None = None
    error: str = ""


@dataclass(frozen=True)
class DriftTick:
    """The scheduler actor's task: run every due check (picklable; runs on the cluster)."""

    settings: Settings

    def __call__(self) -> list[ScheduledOutcome]:
        return run_due_checks(self.settings, utcnow())


def start_scheduler(settings: Settings) -> None:
    """Start the cluster's drift scheduler if it is not running (idempotent)."""
    from workbench.compute.periodic import ensure_periodic

    ensure_periodic(SCHEDULER_NAME, DriftTick(settings), drift_tick_seconds())


def set_schedule(
    settings: Settings, deployment: str, *, every: timedelta, window: timedelta, retrain: bool
) -> Schedule:
    """Check `deployment` every `every` over the last `window`."""
    if every < MIN_INTERVAL:
        raise InvalidInputError(f"--every must be at least a minute, got {every}")
    with open_catalogue(settings) as catalogue:
        if DeploymentLedger(catalogue).get(deployment) is None:
            raise NotFoundError(
                f"no deployment named {deployment!r}", "list them: workbench deployments ls"
            )
        DriftScheduleLedger(catalogue).set(
            deployment,
            interval_s=int(every.total_seconds()),
            window_s=int(window.total_seconds()),
            retrain=retrain,
        )
    return Schedule(deployment, every, window, retrain, "deployment")


def clear_schedule(settings: Settings, deployment: str) -> bool:
    """Go back to the project's schedule (or none); False when none was set."""
    with open_catalogue(settings) as catalogue:
        return DriftScheduleLedger(catalogue).clear(deployment)


def schedules(settings: Settings) -> list[Schedule]:
    """The schedule of every running deployment that has one."""
    with open_catalogue(settings) as catalogue:
        own = DriftScheduleLedger(catalogue).all()
        found = [
            _schedule(catalogue, d.name, d.spec.primary, own.get(d.name))
            for d in _running(catalogue)
        ]
    return [schedule for schedule in found if schedule is not None]


def due_checks(catalogue: Catalogue, now: datetime) -> list[DueCheck]:
    """Every (deployment, served version) whose last check is older than its interval."""
    ledger = DriftScheduleLedger(catalogue)
    own = ledger.all()
    due = []
    for deployment in _running(catalogue):
        schedule = _schedule(
            catalogue, deployment.name, deployment.spec.primary, own.get(deployment.name)
        )
        if schedule is None:
            continue
        for entry in deployment.spec.versions:
            last = ledger.last_check(deployment.name, entry.model, entry.version)
            if last is None or now - last >= schedule.interval:
                due.append(DueCheck(schedule, entry.model, entry.version))
    return due


def run_due_checks(settings: Settings, now: datetime) -> list[ScheduledOutcome]:
    """Run every due check; one that opens a drift alert may start a retrain."""
    with open_catalogue(settings) as catalogue:
        due = due_checks(catalogue, now)
        registry = ModelLedger(catalogue)
        already_open = {
            (d.model_name, d.model_version): registry.open_drift_alert(
                d.model_name, d.model_version
            )
            for d in due
        }
    outcomes = []
    for item in due:
        ref = f"{item.model_name}:{item.model_version}"
        deployment = item.schedule.deployment
        try:
            outcome = check_model(
                settings,
                ref,
                ConfigOverrides(),
                now=now,
                window=item.schedule.window,
                deployment=deployment,
            )
        except WorkbenchError as error:  # e.g. a version with no profile: said, not raised
            outcomes.append(ScheduledOutcome(deployment, ref, None, "error", error=error.message))
            continue
        log = None
        opened = outcome.report.drifted and not already_open[(item.model_name, item.model_version)]
        if opened and item.schedule.retrain and item.schedule.project_root:
            log = _start_retrain(settings, item, outcome.check_id, now)
        outcomes.append(
            ScheduledOutcome(
                deployment, ref, outcome.check_id, outcome.report.status, retrain_log=log
            )
        )
    return outcomes


def _start_retrain(settings: Settings, item: DueCheck, check_id: str, now: datetime) -> str:
    """`workbench run PROJECT --alias challenger` as a detached process; audited."""
    from workbench.services.child import launch_log, start_detached

    root = str(item.schedule.project_root)
    log = launch_log(settings, item.model_name, now)
    try:
        start_detached(settings, log, "run", root, "--alias", RETRAIN_ALIAS)
    except OSError as error:
        return f"retrain did not start: {first_line(error)}"
    with open_catalogue(settings) as catalogue:
        DriftScheduleLedger(catalogue).record_retrain(
            f"model/{item.model_name}:{item.model_version}", check_id, root, str(log)
        )
    return str(log)


def _running(catalogue: Catalogue) -> list[Any]:
    return [d for d in DeploymentLedger(catalogue).all() if d.status == "running"]


def _schedule(
    catalogue: Catalogue, deployment: str, primary: Any, own: dict[str, Any] | None
) -> Schedule | None:
    """The deployment's own schedule (`own`), else its primary version's project's, else
    None."""
    config = DriftLedger(catalogue).profile_config(primary.model, primary.version)
    project = config.get("schedule") or {}
    root = project.get("project_root")
    if own is not None:
        return Schedule(
            deployment,
            timedelta(seconds=own["interval_s"]),
            timedelta(seconds=own["window_s"]),
            bool(own["retrain"]),
            "deployment",
            root,
        )
    if not project.get("interval"):
        return None
    return Schedule(
        deployment,
        parse_since(project["interval"]),
        parse_since(project.get("window") or "1h"),
        bool(project.get("retrain")),
        "project",
        root,
    )
