"""Refusing foreign `Host` headers: the defence against DNS rebinding.

A web page on another site can point a name it controls at 127.0.0.1 and have the browser
send requests to a local endpoint; those requests carry the foreign name in `Host`. An
endpoint answers only the loopback names, plus those in WORKBENCH_ALLOWED_HOSTS (comma
separated; `*` turns the check off, for a server behind a proxy that checks it). Requests
with no Host header at all (health checkers speaking HTTP/1.0) are let through: a browser
always sends one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

ALLOWED_HOSTS_ENV = "WORKBENCH_ALLOWED_HOSTS"
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


def allowed_hosts_from(
    environ: Mapping[str, str], extra: tuple[str, ...] = ()
) -> tuple[str, ...] | None:
    """The host names an endpoint answers (None: any), from the environment and `extra`."""
    names = [n.strip().lower() for n in environ.get(ALLOWED_HOSTS_ENV, "").split(",") if n.strip()]
    names += [n.strip().lower() for n in extra if n.strip()]
    if "*" in names:
        return None
    return tuple(dict.fromkeys([*LOOPBACK_HOSTS, *names]))


def host_name(header: str) -> str:
    """`Host` without its port, lowercase: `[::1]:8000` -> `::1`, `Example:80` -> `example`."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostCheck:
    """ASGI middleware: a request whose Host is not allowed gets 403 before any route runs."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...] | None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.allowed is not None:
            header = _header(scope, b"host")
            if header is not None and host_name(header) not in self.allowed:
                body = {
                    "error_code": "FORBIDDEN_HOST",
                    "message": f"Host {header!r} is not served here (DNS rebinding defence); "
                    f"allowed: {', '.join(self.allowed)}; more with {ALLOWED_HOSTS_ENV}",
                }
                await JSONResponse(body, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Any = scope.get("headers") or ()
    for key, value in headers:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
