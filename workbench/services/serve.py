"""Deploy model versions on Ray Serve, change traffic between them, stop them, call them."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.artifacts.manifest import verify_manifest, verify_registered
from workbench.catalogue.deployments import DeploymentLedger
from workbench.catalogue.models import ModelLedger
from workbench.core.deployments import (
    CANARY,
    PRIMARY,
    SHADOW,
    Batching,
    CanaryPolicy,
    Deployment,
    DeploymentSpec,
    Limits,
    Scaling,
    VersionEntry,
)
from workbench.core.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.core.models import ModelRef, ModelVersion
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.deployment_view import UNREACHABLE, as_seen, serving_since
from workbench.services.drift_schedule import start_scheduler

_NAME_HINT = "list deployments: workbench deployments ls"


class DeployFailed(WorkbenchError):
    """A version that could not start; whatever served before keeps serving."""

    exit_code = 1


@dataclass
class ServeRequest:
    """Everything `workbench serve` accepts."""

    model: str
    name: str | None = None
    route_prefix: str | None = None
    replicas: int = 1
    autoscale: tuple[int, int] | None = None
    max_batch_size: int = 32
    batch_wait_ms: float = 1.0
    max_ongoing_requests: int = 64
    max_queued_requests: int = 256
    cpus_per_replica: float = 0.5
    canary: str | None = None
    traffic: float | None = None
    shadow: str | None = None
    auth: bool = True
    sample_rate: float = 1.0
    max_body_bytes: int = 4 * 1024 * 1024
    timeout_s: float = 30.0
    hard_timeout_s: float | None = None
    canary_policy: CanaryPolicy = field(default_factory=CanaryPolicy)


def plan_versions(settings: Settings, request: ServeRequest) -> tuple[VersionEntry, ...]:
    """Check the request and resolve its versions (verified artifacts); needs no cluster."""
    _check_request(request)
    with open_catalogue(settings) as catalogue:
        ledger = ModelLedger(catalogue)
        primary = _resolve_verified(ledger, request.model)
        others = []
        if request.canary:
            others.append((CANARY, _resolve_verified(ledger, request.canary), request.traffic))
        if request.shadow:
            others.append((SHADOW, _resolve_verified(ledger, request.shadow), None))
    _check_inputs(primary, [(role, found) for role, found, _ in others])
    return (
        _entry(primary, PRIMARY),
        *(_entry(found, role, traffic) for role, found, traffic in others),
    )


def serve_model(
    settings: Settings,
    request: ServeRequest,
    versions: tuple[VersionEntry, ...] | None = None,
) -> Deployment:
    """Create or update (rolling, zero downtime) a deployment; returns it as recorded."""
    versions = versions or plan_versions(settings, request)
    name = request.name or versions[0].model
    profile = _cluster(settings)
    prefix = request.route_prefix or f"/{name}"
    spec = DeploymentSpec(
        name=name,
        home=str(settings.home),
        route_prefix=prefix,
        url=f"http://127.0.0.1:{profile.serve_port}{prefix}",
        versions=versions,
        ingress=profile.serve_ingress,
        token_file=str(_token_file(settings, name, create=True)) if request.auth else None,
        scaling=Scaling(
            replicas=request.replicas,
            autoscale=request.autoscale,
            max_ongoing_requests=request.max_ongoing_requests,
            max_queued_requests=request.max_queued_requests,
            cpus_per_replica=request.cpus_per_replica,
        ),
        batching=Batching(request.max_batch_size, request.batch_wait_ms / 1000.0),
        limits=Limits(request.max_body_bytes, request.timeout_s, request.hard_timeout_s),
        sample_rate=request.sample_rate,
        canary_policy=request.canary_policy,
    )
    spec = _reusing_replicas(settings, spec)
    return _apply(settings, spec, action="deployment.deploy", reason=f"serve {request.model}")


def _reusing_replicas(settings: Settings, spec: DeploymentSpec) -> DeploymentSpec:
    """`spec`, keeping the running replicas' versions loaded when they cover all it routes to.

    Then only the routing differs, and the replicas are reconfigured, not replaced.
    """
    with open_catalogue(settings) as catalogue:
        before = DeploymentLedger(catalogue).get(spec.name)
    if before is None or as_seen(before, serving_since(settings)).status != "running":
        return spec
    loaded = {(e.version, e.sha256) for e in before.spec.loaded}
    if {(e.version, e.sha256) for e in spec.versions} <= loaded:
        return spec.keeping_loaded(before.spec)
    return spec


def promote(settings: Settings, name: str, reason: str | None = None) -> Deployment:
    """Send all traffic to the canary: it becomes the primary; the old one stays loaded.

    `reason` goes in the audit row; without one the row says which canary was promoted."""
    spec = _current(settings, name)
    canary = spec.canary
    if canary is None:
        raise InvalidInputError(
            f"{name} has no canary to promote",
            "deploy one: workbench serve MODEL --canary NAME:VERSION --traffic 10",
        )
    reason = reason or f"canary {canary.label} promoted"
    return _apply(settings, spec.promoted(), action="deployment.promote", reason=reason)


def rollback(settings: Settings, name: str, reason: str | None = None) -> Deployment:
    """Drop the canary; without one, go back to the primary before the last promotion.

    `reason` goes in the audit row; without one the row says what was rolled back."""
    spec = _current(settings, name)
    if spec.canary is not None:
        spec, automatic = spec.without_canary(), "canary removed by hand"
    elif spec.previous is not None:
        automatic = f"back to {spec.previous.label}"
        spec = spec.restored()
    else:
        raise InvalidInputError(
            f"{name} has nothing to roll back to", "it has no canary and no earlier primary"
        )
    return _apply(settings, spec, action="deployment.rollback", reason=reason or automatic)


def stop(settings: Settings, name: str, reason: str | None = None) -> Deployment:
    """Delete the Serve application and its token; the catalogue keeps its history.

    `reason` goes in the audit row (default: `deployments stop`)."""
    spec = _current(settings, name, running_only=False)
    if _cluster_alive(settings):
        _cluster(settings)  # first: this home's cluster, never one Ray would find on its own
        from workbench.serving import agent

        agent.delete(name)
    _token_file(settings, name, create=False).unlink(missing_ok=True)
    with open_catalogue(settings) as catalogue:
        DeploymentLedger(catalogue).set_status(
            name, "stopped", action="deployment.stop", reason=reason or "deployments stop"
        )
    return Deployment(spec, "stopped")


def list_deployments(settings: Settings) -> list[Deployment]:
    """Every deployment the catalogue knows, running, stopped or unreachable, by name."""
    since = serving_since(settings)
    with open_catalogue(settings) as catalogue:
        return [as_seen(found, since) for found in DeploymentLedger(catalogue).all()]


def stop_all(settings: Settings, reason: str) -> list[str]:
    """Record every running deployment stopped (their cluster is going); returns their names."""
    with open_catalogue(settings) as catalogue:
        ledger = DeploymentLedger(catalogue)
        running = [found.name for found in ledger.all() if found.status == "running"]
        for name in running:
            ledger.set_status(name, "stopped", action="deployment.stop", reason=reason)
    return running


@dataclass(frozen=True)
class DeploymentView:
    """A deployment with its request statistics and Serve's live view (when it runs)."""

    deployment: Deployment
    window_minutes: int
    stats: list[dict[str, Any]]
    live: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The `deployments show --json` document."""
        shown = self.deployment.spec.summary(self.deployment.status)
        shown["created_at"] = self.deployment.created_at
        shown["updated_at"] = self.deployment.updated_at
        shown["stats_window_minutes"] = self.window_minutes
        shown["stats"] = self.stats
        if self.live is not None:
            shown["serve"] = self.live
        return shown


def show(settings: Settings, name: str, window_minutes: int = 60) -> DeploymentView:
    """The deployment, Serve's live view of it, and its request statistics."""
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=window_minutes)
    live_since = serving_since(settings)
    with open_catalogue(settings) as catalogue:
        ledger = DeploymentLedger(catalogue)
        found = ledger.get(name)
        if found is None:
            raise NotFoundError(f"no deployment named {name!r}", _NAME_HINT)
        stats = ledger.stats(name, since)
    found = as_seen(found, live_since)
    live = None
    if found.status == "running":
        _cluster(settings)  # first: this home's cluster, never one Ray would find on its own
        from workbench.serving import agent

        live = agent.application_status(name)
    return DeploymentView(found, window_minutes, stats, live)


def token(settings: Settings, name: str) -> str | None:
    """The bearer token of a running deployment, or None for a --no-auth one."""
    spec = _current(settings, name)
    if spec.token_file is None:
        return None
    return Path(spec.token_file).read_text().strip()


def deployment_url(settings: Settings, name: str) -> str:
    """Where deployment `name` answers (it must be running)."""
    return _current(settings, name).url


# -- internals ---------------------------------------------------------------------------------


def _apply(settings: Settings, spec: DeploymentSpec, *, action: str, reason: str) -> Deployment:
    """Deploy `spec`; on failure restore the deployment that served before and say why."""
    profile = _cluster(settings)
    from workbench.serving import agent  # Serve itself is loaded on the cluster, not here

    with open_catalogue(settings) as catalogue:
        ledger = DeploymentLedger(catalogue)
        before = ledger.get(spec.name)
        try:
            agent.deploy(spec, profile.serve_port)
        except Exception as error:  # Serve says which deployment failed; its status says why
            why = _first_error_line(error, agent.application_status(spec.name)["message"])
            ledger.record(spec, "failed", action="deployment.failed", reason=why)
            restored = before is not None and before.status == "running"
            if before is not None and restored:
                agent.deploy(before.spec, profile.serve_port)
                ledger.record(
                    before.spec,
                    "running",
                    action="deployment.rollback",
                    reason=f"new version failed to start; restored: {why}",
                )
            else:
                agent.delete(spec.name)
            kept = "the previous version keeps serving" if restored else "nothing was deployed"
            raise DeployFailed(f"{spec.name} failed to start: {why}", kept) from None
        ledger.record(spec, "running", action=action, reason=reason)
    start_scheduler(settings)  # checks its traffic for drift when a schedule asks for it
    return Deployment(spec, "running")


def _first_error_line(error: Exception, detail: str) -> str:
    """The replica's own exception line out of Serve's traceback-laden messages."""
    lines = [line.strip() for line in f"{error}\n{detail}".splitlines() if line.strip()]
    meaningful = [line for line in lines if "Error" in line and "Traceback" not in line]
    return (meaningful[-1] if meaningful else lines[0] if lines else type(error).__name__)[:300]


def _current(settings: Settings, name: str, running_only: bool = True) -> DeploymentSpec:
    with open_catalogue(settings) as catalogue:
        found = DeploymentLedger(catalogue).get(name)
    if found is None:
        raise NotFoundError(f"no deployment named {name!r}", _NAME_HINT)
    if running_only:
        found = as_seen(found, serving_since(settings))
    if running_only and found.status != "running":
        gone = " (its Ray cluster is down or was restarted)" if found.status == UNREACHABLE else ""
        raise InvalidInputError(
            f"deployment {name!r} is {found.status}{gone}",
            f"start it: workbench serve {found.spec.primary.label}",
        )
    return found.spec


def _resolve_verified(ledger: ModelLedger, text: str) -> ModelVersion:
    found = ledger.resolve(ModelRef.parse(text))
    # Refuse a tampered artifact here, before any replica: against its manifest, and against
    # the sha256 recorded at registration (whoever changes the files can rewrite the manifest).
    if found.sha256:
        verify_registered(Path(found.uri), found.sha256)
    else:
        verify_manifest(Path(found.uri))
    return found


def _entry(found: ModelVersion, role: str, traffic: float | None = None) -> VersionEntry:
    return VersionEntry(
        model=found.name,
        version=found.version,
        uri=found.uri,
        role=role,
        run_id=found.run_id,
        sha256=found.sha256,
        traffic=traffic,
    )


def _check_request(request: ServeRequest) -> None:
    if request.canary and request.traffic is None:
        raise InvalidInputError("--canary needs --traffic PCT", "e.g. --traffic 10")
    if request.traffic is not None and not request.canary:
        raise InvalidInputError("--traffic needs --canary NAME:VERSION")
    if request.traffic is not None and not 0 < request.traffic < 100:
        raise InvalidInputError(
            f"--traffic {request.traffic:g} is not between 0 and 100",
            "a canary takes a share: e.g. --traffic 10",
        )
    if request.route_prefix is not None and not request.route_prefix.startswith("/"):
        raise InvalidInputError(f"--route-prefix {request.route_prefix!r} must start with /")
    if not 0 <= request.sample_rate <= 1:
        raise InvalidInputError("--sample-rate must be between 0 and 1")
    if request.replicas < 1 or request.max_batch_size < 1:
        raise InvalidInputError("--replicas and --max-batch-size must be at least 1")


def _check_inputs(primary: ModelVersion, others: list[tuple[str, ModelVersion]]) -> None:
    """Canary and shadow must take the primary's inputs: one contract per endpoint."""
    for role, other in others:
        if other.label == primary.label:
            raise InvalidInputError(f"{role} {other.label} is the primary itself")
        if other.inputs != primary.inputs:
            raise InvalidInputError(
                f"{role} {other.label} takes different inputs than {primary.label}",
                "canary and shadow versions must share the primary's signature",
            )


def _token_file(settings: Settings, name: str, *, create: bool) -> Path:
    """WORKBENCH_HOME/tokens/NAME.token, mode 0600, created once per deployment name."""
    path = settings.home / "tokens" / f"{name}.token"
    if create and not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path


def ensure_cluster(settings: Settings) -> bool:
    """Start a local cluster unless one is up; True when one was started.

    A deployment must outlive the command that made it, so an embedded Ray (which dies
    with the command) will not do.
    """
    from workbench.compute.cluster import cluster_up, is_up

    if is_up(settings):
        return False
    cluster_up(settings)
    return True


def _cluster(settings: Settings) -> Any:
    """Connect to the `cluster up` cluster (the CLI calls `ensure_cluster` first)."""
    from workbench.compute.cluster import connect
    from workbench.compute.errors import ClusterError
    from workbench.compute.profile import read_profile

    profile = read_profile(settings)
    if profile is None or not _cluster_alive(settings):
        raise ClusterError("no cluster is up to serve on", "workbench cluster up")
    connect(settings)
    return profile


def _cluster_alive(settings: Settings) -> bool:
    from workbench.compute.cluster import is_up

    return is_up(settings)
