"""TCP ports: free ones on 127.0.0.1 for a local cluster's listeners (none handed out twice),
and whether something listens at a given one."""

from __future__ import annotations

import socket

_ISSUED_PORTS: set[int] = set()


def port_free(port: int) -> bool:
    """True when `port` on 127.0.0.1 can be bound right now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port free now and not handed out before by this process.

    The kernel may offer the same ephemeral port to consecutive binds once each socket is
    closed, and `ray start` refuses two components on one port.
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _ISSUED_PORTS:
            _ISSUED_PORTS.add(port)
            return port


def takes_connection(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when a TCP connection to `host`:`port` opens within `timeout_s`."""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError:
        return False
    return True
