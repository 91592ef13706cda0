"""Deployments: the spec a service writes, the catalogue stores and every Serve replica reads.

One typed contract end to end: `services/serve.py` builds a `DeploymentSpec`, the catalogue
stores `to_json()` in `deployments.config`, and a replica rebuilds it with `from_json`. The
JSON keys are those Workbench has always stored, so older rows read back the same.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

PRIMARY, CANARY, SHADOW, STANDBY = "primary", "canary", "shadow", "standby"


@dataclass(frozen=True)
class CanaryPolicy:
    """When a canary is rolled back: error share or p95 latency over its recent requests."""

    max_error_rate: float = 0.05
    max_p95_ms: float | None = None
    min_requests: int = 20

    def breach(self, outcomes: Sequence[tuple[bool, float]]) -> str | None:
        """Why the canary must go, or None while it behaves (or has too few requests)."""
        if len(outcomes) < self.min_requests:
            return None
        errors = sum(1 for ok, _ in outcomes if not ok) / len(outcomes)
        if errors > self.max_error_rate:
            return (
                f"error rate {errors:.1%} > {self.max_error_rate:.1%} over {len(outcomes)} requests"
            )
        if self.max_p95_ms is not None:
            p95 = _percentile([ms for _, ms in outcomes], 95)
            if p95 > self.max_p95_ms:
                return f"p95 latency {p95:.1f} ms > {self.max_p95_ms:g} ms"
        return None


def _percentile(values: list[float], q: int) -> float:
    """Linear interpolation between closest ranks (numpy's default), without numpy."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True)
class VersionEntry:
    """One model version in a deployment, with its role and (for a canary) traffic share."""

    model: str
    version: int
    uri: str
    role: str = PRIMARY
    run_id: str | None = None
    sha256: str | None = None
    traffic: float | None = None

    @property
    def label(self) -> str:
        """NAME:VERSION."""
        return f"{self.model}:{self.version}"

    def as_role(self, role: str, traffic: float | None = None) -> VersionEntry:
        """The same version in another role (a promoted canary becomes the primary)."""
        return replace(self, role=role, traffic=traffic)

    def to_json(self) -> dict[str, Any]:
        document = {
            "model": self.model,
            "version": self.version,
            "uri": self.uri,
            "role": self.role,
            "run_id": self.run_id,
            "sha256": self.sha256,
        }
        if self.traffic is not None:
            document["traffic"] = self.traffic
        return document

    def brief(self) -> dict[str, Any]:
        """What summaries and audit rows keep: model, version, role, traffic."""
        return {
            "model": self.model,
            "version": self.version,
            "role": self.role,
            "traffic": self.traffic,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> VersionEntry:
        traffic = document.get("traffic")
        return cls(
            model=str(document["model"]),
            version=int(document["version"]),
            uri=str(document["uri"]),
            role=str(document.get("role", PRIMARY)),
            run_id=document.get("run_id"),
            sha256=document.get("sha256"),
            traffic=None if traffic is None else float(traffic),
        )


@dataclass(frozen=True)
class Scaling:
    """Replicas (fixed or autoscaled), Serve's queue limits and CPUs per replica."""

    replicas: int = 1
    autoscale: tuple[int, int] | None = None
    max_ongoing_requests: int = 64
    max_queued_requests: int = 256
    cpus_per_replica: float = 0.5


@dataclass(frozen=True)
class Batching:
    """Dynamic batching: the largest batch, and the longest wait while the replica is busy."""

    max_batch_size: int = 32
    batch_wait_timeout_s: float = 0.001


@dataclass(frozen=True)
class Limits:
    """Per-request limits of the endpoint, and how long a model call may hang its replica."""

    max_body_bytes: int = 4 * 1024 * 1024
    timeout_s: float = 30.0
    hard_timeout_s: float | None = None
    """A model call running longer fails the replica's health check (None: `stuck_after_s`)."""

    @property
    def stuck_after_s(self) -> float:
        """The hard limit in force: the one set, else max(60 s, 4 x the request timeout)."""
        if self.hard_timeout_s is not None:
            return self.hard_timeout_s
        return max(60.0, 4.0 * self.timeout_s)


@dataclass(frozen=True)
class Routing:
    """Which loaded version answers: the primary, a canary with its share, a mirrored shadow.

    Replicas take it as Serve's `user_config`, so a traffic change reconfigures them in place.
    """

    primary: int
    canary: int | None = None
    canary_traffic: float = 0.0
    shadow: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"primary": self.primary, "canary": self.canary,
                "canary_traffic": self.canary_traffic, "shadow": self.shadow}  # fmt: skip

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Routing:
        canary, shadow = document.get("canary"), document.get("shadow")
        return cls(
            primary=int(document["primary"]),
            canary=None if canary is None else int(canary),
            canary_traffic=float(document.get("canary_traffic") or 0.0),
            shadow=None if shadow is None else int(shadow),
        )


@dataclass(frozen=True)
class DeploymentSpec:
    """Everything a deployment is: versions and roles, endpoint, scaling, limits, policies."""

    name: str
    home: str
    route_prefix: str
    url: str
    versions: tuple[VersionEntry, ...]
    ingress: str | None = None
    token_file: str | None = None
    scaling: Scaling = field(default_factory=Scaling)
    batching: Batching = field(default_factory=Batching)
    limits: Limits = field(default_factory=Limits)
    sample_rate: float = 1.0
    canary_policy: CanaryPolicy = field(default_factory=CanaryPolicy)
    previous: VersionEntry | None = None
    standby: tuple[VersionEntry, ...] = ()
    """Versions kept loaded in every replica without a role, so routing back is a reconfigure."""

    def role(self, role: str) -> VersionEntry | None:
        """The version serving `role`, or None."""
        return next((v for v in self.versions if v.role == role), None)

    @property
    def primary(self) -> VersionEntry:
        """The version that answers every request not taken by a canary."""
        primary = self.role(PRIMARY)
        if primary is None:
            raise ValueError(f"deployment {self.name} has no primary version")
        return primary

    @property
    def canary(self) -> VersionEntry | None:
        return self.role(CANARY)

    @property
    def shadow(self) -> VersionEntry | None:
        return self.role(SHADOW)

    @property
    def routing(self) -> Routing:
        """Which version answers what: the part of the spec a traffic change alters."""
        canary, shadow = self.canary, self.shadow
        return Routing(
            primary=self.primary.version,
            canary=canary.version if canary else None,
            canary_traffic=(canary.traffic or 0.0) if canary else 0.0,
            shadow=shadow.version if shadow else None,
        )

    @property
    def loaded(self) -> tuple[VersionEntry, ...]:
        """Every version a replica loads (roles, previous, standby), once each, by version."""
        found: dict[int, VersionEntry] = {}
        for entry in (*self.versions, *(e for e in (self.previous,) if e), *self.standby):
            found.setdefault(entry.version, entry.as_role(STANDBY))
        return tuple(found[version] for version in sorted(found))

    def for_replicas(self) -> DeploymentSpec:
        """What a replica is built from: the loaded versions, without routing (its user_config)."""
        return replace(self, versions=self.loaded, previous=None, standby=())

    def keeping_loaded(self, before: DeploymentSpec) -> DeploymentSpec:
        """This spec with `before`'s loaded versions kept on standby (a traffic change)."""
        routed = {e.version for e in self.versions} | {e.version for e in (self.previous,) if e}
        standby = tuple(e for e in before.loaded if e.version not in routed)
        return replace(self, standby=standby)

    def without_canary(self) -> DeploymentSpec:
        """The same deployment with its canary dropped (a rollback, by hand or automatic)."""
        versions = tuple(v for v in self.versions if v.role != CANARY)
        return replace(self, versions=versions).keeping_loaded(self)

    def promoted(self) -> DeploymentSpec:
        """The canary becomes the primary with all traffic; the old primary stays loaded."""
        canary = self.canary
        if canary is None:
            raise ValueError(f"deployment {self.name} has no canary")
        versions = (canary.as_role(PRIMARY, 100.0), *self._shadows())
        return replace(self, versions=versions, previous=self.primary).keeping_loaded(self)

    def restored(self) -> DeploymentSpec:
        """Back to the primary before the last promotion (still loaded in every replica)."""
        if self.previous is None:
            raise ValueError(f"deployment {self.name} has no earlier primary")
        versions = (self.previous.as_role(PRIMARY), *self._shadows())
        return replace(self, versions=versions, previous=None).keeping_loaded(self)

    def _shadows(self) -> tuple[VersionEntry, ...]:
        return tuple(v for v in self.versions if v.role == SHADOW)

    def summary(self, status: str) -> dict[str, Any]:
        """The `serve` / `deployments ls` JSON of one deployment: no paths, no secrets."""
        return {
            "name": self.name,
            "status": status,
            "url": self.url,
            "route_prefix": self.route_prefix,
            "ingress": self.ingress,
            "auth": self.token_file is not None,
            "versions": [v.brief() for v in self.versions],
            "scaling": _scaling_json(self.scaling),
        }

    def audit_details(self) -> dict[str, Any]:
        """What an audit row keeps of a deployment: versions and roles, never secrets."""
        versions = [
            {k: v for k, v in entry.brief().items() if k != "traffic" or v is not None}
            for entry in self.versions
        ]
        return {"versions": versions, "route_prefix": self.route_prefix}

    def to_json(self) -> dict[str, Any]:
        """The document stored in `deployments.config`."""
        return {
            "name": self.name,
            "home": self.home,
            "route_prefix": self.route_prefix,
            "url": self.url,
            "ingress": self.ingress,
            "versions": [v.to_json() for v in self.versions],
            "token_file": self.token_file,
            "scaling": _scaling_json(self.scaling),
            "batching": {
                "max_batch_size": self.batching.max_batch_size,
                "batch_wait_timeout_s": self.batching.batch_wait_timeout_s,
            },
            "limits": {
                "max_body_bytes": self.limits.max_body_bytes,
                "timeout_s": self.limits.timeout_s,
                "hard_timeout_s": self.limits.hard_timeout_s,
            },
            "sample_rate": self.sample_rate,
            "canary_policy": {
                "max_error_rate": self.canary_policy.max_error_rate,
                "max_p95_ms": self.canary_policy.max_p95_ms,
                "min_requests": self.canary_policy.min_requests,
            },
            "previous": self.previous.to_json() if self.previous else None,
            "standby": [v.to_json() for v in self.standby],
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> DeploymentSpec:
        """Read a stored spec; keys missing from older rows take their defaults."""
        scaling = dict(document.get("scaling") or {})
        if scaling.get("autoscale"):
            low, high = scaling["autoscale"]
            scaling["autoscale"] = (int(low), int(high))
        previous = document.get("previous")
        return cls(
            name=str(document["name"]),
            home=str(document["home"]),
            route_prefix=str(document["route_prefix"]),
            url=str(document["url"]),
            versions=tuple(VersionEntry.from_json(v) for v in document["versions"]),
            ingress=document.get("ingress"),
            token_file=document.get("token_file"),
            scaling=Scaling(**scaling),
            batching=Batching(**(document.get("batching") or {})),
            limits=Limits(**(document.get("limits") or {})),
            sample_rate=float(document.get("sample_rate", 1.0)),
            canary_policy=CanaryPolicy(**(document.get("canary_policy") or {})),
            previous=VersionEntry.from_json(previous) if previous else None,
            standby=tuple(VersionEntry.from_json(v) for v in document.get("standby") or ()),
        )


def _scaling_json(scaling: Scaling) -> dict[str, Any]:
    return {
        "replicas": scaling.replicas,
        "autoscale": list(scaling.autoscale) if scaling.autoscale else None,
        "max_ongoing_requests": scaling.max_ongoing_requests,
        "max_queued_requests": scaling.max_queued_requests,
        "cpus_per_replica": scaling.cpus_per_replica,
    }


@dataclass(frozen=True)
class Deployment:
    """A deployment as the catalogue holds it: its spec, status and when it changed."""

    spec: DeploymentSpec
    status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One served request: the `requests` row (inputs and outputs as JSON text) and, for an
    answered request, its validated input columns and per-row predictions (`request_rows`)."""

    request_id: str
    ts: datetime
    model_version: int | None
    status_code: int
    latency_ms: float
    inputs: str | None
    outputs: str | None
    shadow_outputs: str | None = None
    columns: Mapping[str, np.ndarray] | None = None
    """Validated input columns (equal length, signature order); None unless answered 200."""
    predictions: Sequence[Any] | None = None
    """One prediction per input row (a number, a probability vector, ...); None unless 200."""


REQUEST_COLUMNS: tuple[str, ...] = (
    "request_id",
    "ts",
    "model_version",
    "status_code",
    "latency_ms",
    "inputs",
    "outputs",
    "shadow_outputs",
)
"""The `requests` columns a replica writes, in table order (after deployment_id)."""
