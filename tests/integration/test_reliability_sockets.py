"""Every socket that Workbench's processes listen on is on 127.0.0.1 or refuses a client
without Ray's token: a `cluster up` head with a `serve` deployment, and the Ray a run embeds.

Sockets are read from the processes themselves (psutil); each one on another address is
probed from that address: HTTP must answer 401/403, gRPC must answer UNAUTHENTICATED to a
real Ray method (and never OK).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import cli_env, run_cli
from tests.fixtures.models import register_fraud, train_fraud_model
from tests.fixtures.projects import write_project
from tests.fixtures.waiting import wait_until
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.compute.haproxy import haproxy_dir
from workbench.core.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.ray]

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
# Real methods of each Ray gRPC service: a guarded server answers UNAUTHENTICATED to one
# of them (an unknown method is UNIMPLEMENTED before any check, so it proves nothing).
RAY_METHODS = (
    "/ray.rpc.NodeInfoGcsService/GetAllNodeInfo",
    "/ray.rpc.NodeManagerService/GetNodeStats",
    "/ray.rpc.ObjectManagerService/Pull",
    "/ray.rpc.CoreWorkerService/NumPendingTasks",
    "/ray.rpc.ReporterService/HealthCheck",
    "/ray.rpc.RayletDriver/ClusterInfo",
    "/ray.serve.ASGIService/HandleRequest",  # a Serve replica's inter-deployment server
)


@dataclass(frozen=True)
class Listening:
    """One listening socket and the process that holds it."""

    pid: int
    process: str
    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.process} (pid {self.pid}) on {self.ip}:{self.port}"


def _listening(roots: list[psutil.Process]) -> list[Listening]:
    found = []
    tree = {p.pid: p for root in roots for p in [root, *root.children(recursive=True)]}
    for process in tree.values():
        try:
            name = _describe(process)
            connections = process.net_connections(kind="inet")
        except psutil.Error:
            continue  # gone meanwhile
        found += [Listening(process.pid, name, c.laddr.ip, c.laddr.port)
                  for c in connections if c.status == psutil.CONN_LISTEN]  # fmt: skip
    return found


def _describe(process: psutil.Process) -> str:
    """A process as Ray titles it (ray::DashboardAgent), else its program and script."""
    command = process.cmdline()
    if command and command[0].startswith("ray::"):
        return command[0].split()[0]
    scripts = [Path(part).name for part in command if part.endswith(".py")]
    named = [Path(part).name for part in command[:1]] + scripts[:1]
    return " ".join(named) or process.name()


def _outside_address() -> str:
    """This host's address on a non-loopback interface, to probe from outside loopback."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return str(address.address)
    pytest.skip("this host has no non-loopback IPv4 address to probe from")


def _refuses_strangers(listening: Listening, outside: str) -> str | None:
    """None when the socket refuses a client without the token; else what it answered."""
    import grpc  # deferred: a Ray dependency, needed only for the probe

    ip = listening.ip.removeprefix("::ffff:")
    host = outside if ip in {"0.0.0.0", "::"} else ip
    try:
        with socket.create_connection((host, listening.port), timeout=5) as probe:
            probe.sendall(b"GET / HTTP/1.1\r\nHost: workbench\r\nConnection: close\r\n\r\n")
            head = probe.recv(64)
    except OSError as error:
        return None if host != ip else f"unreachable from {host}: {error}"
    if head.startswith(b"HTTP/"):
        status = int(head.split()[1])
        return None if status in (401, 403) else f"HTTP {status} without a token"
    codes = set()
    with grpc.insecure_channel(f"{host}:{listening.port}") as channel:
        for method in RAY_METHODS:
            try:
                channel.unary_unary(method)(b"", timeout=5)
                codes.add("OK")
            except grpc.RpcError as error:
                codes.add(error.code().name)
    if "UNAUTHENTICATED" in codes and "OK" not in codes:
        return None
    return f"gRPC without a token answered {sorted(codes)}"


def _unguarded(roots: list[psutil.Process]) -> list[str]:
    outside = _outside_address()
    sockets = _listening(roots)
    assert sockets, "found no listening socket at all"
    report = []
    for listening in sockets:
        if listening.ip in LOOPBACK:
            continue
        answer = _refuses_strangers(listening, outside)
        print(f"{listening}: {answer or 'refuses a client without the token'}")  # noqa: T201
        if answer is not None:
            report.append(f"{listening}: {answer}")
    return report


def _judge(unguarded: list[str]) -> None:
    """Nothing on another address answers without the token. Ray's autoscaler and
    dashboard metrics pages used to (issue 13, item 11 a): `compute/loopback_site` keeps
    them on 127.0.0.1 now."""
    assert not unguarded, "listening on every interface without the token:\n" + "\n".join(unguarded)


@pytest.fixture
def registered(home: Path, tmp_path: Path) -> Path:
    """fraud v1 in `home`, registered before any cluster owns the catalogue."""
    with Catalogue(DuckDBBackend(load_settings(home).catalogue_path)) as catalogue:
        register_fraud(catalogue, train_fraud_model(tmp_path / "train"))
    return home


def test_a_cluster_and_its_deployment_listen_on_loopback_or_behind_the_token(
    registered: Path, local_cluster: Path
) -> None:
    home = local_cluster
    served = run_cli(home, "serve", "fraud:1", "--json", timeout=600)
    assert served.returncode == 0, served.stderr[-3000:]
    group = json.loads((home / "cluster.json").read_text())["process_group"]
    roots = [p for p in psutil.process_iter() if _in_group(p, group)]
    files = str(haproxy_dir(load_settings(home)))
    roots += [p for p in psutil.process_iter(["cmdline"])
              if any(files in part for part in p.info["cmdline"] or [])]  # fmt: skip
    unguarded = _unguarded(roots)
    _judge(unguarded)


def _in_group(process: psutil.Process, group: int) -> bool:
    try:
        return os.getpgid(process.pid) == group
    except OSError:
        return False


HELD_PREPARE = """

def prepare(ctx):  # noqa: F811 - replaces the tiny project's prepare: waits to be released
    import time
    from pathlib import Path

    release = Path(ctx.params["fail_in"])
    deadline = time.monotonic() + 300
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # the held step's own poll for its release file: the subject
    (ctx.output_dir("data") / "rows.json").write_text("[[0, 1]]")
"""


def test_the_ray_a_run_embeds_listens_on_loopback_or_behind_the_token(
    home: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "project", threshold=0.0)
    with (project / "tinyproj" / "steps.py").open("a") as steps:
        steps.write(HELD_PREPARE)
    release = tmp_path / "release"
    env = cli_env(home)
    run = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", str(project),
                            f"--param=fail_in={release}"], env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        driver = psutil.Process(run.pid)
        wait_until(lambda: any("ray::" in " ".join(p.cmdline()) for p in driver.children(True)),
                   120, "the embedded Ray to run the step")  # fmt: skip
        unguarded = _unguarded([driver])
    finally:
        release.touch()
        out, err = run.communicate(timeout=300)
    assert run.returncode in (0, 1), err[-3000:]
    _judge(unguarded)
