"""Ray clusters: a local head that outlives the CLI, or an embedded `ray.init()`.

`workbench cluster up` starts `ray start --head` bound to 127.0.0.1 with token
authentication, in its own process group so `cluster down` stops exactly its
processes. Its address is saved as a profile (`compute.profile`). Every command
that needs Ray calls `connect()`: the saved cluster if there is one, else an
embedded Ray on this machine's cores.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.compute.errors import ClusterError
from workbench.compute.gpus import gpu_count
from workbench.compute.haproxy import haproxy_dir, serve_ingress_env, stop_haproxy
from workbench.compute.loopback_site import FOLDER
from workbench.compute.ports import free_port, port_free, takes_connection
from workbench.compute.profile import (
    LOCAL,
    ClusterProfile,
    forget_profile,
    read_local,
    read_profile,
    use,
    write_profile,
)
from workbench.compute.shipping import project_runtime_env
from workbench.core.errors import first_line
from workbench.core.settings import RAY_NAMESPACE, Settings


@dataclass(frozen=True)
class Connection:
    """What this process is connected to, for lineage and messages."""

    mode: str  # "cluster" or "embedded"
    address: str
    cluster_id: str
    nodes: list[str] = field(default_factory=list)
    resources: dict[str, float] = field(default_factory=dict)


def cluster_up(
    settings: Settings, cpus: int | None = None, gpus: int | None = None
) -> ClusterProfile:
    """Start a local head (127.0.0.1, token auth) in its own process group and save its profile."""
    existing = read_local(settings)
    if existing is not None and _group_alive(existing.process_group):
        raise ClusterError(
            f"a cluster is already up at {existing.address}",
            "workbench cluster status, or cluster down",
        )
    cpus = cpus if cpus is not None else os.cpu_count() or 1
    gpus = gpus if gpus is not None else gpu_count()
    port, dashboard_port = free_port(), free_port()
    # Fixed defaults (the agent's 52365, the client server's 10001) collide with any other
    # Ray on this machine, such as an embedded one: give every listener its own free port.
    agent_ports = [
        "--dashboard-agent-listen-port", str(free_port()),
        "--dashboard-agent-grpc-port", str(free_port()),
        "--runtime-env-agent-port", str(free_port()),
        "--metrics-export-port", str(free_port()),
        "--ray-client-server-port", str(free_port()),
    ]  # fmt: skip
    # Token auth on; and a stopped Ray job (runs cancel) gets 15 s, not 3, to record itself.
    # No Prometheus exporter: Workbench samples its own telemetry, and Ray's exporter would
    # listen on every interface without the token.
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_JOB_STOP_WAIT_TIME_S": "15",
           "RAY_enable_metrics_collection": "0", "PYTHONPATH": loopback_pythonpath()}  # fmt: skip
    ingress, serve_env = serve_ingress_env(settings)
    env.update(serve_env)
    serve_port = 8000 if port_free(8000) else free_port()
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
    write_profile(settings, profile)
    use(settings, LOCAL)  # the head just started is the cluster in use
    return profile


def loopback_pythonpath() -> str:
    """PYTHONPATH with `loopback_site` first: Ray's metrics pages then stay on 127.0.0.1."""
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != FOLDER]
    return os.pathsep.join([FOLDER, *kept])


def is_up(settings: Settings) -> bool:
    """True when the saved local head is alive."""
    profile = read_profile(settings)
    return profile is not None and is_alive(profile)


def is_alive(profile: ClusterProfile) -> bool:
    """True while the head's process group (started by `cluster up`) still exists; for a
    shared cluster, while its head takes a connection."""
    if profile.remote:
        return _takes_connection(profile.address)
    return _group_alive(profile.process_group)


def answers(profile: ClusterProfile) -> bool:
    """True when the head's process group exists and its control store (GCS) takes a connection.

    A killed head can leave its group behind for a while (processes not reaped yet), so the
    group alone does not say the head still runs. No Ray import, a few milliseconds.
    """
    if not profile.remote and not is_alive(profile):
        return False
    return _takes_connection(profile.address)


def _takes_connection(address: str) -> bool:
    """Whether a head's HOST:PORT takes a connection (a killed head's group may linger)."""
    host, _, port = address.rpartition(":")
    return port.isdigit() and takes_connection(host, int(port))


def serving_since(settings: Settings) -> datetime | None:
    """When the live local head started (naive UTC), or None when none answers.

    Deployments recorded before that belonged to an earlier cluster, gone with its head.
    """
    profile = read_profile(settings)
    if profile is None or not answers(profile):
        return None
    return datetime.fromisoformat(profile.started_at).astimezone(UTC).replace(tzinfo=None)


def cluster_down(settings: Settings) -> ClusterProfile | None:
    """Stop the saved local head and forget it; returns what was stopped (None if nothing)."""
    profile = read_local(settings)
    if profile is None:
        return None
    if _group_alive(profile.process_group):
        # No Ray connection (a second or two): SIGTERM reaches every process of the head, the
        # catalogue owner included (a Ray worker exits on it, and DuckDB's commits are durable
        # in its WAL); GCS waits out its own drain, so what lingers after 0.5 s is killed.
        _kill_group(profile.process_group, grace_s=0.5)
    stop_haproxy(haproxy_dir(settings))
    forget_profile(settings)
    settings.owner_file.unlink(missing_ok=True)
    return profile


def connect(
    settings: Settings, *, embedded_cpus: int | None = None, ship: Path | None = None
) -> Connection:
    """Connect this process to Ray: the saved cluster, else an embedded one (idempotent).

    `ship`: a project folder to send to a shared cluster's nodes with this driver's job (see
    `compute.shipping`); a local head shares this machine's disk and needs none, and a driver
    submitted as a Ray job already carries its project.
    """
    profile = read_profile(settings)
    if profile is not None:
        _check_reachable(profile)
        # Before importing Ray: it reads the auth mode and token path once, at its config.
        os.environ["RAY_AUTH_MODE"] = "disabled" if profile.insecure else "token"
        if profile.remote:
            os.environ["RAY_AUTH_TOKEN_PATH"] = profile.token_file
        if profile.insecure:
            sys.stderr.write(insecure_warning(profile) + "\n")
    import ray  # deferred: commands that read the catalogue must not pay for Ray

    if not ray.is_initialized():
        quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
        if profile is not None:
            if ship is not None and profile.remote and submission_id() is None:
                quiet["runtime_env"] = project_runtime_env(ship)
            try:
                ray.init(address=profile.address, namespace=RAY_NAMESPACE, **quiet)
            except (ConnectionError, RuntimeError) as error:
                raise ClusterError(
                    f"cannot reach the cluster at {profile.address}: {first_line(error)}",
                    "is it up? `workbench cluster status`",
                ) from None
        else:
            os.environ["PYTHONPATH"] = loopback_pythonpath()  # for the processes Ray starts
            ray.init(
                address="local",  # never attach to a stray cluster found in /tmp/ray
                num_cpus=embedded_cpus or os.cpu_count() or 1,
                namespace=RAY_NAMESPACE,
                include_dashboard=False,
                # No metrics exporter: it would listen on every interface without the token.
                _system_config={"enable_metrics_collection": False},
                **quiet,
            )
    return describe(profile)


def submission_id() -> str | None:
    """The Ray job submission id when this process is a submitted job's driver, else None
    (Ray hands a job's driver its config, metadata included, in RAY_JOB_CONFIG_JSON_ENV_VAR)."""
    try:
        config = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR") or "{}")
    except ValueError:
        return None
    found = (
        (config.get("metadata") or {}).get("job_submission_id")
        if isinstance(config, dict)
        else None
    )
    return str(found) if found else None


def insecure_warning(profile: ClusterProfile) -> str:
    """Said each time Workbench uses a cluster that checks no token (`connect --insecure`)."""
    return (
        f"warning: cluster {profile.name} at {profile.address} checks no token: anyone who "
        "reaches it can run code on it (saved with --insecure)"
    )


def _check_reachable(profile: ClusterProfile) -> None:
    if profile.remote and not _takes_connection(profile.address):
        raise ClusterError(
            f"cannot reach cluster {profile.name} at {profile.address}",
            "is its head up, or your tunnel open? `workbench cluster use local` to work here",
        )
    if not profile.remote and not _group_alive(profile.process_group):
        raise ClusterError(
            f"the cluster at {profile.address} is down",
            "start it with `workbench cluster up`, or forget it with `workbench cluster down`",
        )


def disconnect() -> None:
    """Leave Ray if this process joined it; an embedded Ray stops with it.

    Ray's exit hook does the same but sleeps half a second first, for log lines a command
    never prints (`log_to_driver` is off): a third of a traffic change from the CLI.
    """
    from workbench.owner.access import ray_connected  # deferred: only a command's last step

    if ray_connected():
        sys.modules["ray"].shutdown()


def describe(profile: ClusterProfile | None = None) -> Connection:
    """The connected cluster: mode, address, alive nodes and total resources."""
    import ray  # deferred: see connect

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


def require_resources(workers: int, cpus_per_worker: float, gpus_per_worker: float) -> None:
    """Refuse work the cluster can never place, instead of letting Ray wait forever."""
    import ray  # deferred: see connect

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


def _kill_group(pgid: int, grace_s: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _group_running(pgid):
            time.sleep(0.05)  # a poll: no event tells when another process group has exited
        if not _group_running(pgid):
            return


def _group_running(pgid: int) -> bool:
    """True while a process of the group runs; a dead one its parent has yet to reap does not."""
    import psutil  # deferred: only stopping a head needs the process table

    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                return True
        except (ProcessLookupError, psutil.Error):  # gone since the listing
            continue
    return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
