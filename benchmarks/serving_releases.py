"""bench_serving.py --part releases: traffic changes, stop and cluster down, timed under load.

While a bounded loop (4 threads, keep-alive connections) POSTs one-row requests to the
`fraud` deployment, each release command runs as a CLI process whose service call is timed
inside it (the service function is wrapped before the command runs), so one execution
gives both the service time and the command's wall time. Every answer is checked: 200 and
the predictions of fraud:1 or fraud:2. Failed requests are counted per command (those
started between its start and one second after its end). The command's stdout and stderr
are kept, and lines that are not Workbench's own (Ray's log lines) are flagged.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from serving_setup import BenchModel, cli, cli_env, deploy, load_average, wait_ready

TIMED_CLI = """
import importlib, json, sys, time
module_name, function_name, out = sys.argv[1:4]
module = importlib.import_module(module_name)
original = getattr(module, function_name)
def timed(*args, **kwargs):
    started = time.perf_counter()
    try:
        return original(*args, **kwargs)
    finally:
        with open(out, "w") as handle:
            json.dump({"service_s": time.perf_counter() - started}, handle)
setattr(module, function_name, timed)
sys.argv = ["workbench", *sys.argv[4:]]
from workbench.cli.main import main
main()
"""

# Ray's and Python's log lines, never Workbench's: "(ServeController pid=12) INFO ...",
# "2026-12-02 10:00:00,123 INFO worker.py:1234 -- ...", Ray's C++ log lines
# "[2026-12-02 00:45:54,289 W 10958 10958] gcs_client.cc:210: ...", a traceback.
FOREIGN = re.compile(
    r"^\s*\(\w[\w:.-]* pid=\d+|\b(INFO|WARNING|WARN|DEBUG|ERROR)\b.*\w+\.py:\d+"
    r"|^\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d|\w+\.(py|cc|h):\d+:"
    r"|Traceback \(most recent call last\)"
)

SERVICES = {
    "serve": ("workbench.services.serve", "serve_model"),
    "promote": ("workbench.services.serve", "promote"),
    "rollback": ("workbench.services.serve", "rollback"),
    "stop": ("workbench.services.serve", "stop"),
    "down": ("workbench.services.cluster", "down"),
}

TARGETS_S = {"new canary weight": 2.0, "promote": 2.0, "rollback": 2.0, "stop": 5.0,
             "cluster down": 3.0}  # fmt: skip


class CheckedLoad:
    """`threads` keep-alive clients POSTing `body` back to back; each answer checked."""

    def __init__(self, url: str, body: bytes, headers: dict[str, str],
                 accepted: list[list[list[float]]], threads: int = 4) -> None:  # fmt: skip
        self.url, self.body, self.headers = urlsplit(url), body, headers
        self.accepted = [np.asarray(a, dtype=float) for a in accepted]
        self.results: list[tuple[float, bool, str]] = []  # (start, ok, what failed)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def __enter__(self) -> CheckedLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _loop(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            started = time.monotonic()
            if connection is None:
                connection = http.client.HTTPConnection(self.url.netloc, timeout=30)
            try:
                connection.request("POST", self.url.path, self.body, self.headers)
                response = connection.getresponse()
                outcome = self._check(response.status, response.read())
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = None
                outcome = type(error).__name__
            self.results.append((started, outcome == "", outcome))
            if outcome:
                time.sleep(0.01)  # an endpoint that is gone would otherwise spin a core

    def _check(self, status: int, body: bytes) -> str:
        if status != 200:
            return f"HTTP {status}"
        try:
            got = np.asarray(json.loads(body)["predictions"], dtype=float)
        except (ValueError, KeyError):
            return "not a predictions body"
        if any(got.shape == a.shape and np.allclose(got, a) for a in self.accepted):
            return ""
        return "wrong predictions"

    def between(self, start: float, end: float) -> dict[str, Any]:
        """Requests started in [start, end): how many, how many failed, and how."""
        window = [r for r in list(self.results) if start <= r[0] < end]
        failures: dict[str, int] = {}
        for _, ok, what in window:
            if not ok:
                failures[what] = failures.get(what, 0) + 1
        return {"requests": len(window), "failed": sum(failures.values()), "failures": failures}


def timed_cli(home: Path, service: str, *args: str) -> dict[str, Any]:
    """Run `workbench ARGS` with SERVICES[service] timed inside it; times and output lines."""
    fd, out = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    module, function = SERVICES[service]
    started = time.monotonic()
    command = [sys.executable, "-c", TIMED_CLI, module, function, out, *args]
    result = subprocess.run(command, env=cli_env(home), capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    service_s = json.loads(Path(out).read_text() or "{}").get("service_s")
    Path(out).unlink()
    lines = [("stdout", line) for line in result.stdout.splitlines()]
    lines += [("stderr", line) for line in result.stderr.splitlines()]
    return {"command": "workbench " + " ".join(args), "returncode": result.returncode,
            "wall_s": wall, "service_s": service_s, "start": started, "end": started + wall,
            "output": [f"{stream}: {line}" for stream, line in lines],
            "foreign_lines": [line for _, line in lines if FOREIGN.search(line)]}  # fmt: skip


def run_releases(home: Path, models: dict[str, BenchModel]) -> dict[str, Any]:
    """The release sequence under load; every step's times, failures and foreign lines."""
    forest, forest2 = models["forest"], models["forest2"]
    steps: list[tuple[str, dict[str, Any]]] = []
    up = time.monotonic()
    cli(home, "cluster", "up", "--cpus", "2")
    steps.append(("cluster up", {"wall_s": time.monotonic() - up}))
    url, headers = deploy(home, "fraud:1")
    wait_ready(url, forest.body, headers)
    accepted = [forest.probe_expected[:1], forest2.probe_expected[:1]]
    canary = ("serve", "fraud:1", "--canary", "fraud:2", "--traffic")
    sequence = [
        ("new canary version (new replicas)", *canary, "10"),
        ("new canary weight", *canary, "30"),
        ("promote", "promote", "deployments", "promote", "fraud"),
        ("rollback", "rollback", "deployments", "rollback", "fraud"),
        ("canary again", *canary, "10"),
        ("new canary weight", *canary, "50"),
        ("promote", "promote", "deployments", "promote", "fraud"),
        ("rollback", "rollback", "deployments", "rollback", "fraud"),
        ("stop", "stop", "deployments", "stop", "fraud"),
    ]  # fmt: skip
    try:
        with CheckedLoad(url, forest.body, headers, accepted) as load:
            time.sleep(3)
            steps.append(("steady load before", load.between(0, time.monotonic())))
            for label, service, *args in sequence:
                if service == "serve":
                    args = ["serve", *args]
                step = timed_cli(home, service, *args)
                time.sleep(2)  # requests started just before the end still count
                step.update(load.between(step["start"], step["end"] + 1.0),
                            load_avg=load_average())  # fmt: skip
                steps.append((label, step))
                print(
                    f"{label}: wall {step['wall_s']:.2f} s, service {step['service_s']}, "
                    f"failed {step['failed']}/{step['requests']}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        steps.append(("cluster down", timed_cli(home, "down", "cluster", "down")))
    return {"steps": [{"step": label, **step} for label, step in steps],
            "summary": summarise(steps)}  # fmt: skip


def summarise(steps: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One line per timed step: times, failures, foreign lines, and the target verdict."""
    lines = []
    for label, step in steps:
        if "command" not in step:
            continue
        bound = TARGETS_S.get(label)
        failed = step.get("failed", 0)
        met = None
        if bound is not None:
            met = step["wall_s"] < bound and not step["foreign_lines"] and step["returncode"] == 0
            if label in ("new canary weight", "promote", "rollback"):
                met = met and failed == 0
        lines.append({"step": label, "wall_s": round(step["wall_s"], 2),
                      "service_s": round(step["service_s"], 2) if step["service_s"] else None,
                      "failed": failed, "requests": step.get("requests"),
                      "foreign_lines": len(step["foreign_lines"]), "target_s": bound,
                      "met": met})  # fmt: skip
    return lines
