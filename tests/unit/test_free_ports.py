"""Every listener of a local cluster gets its own port: no port is handed out twice."""

from __future__ import annotations

from workbench.compute.ports import free_port as _free_port


def test_free_ports_are_distinct_within_a_process() -> None:
    ports = [_free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
