"""Probing a shared Ray head before Workbench trusts it, without joining it.

Two gRPC calls to the head's control store (GCS), a few milliseconds and no Ray import:
`GetClusterId` without a token tells whether the head checks tokens at all (a head that
answers it runs with `RAY_AUTH_MODE=disabled`: anyone who reaches it can run code on it,
CVE-2023-48022); with the token, whether the token is right. The cluster's metadata (its Ray
and Python versions, from the GCS key-value store) says whether this Ray can join it.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import metadata

OK = "ok"
NO_AUTH = "no-auth"
BAD_TOKEN = "bad-token"
UNREACHABLE = "unreachable"

_CLUSTER_ID = "/ray.rpc.NodeInfoGcsService/GetClusterId"
_KV_GET = "/ray.rpc.InternalKVGcsService/InternalKVGet"


@dataclass(frozen=True)
class Probe:
    """What a head said: `verdict` is OK, NO_AUTH, BAD_TOKEN or UNREACHABLE; `versions` the
    cluster's Ray and Python versions when it let us read them."""

    verdict: str
    detail: str = ""
    ray_version: str | None = None
    python_version: str | None = None

    def version_problem(self) -> str | None:
        """Why this process's Ray cannot join the cluster, or None when it can."""
        ours = _installed_ray()
        if self.ray_version and ours and self.ray_version != ours:
            return f"the cluster runs Ray {self.ray_version}; this machine has Ray {ours}"
        ours_py = ".".join(platform.python_version_tuple()[:2])
        theirs_py = ".".join((self.python_version or "").split(".")[:2])
        if theirs_py and theirs_py != ours_py:
            return f"the cluster runs Python {theirs_py}; this machine runs Python {ours_py}"
        return None


def probe(address: str, token: str | None, timeout_s: float = 5.0) -> Probe:
    """Ask the head at `address` (HOST:PORT of its GCS) who may talk to it."""
    import grpc  # deferred: only connecting to a shared cluster needs it

    channel = grpc.insecure_channel(address)
    try:
        anonymous = _call(channel, _CLUSTER_ID, b"", None, timeout_s)
        if anonymous is None:
            return _read_versions(channel, NO_AUTH, None, timeout_s)
        if anonymous[0] != grpc.StatusCode.UNAUTHENTICATED:
            return Probe(UNREACHABLE, anonymous[1])
        if not token:
            return Probe(BAD_TOKEN, "the cluster checks tokens and none was given")
        signed = _call(channel, _CLUSTER_ID, b"", token, timeout_s)
        if signed is not None:
            verdict = BAD_TOKEN if signed[0] == grpc.StatusCode.UNAUTHENTICATED else UNREACHABLE
            return Probe(verdict, signed[1])
        return _read_versions(channel, OK, token, timeout_s)
    finally:
        channel.close()


def _call(
    channel: object, method: str, request: bytes, token: str | None, timeout_s: float
) -> tuple[object, str] | None:
    """None when the call succeeded, else (status code, first line of its details)."""
    import grpc

    try:
        channel.unary_unary(method)(request, timeout=timeout_s, metadata=_bearer(token))  # type: ignore[attr-defined]
    except grpc.RpcError as error:
        details = (error.details() or error.code().name).splitlines()
        return error.code(), details[0] if details else ""
    return None


def _read_versions(channel: object, verdict: str, token: str | None, timeout_s: float) -> Probe:
    """The probe's verdict with the cluster's versions (left out when they cannot be read):
    the metadata Ray writes at `ray start` (CLUSTER_METADATA in the "cluster" namespace)."""
    found = _kv_get(channel, b"cluster", b"CLUSTER_METADATA", token, timeout_s)
    try:
        document = json.loads(found or b"{}")
    except ValueError:
        return Probe(verdict)
    return Probe(verdict, "", document.get("ray_version"), document.get("python_version"))


def dashboard_address(address: str, token: str | None, timeout_s: float = 5.0) -> str | None:
    """HOST:PORT the head's dashboard announced in the GCS (None: no dashboard, or unread)."""
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        found = _kv_get(channel, b"dashboard", b"dashboard", token, timeout_s)
    finally:
        channel.close()
    return found.decode() if found else None


def _kv_get(
    channel: object, namespace: bytes, key: bytes, token: str | None, timeout_s: float
) -> bytes | None:
    """One value of the GCS key-value store; None when absent or unreadable."""
    import grpc

    # InternalKVGetRequest {bytes key = 1; bytes namespace = 2}, encoded by hand.
    request = bytes([0x0A, len(key)]) + key + bytes([0x12, len(namespace)]) + namespace
    try:
        reply = channel.unary_unary(_KV_GET)(  # type: ignore[attr-defined]
            request, timeout=timeout_s, metadata=_bearer(token)
        )
        return _field(reply, 2)
    except (grpc.RpcError, ValueError):
        return None


def _bearer(token: str | None) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata Ray's token authentication reads (none without a token)."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def _field(message: bytes, number: int) -> bytes | None:
    """The bytes of length-delimited field `number` of a protobuf message (None: absent)."""
    position = 0
    while position < len(message):
        key, position = _varint(message, position)
        wire = key & 7
        if wire == 2:
            length, position = _varint(message, position)
            if key >> 3 == number:
                return message[position : position + length]
            position += length
        elif wire == 0:
            _, position = _varint(message, position)
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return None


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data):
            raise ValueError("truncated protobuf varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def _installed_ray() -> str | None:
    try:
        return metadata.version("ray")
    except metadata.PackageNotFoundError:
        return None
