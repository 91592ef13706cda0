"""Traffic changes keep every replica's versions: routing moves, the replica build does not."""

from __future__ import annotations

import pytest

from workbench.core.deployments import (
    CANARY,
    PRIMARY,
    DeploymentSpec,
    Limits,
    Routing,
    VersionEntry,
)


def _entry(version: int, role: str = PRIMARY, traffic: float | None = None) -> VersionEntry:
    return VersionEntry("fraud", version, f"/models/{version}", role, f"run{version}",
                        f"sha{version}", traffic)  # fmt: skip


def _spec(*versions: VersionEntry) -> DeploymentSpec:
    return DeploymentSpec("fraud", "/home", "/fraud", "http://127.0.0.1:8000/fraud", versions)


def test_promote_and_rollback_change_the_routing_but_not_what_replicas_load() -> None:
    canaried = _spec(_entry(1), _entry(2, CANARY, 30.0))
    promoted = canaried.promoted()
    restored = promoted.restored()
    assert canaried.routing == Routing(primary=1, canary=2, canary_traffic=30.0)
    assert promoted.routing == Routing(primary=2)
    assert restored.routing == Routing(primary=1)
    assert restored.without_canary().routing == Routing(primary=1)
    builds = {s.for_replicas() for s in (canaried, promoted, restored, restored.without_canary())}
    assert len(builds) == 1
    assert [e.version for e in builds.pop().versions] == [1, 2]
    assert [e.version for e in restored.standby] == [2]  # what it rolled back from stays loaded


def test_a_spec_with_standby_versions_reads_back_the_same() -> None:
    spec = _spec(_entry(2), _entry(3, CANARY, 10.0)).promoted()
    spec = DeploymentSpec(**{**spec.__dict__, "limits": Limits(1024, 1.0, 5.0)})
    again = DeploymentSpec.from_json(spec.to_json())
    assert again == spec
    assert again.limits.stuck_after_s == 5.0
    assert Limits(timeout_s=30.0).stuck_after_s == 120.0
    assert Limits(timeout_s=1.0).stuck_after_s == 60.0


def test_routing_round_trips_as_serve_user_config() -> None:
    routing = Routing(primary=3, canary=4, canary_traffic=12.5, shadow=1)
    assert Routing.from_json(routing.to_json()) == routing


def test_replica_code_version_follows_the_replica_build_only() -> None:
    from workbench.serving.ray_app import replica_code_version

    options = {"num_cpus": 0.5}
    canaried = _spec(_entry(1), _entry(2, CANARY, 30.0))
    versions = {
        replica_code_version(s.for_replicas(), options)
        for s in (canaried, canaried.promoted(), canaried.promoted().restored())
    }
    assert len(versions) == 1
    added = _spec(_entry(1), _entry(3, CANARY, 30.0))
    assert replica_code_version(added.for_replicas(), options) not in versions
    assert replica_code_version(canaried.for_replicas(), {"num_cpus": 1.0}) not in versions


def test_the_router_refuses_routing_to_a_version_it_has_not_loaded() -> None:
    from workbench.serving.replica import VersionRouter

    router = VersionRouter.__new__(VersionRouter)  # skip loading artifacts from disk
    router.models = {1: object(), 2: object()}  # type: ignore[dict-item]
    router.canary = None
    with pytest.raises(ValueError, match=r"versions \[5\] are not loaded"):
        router.route(Routing(primary=1, canary=5, canary_traffic=10.0))
