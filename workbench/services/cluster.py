"""`cluster up|down|status`: the local Ray head as the CLI and the TUI's cluster screen show it.

`ClusterProfile` is re-exported so that front ends name it without importing compute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.compute import cluster as head
from workbench.compute.errors import ClusterError
from workbench.compute.profile import ClusterProfile, read_profile
from workbench.core.settings import Settings, load_pricing, telemetry_retention_seconds

__all__ = [
    "NO_CLUSTER_HINT",
    "ClusterProfile",
    "ClusterStatus",
    "NodeInfo",
    "down",
    "saved_status",
    "status",
    "up",
]

NO_CLUSTER_HINT = "no saved cluster: commands start an embedded Ray"


@dataclass(frozen=True)
class NodeInfo:
    """One Ray node as Ray reports it: name, liveness and the resources it offers."""

    name: str
    alive: bool
    cpus: float
    memory_bytes: float
    gpus: float

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> NodeInfo:
        """A node from `cluster status --json`'s `node_details`."""
        return cls(
            name=str(document["name"]),
            alive=bool(document["alive"]),
            cpus=float(document["cpus"]),
            memory_bytes=float(document["memory_bytes"]),
            gpus=float(document["gpus"]),
        )


@dataclass(frozen=True)
class ClusterStatus:
    """The saved head (None: embedded mode), whether it is up, and its nodes and resources."""

    profile: ClusterProfile | None
    up: bool
    nodes: tuple[str, ...] = ()
    resources: Mapping[str, float] = field(default_factory=dict)
    hint: str = ""
    node_details: tuple[NodeInfo, ...] = ()
    warnings: tuple[str, ...] = ()
    """Listeners of the cluster that reach past loopback (its dashboard, its Serve proxy)."""

    @property
    def mode(self) -> str:
        """`cluster` when a head is saved, else `embedded` (each command starts its own Ray)."""
        return "embedded" if self.profile is None else "cluster"

    def to_json(self) -> dict[str, Any]:
        """The `cluster status --json` document: the profile without its process group."""
        if self.profile is None:
            return {"up": self.up, "mode": self.mode, "hint": self.hint}
        document: dict[str, Any] = {"up": self.up, "mode": self.mode, **asdict(self.profile)}
        document.pop("process_group")
        if self.up:
            document["nodes"] = list(self.nodes)
            document["resources"] = dict(self.resources)
            document["node_details"] = [asdict(node) for node in self.node_details]
            document["warnings"] = list(self.warnings)
        return document


def up(settings: Settings, cpus: int | None = None, gpus: int | None = None) -> ClusterProfile:
    """Start a local head (127.0.0.1, token auth), save its profile, start its samplers.

    The head's owner reads telemetry retention and prices from this environment: bad values
    are refused here (InvalidInputError) rather than logged on the head."""
    telemetry_retention_seconds()
    load_pricing()
    profile = head.cluster_up(settings, cpus=cpus, gpus=gpus)
    head.connect(settings)
    start_samplers(settings)
    return profile


def start_samplers(settings: Settings) -> None:
    """One telemetry sampler per node of the connected cluster, writing to the catalogue.

    Idempotent: samplers that run already are kept, nodes that joined since get theirs.
    """
    # Deferred: the TUI imports this module for `saved_status` and must start light.
    from workbench.compute.telemetry.actor import ensure_samplers
    from workbench.compute.telemetry.attribution import RayAttributor, catalogue_drivers
    from workbench.services.telemetry import CatalogueSink

    ensure_samplers(
        sink=CatalogueSink(settings), attribute=RayAttributor(catalogue_drivers(settings))
    )


def down(settings: Settings) -> ClusterProfile | None:
    """Stop the local head and forget it; what was stopped, or None when nothing was up.

    Its deployments go with it, so they are recorded stopped first (through the owner). A head
    that no longer answers took them down already: they stay as seen (unreachable).
    """
    profile = read_profile(settings)
    if profile is not None and profile.remote:
        raise ClusterError(
            f"cluster {profile.name} at {profile.address} is shared: Workbench does not stop it",
            "`workbench cluster use local` to work here, or `cluster forget` to drop it",
        )
    if profile is not None and head.answers(profile):
        from workbench.services.serve import stop_all  # deferred: only a live head needs it

        stop_all(settings, reason="cluster down")
    return head.cluster_down(settings)


def disconnect() -> None:
    """Leave Ray now if this process joined it (a command's last step; see `head.disconnect`)."""
    head.disconnect()


def status(settings: Settings) -> ClusterStatus:
    """The saved head and whether it is up; a live one is connected to for nodes and resources."""
    profile = read_profile(settings)
    if profile is None:
        return ClusterStatus(profile=None, up=False, hint=NO_CLUSTER_HINT)
    if not head.is_alive(profile):
        return ClusterStatus(profile=profile, up=False)
    connection = head.connect(settings)
    if not profile.remote:  # Workbench runs its samplers on the clusters it starts
        start_samplers(settings)  # picks up nodes that joined since `cluster up`
    return ClusterStatus(
        profile=profile,
        up=True,
        nodes=tuple(connection.nodes),
        resources=dict(connection.resources),
        node_details=_node_details(),
        warnings=tuple(exposures(profile)),
    )


def exposures(profile: ClusterProfile) -> list[str]:
    """The cluster's dashboard and Serve proxy where they reach past loopback, as warnings."""
    from workbench.compute.exposure import exposed
    from workbench.compute.remote import dashboard_address

    dashboard = profile.dashboard_url
    if profile.remote:
        token = None if profile.insecure else Path(profile.token_file).read_text().strip()
        dashboard = dashboard_address(profile.address, token) or ""
    ports = {"Serve proxy": profile.serve_port}
    dashboard_port = dashboard.rpartition(":")[2]
    if dashboard_port.isdigit():
        ports["dashboard"] = int(dashboard_port)
    return exposed(profile.address.rpartition(":")[0], ports)


def _node_details() -> tuple[NodeInfo, ...]:
    """Every node Ray knows, with its resources; only called once `connect` has joined Ray."""
    import ray  # deferred: importing this module must not load Ray (the TUI imports it)

    details = []
    for node in ray.nodes():
        resources = node.get("Resources") or {}
        details.append(
            NodeInfo(
                name=str(node.get("NodeManagerHostname") or node.get("NodeID")),
                alive=bool(node.get("Alive")),
                cpus=float(resources.get("CPU", 0.0)),
                memory_bytes=float(resources.get("memory", 0.0)),
                gpus=float(resources.get("GPU", 0.0)),
            )
        )
    return tuple(sorted(details, key=lambda n: (not n.alive, n.name)))


def saved_status(settings: Settings) -> ClusterStatus:
    """The saved head and whether its processes live, without joining Ray (for the TUI).

    Resources are what the profile asked Ray for (`cluster up --cpus/--gpus`), not a live count.
    """
    profile = read_profile(settings)
    if profile is None:
        return ClusterStatus(profile=None, up=False, hint=NO_CLUSTER_HINT)
    resources = {"CPU": float(profile.cpus), "GPU": float(profile.gpus)}
    return ClusterStatus(profile=profile, up=head.is_alive(profile), resources=resources)
