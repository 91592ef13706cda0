"""Deploy model versions on Ray Serve, change traffic between them, stop them, call them."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.artifacts.manifest import verify_manifest
from workbench.catalogue.deployments import DeploymentLedger
from workbench.catalogue.models import ModelLedger
from workbench.core.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.models import _resolve, parse_ref

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
    canary_policy: dict[str, Any] = field(default_factory=dict)


def plan_versions(settings: Settings, request: ServeRequest) -> list[dict[str, Any]]:
    """Check the request and resolve its versions (verified artifacts); needs no cluster."""
    _check_request(request)
    with open_catalogue(settings) as catalogue:
        registry = ModelLedger(catalogue)
        versions = [_version_entry(registry, request.model, "primary")]
        if request.canary:
            versions.append(_version_entry(registry, request.canary, "canary", request.traffic))
        if request.shadow:
            versions.append(_version_entry(registry, request.shadow, "shadow"))
    _check_versions(versions)
    return versions


def serve_model(
    settings: Settings, request: ServeRequest, versions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Create or update (rolling, zero downtime) a deployment; returns its summary."""
    versions = versions or plan_versions(settings, request)
    name = request.name or versions[0]["model"]
    profile = _cluster(settings)
    prefix = request.route_prefix or f"/{name}"
    spec: dict[str, Any] = {
        "name": name,
        "home": str(settings.home),
        "route_prefix": prefix,
        "url": f"http://127.0.0.1:{profile.serve_port}{prefix}",
        "status": "running",
        "ingress": profile.serve_ingress,
        "versions": versions,
        "token_file": str(_token_file(settings, name, create=True)) if request.auth else None,
        "scaling": {
            "replicas": request.replicas,
            "autoscale": list(request.autoscale) if request.autoscale else None,
            "max_ongoing_requests": request.max_ongoing_requests,
            "max_queued_requests": request.max_queued_requests,
            "cpus_per_replica": request.cpus_per_replica,
        },
        "batching": {
            "max_batch_size": request.max_batch_size,
            "batch_wait_timeout_s": request.batch_wait_ms / 1000.0,
        },
        "limits": {"max_body_bytes": request.max_body_bytes, "timeout_s": request.timeout_s},
        "sample_rate": request.sample_rate,
        "canary_policy": request.canary_policy,
    }
    return _apply(settings, spec, action="deployment.deploy", reason=f"serve {request.model}")


def promote(settings: Settings, name: str) -> dict[str, Any]:
    """Send all traffic to the canary: it becomes the primary; the old primary leaves."""
    spec = _current(settings, name)
    canary = next((v for v in spec["versions"] if v["role"] == "canary"), None)
    if canary is None:
        raise InvalidInputError(
            f"{name} has no canary to promote",
            "deploy one: workbench serve MODEL --canary NAME:VERSION --traffic 10",
        )
    previous = next(v for v in spec["versions"] if v["role"] == "primary")
    spec["versions"] = [{**canary, "role": "primary", "traffic": 100}] + [
        v for v in spec["versions"] if v["role"] == "shadow"
    ]
    spec["previous"] = previous
    reason = f"canary {canary['model']}:{canary['version']} promoted"
    return _apply(settings, spec, action="deployment.promote", reason=reason)


def rollback(settings: Settings, name: str) -> dict[str, Any]:
    """Drop the canary; without one, go back to the primary before the last promotion."""
    spec = _current(settings, name)
    if any(v["role"] == "canary" for v in spec["versions"]):
        spec["versions"] = [v for v in spec["versions"] if v["role"] != "canary"]
        reason = "canary removed by hand"
    elif spec.get("previous"):
        old = spec.pop("previous")
        spec["versions"] = [{**old, "role": "primary"}] + [
            v for v in spec["versions"] if v["role"] == "shadow"
        ]
        reason = f"back to {old['model']}:{old['version']}"
    else:
        raise InvalidInputError(
            f"{name} has nothing to roll back to", "it has no canary and no earlier primary"
        )
    return _apply(settings, spec, action="deployment.rollback", reason=reason)


def stop(settings: Settings, name: str) -> dict[str, Any]:
    """Delete the Serve application and its token; the catalogue keeps its history."""
    spec = _current(settings, name, running_only=False)
    if _cluster_alive(settings):
        from workbench.serving import ray_app

        ray_app.delete(name)
    _token_file(settings, name, create=False).unlink(missing_ok=True)
    with open_catalogue(settings) as catalogue:
        DeploymentLedger(catalogue).set_status(
            name, "stopped", action="deployment.stop", reason="deployments stop"
        )
    return {"name": name, "status": "stopped", "url": spec["url"]}


def list_deployments(settings: Settings) -> list[dict[str, Any]]:
    with open_catalogue(settings) as catalogue:
        rows = DeploymentLedger(catalogue).all()
    return [_summary(row["config"], row["status"]) for row in rows]


def show(settings: Settings, name: str, window_minutes: int = 60) -> dict[str, Any]:
    """The deployment, Serve's live view of it, and its request statistics."""
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=window_minutes)
    with open_catalogue(settings) as catalogue:
        ledger = DeploymentLedger(catalogue)
        row = ledger.get(name)
        if row is None:
            raise NotFoundError(f"no deployment named {name!r}", _NAME_HINT)
        stats = ledger.stats(name, since)
    shown = _summary(row["config"], row["status"])
    shown["created_at"], shown["updated_at"] = row["created_at"], row["updated_at"]
    shown["stats_window_minutes"] = window_minutes
    shown["stats"] = stats
    if row["status"] == "running" and _cluster_alive(settings):
        from workbench.serving import ray_app

        shown["serve"] = ray_app.application_status(name)
    return shown


def token(settings: Settings, name: str) -> str | None:
    """The bearer token of a running deployment, or None for a --no-auth one."""
    spec = _current(settings, name)
    if spec.get("token_file") is None:
        return None
    return Path(spec["token_file"]).read_text().strip()


def deployment_url(settings: Settings, name: str) -> str:
    return str(_current(settings, name)["url"])


# -- internals ---------------------------------------------------------------------------------


def _apply(settings: Settings, spec: dict[str, Any], *, action: str, reason: str) -> dict[str, Any]:
    """Deploy `spec`; on failure restore the deployment that served before and say why."""
    profile = _cluster(settings)
    from workbench.serving import ray_app

    with open_catalogue(settings) as catalogue:
        ledger = DeploymentLedger(catalogue)
        before = ledger.get(spec["name"])
        ray_app.start_http(profile.serve_port)
        try:
            ray_app.deploy(spec)
        except Exception as error:  # Serve says which deployment failed; its status says why
            why = _first_error_line(error, ray_app.application_status(spec["name"])["message"])
            ledger.record({**spec, "status": "failed"}, action="deployment.failed", reason=why)
            restored = before is not None and before["status"] == "running"
            if before is not None and restored:
                ray_app.deploy(before["config"])
                ledger.record(
                    before["config"],
                    action="deployment.rollback",
                    reason=f"new version failed to start; restored: {why}",
                )
            else:
                ray_app.delete(spec["name"])
            kept = "the previous version keeps serving" if restored else "nothing was deployed"
            raise DeployFailed(f"{spec['name']} failed to start: {why}", kept) from None
        ledger.record(spec, action=action, reason=reason)
    return _summary(spec, spec["status"])


def _first_error_line(error: Exception, detail: str) -> str:
    """The replica's own exception line out of Serve's traceback-laden messages."""
    lines = [line.strip() for line in f"{error}\n{detail}".splitlines() if line.strip()]
    meaningful = [line for line in lines if "Error" in line and "Traceback" not in line]
    return (meaningful[-1] if meaningful else lines[0] if lines else type(error).__name__)[:300]


def _summary(spec: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "name": spec["name"],
        "status": status,
        "url": spec["url"],
        "route_prefix": spec["route_prefix"],
        "ingress": spec.get("ingress"),
        "auth": spec.get("token_file") is not None,
        "versions": [
            {k: v.get(k) for k in ("model", "version", "role", "traffic")} for v in spec["versions"]
        ],
        "scaling": spec.get("scaling"),
    }


def _current(settings: Settings, name: str, running_only: bool = True) -> dict[str, Any]:
    with open_catalogue(settings) as catalogue:
        row = DeploymentLedger(catalogue).get(name)
    if row is None:
        raise NotFoundError(f"no deployment named {name!r}", _NAME_HINT)
    if running_only and row["status"] != "running":
        again = f"{row['model_name']}:{row['model_version']}"
        raise InvalidInputError(
            f"deployment {name!r} is {row['status']}", f"start it: workbench serve {again}"
        )
    return dict(row["config"])


def _version_entry(
    registry: ModelLedger, text: str, role: str, traffic: float | None = None
) -> dict[str, Any]:
    ref = parse_ref(text)
    version = _resolve(registry, ref)
    row = registry.version(ref.name, version) or {}
    uri = Path(row["uri"])
    verify_manifest(uri)  # refuse a tampered artifact here, before any replica loads it
    entry = {
        "model": ref.name,
        "version": version,
        "uri": str(uri),
        "role": role,
        "run_id": row.get("run_id"),
        "sha256": row.get("sha256"),
        "signature": row.get("signature"),
    }
    if role == "canary":
        entry["traffic"] = traffic
    return entry


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


def _check_versions(versions: list[dict[str, Any]]) -> None:
    """Canary and shadow must take the primary's inputs: one contract per endpoint."""
    primary = versions[0]
    for other in versions[1:]:
        if other["version"] == primary["version"] and other["model"] == primary["model"]:
            raise InvalidInputError(
                f"{other['role']} {other['model']}:{other['version']} is the primary itself"
            )
        if _inputs(other) != _inputs(primary):
            raise InvalidInputError(
                f"{other['role']} {other['model']}:{other['version']} takes different inputs "
                f"than {primary['model']}:{primary['version']}",
                "canary and shadow versions must share the primary's signature",
            )
    for entry in versions:
        entry.pop("signature", None)


def _inputs(entry: dict[str, Any]) -> Any:
    signature = entry.get("signature")
    parsed = json.loads(signature) if isinstance(signature, str) else signature
    return (parsed or {}).get("inputs")


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
    from workbench.compute.cluster import ClusterError, connect, read_profile

    profile = read_profile(settings)
    if profile is None or not _cluster_alive(settings):
        raise ClusterError("no cluster is up to serve on", "workbench cluster up")
    connect(settings)
    return profile


def _cluster_alive(settings: Settings) -> bool:
    from workbench.compute.cluster import is_up

    return is_up(settings)
