"""Which of a cluster's web listeners reach past loopback: the dashboard and the Serve proxy.

Ray's dashboard and Serve's proxy answer anyone who reaches them (the dashboard runs jobs);
Workbench binds both to 127.0.0.1 on the heads it starts, but a shared cluster may not. On
this machine the listening sockets say it directly (a wildcard or outside address); for a
head elsewhere, a port this machine can connect to over the network is exposed by definition.
No Ray import.
"""

from __future__ import annotations

import ipaddress
import socket

import psutil

from workbench.compute.ports import takes_connection

WILDCARDS = ("0.0.0.0", "::")


def exposed(host: str, ports: dict[str, int]) -> list[str]:
    """A warning for each named listener (`{"dashboard": 8265}`) on `host` that reaches past
    loopback; none when every one of them is on 127.0.0.1 (or not listening at all)."""
    if _is_this_machine(host):
        listening = _listeners()
        return [
            f"the {name} listens on {address}:{port}: it answers anyone who reaches this "
            "machine, without the token"
            for name, port in ports.items()
            for address in sorted(listening.get(port, ()))
            if not _loopback(address)
        ]
    return [
        f"the {name} at {host}:{port} answers from this machine over the network: anyone on "
        "that network can use it, without the token"
        for name, port in ports.items()
        if takes_connection(host, port, timeout_s=1.0)
    ]


def _listeners() -> dict[int, set[str]]:
    """Addresses listening on each TCP port of this machine (needs the process table)."""
    found: dict[int, set[str]] = {}
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:  # some systems show other users' sockets to root only
        return found
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr:
            found.setdefault(connection.laddr.port, set()).add(connection.laddr.ip)
    return found


def _loopback(address: str) -> bool:
    if address in WILDCARDS:
        return False
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _is_this_machine(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == socket.gethostname()
    if address.is_loopback:
        return True
    mine = {a.address for nics in psutil.net_if_addrs().values() for a in nics}
    return host in mine
