"""Ray Serve deployments end to end: real cluster, real Serve over HTTP on 127.0.0.1.

One cluster for the module (starting one takes ~10 s). Each test first serves the deployment
it needs, so none depends on another's leftovers or on the order they run in.
"""

from __future__ import annotations

import json
import random
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest
import requests

from tests.conftest import run_cli
from tests.fixtures.http import SteadyLoad
from tests.fixtures.models import holdout_rows, register_fraud, save_broken_model, train_fraud_model
from tests.fixtures.waiting import wait_until
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.compute.haproxy import haproxy_dir
from workbench.core.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.ray]


class Served:
    """The module's home, models and helpers to call the CLI and the endpoint."""

    def __init__(self, home: Path, rows: pd.DataFrame, dirs: dict[int, Path]) -> None:
        self.home, self.rows, self.dirs = home, rows, dirs
        self.url = ""

    def cli(self, *args: str, ok: bool = True) -> Any:
        result = run_cli(self.home, *args)
        if ok:
            assert result.returncode == 0, result.stderr[-3000:]
        return result

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def serve(self, *args: str) -> dict[str, Any]:
        """`workbench serve ARGS --json` (the `fraud` deployment unless --name says otherwise)."""
        summary: dict[str, Any] = self.cli_json("serve", *args)
        if summary["name"] == "fraud":
            self.url = summary["url"]
        return summary

    def replica(self) -> str:
        """The id of the replica that answers /metadata."""
        meta = requests.get(f"{self.url}/metadata", headers=self.headers(), timeout=10).json()
        return str(meta["replica"])

    def token(self, name: str = "fraud") -> str:
        return (self.home / "tokens" / f"{name}.token").read_text().strip()

    def headers(self, name: str = "fraud") -> dict[str, str]:
        return {"content-type": "application/json", "authorization": f"Bearer {self.token(name)}"}

    def body(self, count: int = 1) -> bytes:
        split = json.loads(self.rows.head(count).to_json(orient="split", index=False))
        return json.dumps({"dataframe_split": split}).encode()

    def post(self, body: bytes | None = None, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", None) or self.headers()
        return requests.post(f"{self.url}/invocations", data=body or self.body(), headers=headers,
                             timeout=30, **kw)  # fmt: skip

    def versions(self, count: int) -> list[str | None]:
        return [self.post().headers.get("x-workbench-model-version") for _ in range(count)]

    def sql(self, query: str) -> list[dict[str, Any]]:
        return self.cli_json("catalogue", "sql", query)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serving")
    home = root / "home"
    v1 = train_fraud_model(root / "v1", seed=7)
    v2 = train_fraud_model(root / "v2", seed=9)
    broken = {mode: save_broken_model(root, v1, mode) for mode in ("load", "predict")}
    settings = load_settings(home)
    settings.home.mkdir(parents=True)
    catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    for model_dir in (v1, v2, broken["load"], broken["predict"]):  # versions 1, 2, 3, 4
        register_fraud(catalogue, model_dir)
    catalogue.close()
    up = run_cli(home, "cluster", "up", "--cpus", "2", "--json")
    assert up.returncode == 0, up.stderr[-2000:]
    try:
        yield Served(home, holdout_rows(root / "v1", 20), {1: v1, 2: v2})
    finally:
        down = run_cli(home, "cluster", "down")
        assert down.returncode == 0, down.stderr[-2000:]
        leftovers = _processes_mentioning(str(haproxy_dir(settings)))
        assert leftovers == [], "cluster down left HAProxy running"


def _processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(text in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def _in_process(model_dir: Path, rows: pd.DataFrame) -> np.ndarray:
    import mlflow.pyfunc

    return np.asarray(mlflow.pyfunc.load_model(str(model_dir)).predict(rows))


def test_serve_predict_and_token(served: Served) -> None:
    summary = served.serve("fraud:1")
    assert summary["name"] == "fraud"
    assert summary["url"].startswith("http://127.0.0.1:")
    assert summary["url"].endswith("/fraud")
    assert summary["versions"] == [
        {"model": "fraud", "version": 1, "role": "primary", "traffic": None}
    ]
    served.url = summary["url"]
    token_file = served.home / "tokens" / "fraud.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert served.token() not in json.dumps(summary)
    assert served.post(headers={"content-type": "application/json"}).status_code == 401
    # DNS rebinding: a foreign Host is refused by the replica, through Serve's proxy.
    rebound = served.post(headers={**served.headers(), "host": "evil.example"})
    assert rebound.status_code == 403, rebound.text
    assert rebound.json()["error_code"] == "FORBIDDEN_HOST"

    rows_file = served.home.parent / "rows.json"
    rows_file.write_bytes(served.body(5))
    predicted = served.cli_json("predict", "fraud", "--input", str(rows_file))
    assert predicted["model_version"] == 1
    expected = _in_process(served.dirs[1], served.rows.head(5))
    np.testing.assert_allclose(np.asarray(predicted["predictions"]), expected, rtol=1e-12)
    listed = served.cli_json("deployments", "ls")
    assert ("fraud", "running") in [(d["name"], d["status"]) for d in listed]
    # The token never reaches the catalogue.
    dump = json.dumps(served.sql("SELECT * FROM deployments"), default=str)
    dump += json.dumps(served.sql("SELECT * FROM audit_events"), default=str)
    assert served.token() not in dump


def _malformed(served: Served, rng: random.Random) -> tuple[bytes, str]:
    good = json.loads(served.body(1))
    record = served.rows.head(1).to_dict(orient="records")[0]
    kind = rng.randrange(9)
    if kind == 0:
        return b'{"dataframe_split": {"columns": [', "application/json"
    if kind == 1:
        bad = {**record, "amount": "lots"}
        return json.dumps({"dataframe_records": [bad]}).encode(), "application/json"
    if kind == 2:
        missing = {k: v for k, v in record.items() if k != "hour"}
        return json.dumps({"dataframe_records": [missing]}).encode(), "application/json"
    if kind == 3:
        extra = {**record, "surprise": 1}
        return json.dumps({"dataframe_records": [extra]}).encode(), "application/json"
    if kind == 4:
        return b"", "application/json"
    if kind == 5:
        return json.dumps(good).encode(), rng.choice(["text/plain", "application/xml", ""])
    if kind == 6:
        depth = rng.choice([100, 5_000, 50_000])
        return b"[" * depth + b"]" * depth, "application/json"
    if kind == 7:
        return json.dumps({"inputs": {"amount": [[1, 2]]}}).encode(), "application/json"
    return json.dumps({"instances": [[1, 2, 3]]}).encode(), "application/json"


def test_thousand_malformed_requests_are_all_4xx(served: Served) -> None:
    served.serve("fraud:1")
    meta_before = requests.get(
        f"{served.url}/metadata", headers=served.headers(), timeout=10
    ).json()
    rng = random.Random(5)
    statuses: dict[int, int] = {}
    session = requests.Session()
    for index in range(1000):
        if index % 100 == 0:  # a body over the 4 MB limit, ten times
            body, content_type = (
                b'{"inputs": "' + b"x" * (5 * 1024 * 1024) + b'"}',
                "application/json",
            )
        else:
            body, content_type = _malformed(served, rng)
        headers = {**served.headers(), "content-type": content_type}
        response = session.post(f"{served.url}/invocations", data=body, headers=headers, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
        assert response.json()["message"]
    assert statuses.get(413) == 10
    assert {400, 415} <= set(statuses)
    meta_after = requests.get(f"{served.url}/metadata", headers=served.headers(), timeout=10).json()
    assert meta_after["replica"] == meta_before["replica"]  # the replica never restarted
    assert served.post().status_code == 200


def test_rolling_update_under_load_drops_nothing(served: Served) -> None:
    served.serve("fraud:1")
    with SteadyLoad(f"{served.url}/invocations", served.body(), served.headers(), rps=20) as load:
        wait_until(lambda: len(load.results) >= 40, 60, "40 answers from v1", step_s=0.2)
        served.cli("serve", "fraud:2")  # a new version: new replicas, rolled in
        wait_until(lambda: [v for _, v in load.results].count("2") >= 40, 60,
                   "40 answers from v2", step_s=0.2)  # fmt: skip
    assert len(load.results) > 80
    assert load.failed() == []
    versions = {v for _, v in load.results}
    assert versions == {"1", "2"}
    assert set(served.versions(20)) == {"2"}


def test_a_version_that_cannot_start_leaves_the_old_one_serving(served: Served) -> None:
    served.serve("fraud:2")
    failed = served.cli("serve", "fraud:3", ok=False)
    assert failed.returncode == 1
    assert "failed to start" in failed.stderr
    assert "weights missing" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert set(served.versions(10)) == {"2"}
    shown = served.cli_json("deployments", "show", "fraud")
    assert shown["status"] == "running"
    assert shown["versions"][0]["version"] == 2
    actions = [e["action"] for e in served.cli_json("audit", "ls")]
    assert actions[:2] == ["deployment.rollback", "deployment.failed"]


def test_canary_split_then_promote(served: Served) -> None:
    served.serve("fraud:1", "--canary", "fraud:2", "--traffic", "30")
    answered = served.versions(200)
    share = answered.count("2") / len(answered)
    assert set(answered) == {"1", "2"}
    assert 0.15 < share < 0.45, share
    served.cli("deployments", "promote", "fraud")
    assert set(served.versions(20)) == {"2"}
    shown = served.cli_json("deployments", "show", "fraud")
    assert [(v["version"], v["role"]) for v in shown["versions"]] == [(2, "primary")]
    served.cli("deployments", "rollback", "fraud")  # back to the primary before the promotion
    assert set(served.versions(20)) == {"1"}


def test_traffic_changes_reconfigure_replicas_under_load_without_a_failure(
    served: Served,
) -> None:
    served.serve("fraud:1", "--canary", "fraud:2", "--traffic", "10", "--replicas", "2")
    wait_until(lambda: _running_replicas(served) == {"RUNNING": 2}, 120, "two running replicas")
    replicas = wait_until(_two_replica_processes, 60, "exactly two replica processes")
    assert replicas is not None
    with ConcurrentLoad(served, workers=4) as load:
        wait_until(lambda: len(load.results) >= 40, 60, "load before the changes", step_s=0.2)
        for args in (("serve", "fraud:1", "--canary", "fraud:2", "--traffic", "50",
                      "--replicas", "2"), ("deployments", "promote", "fraud"),
                     ("deployments", "rollback", "fraud")):  # fmt: skip
            changed = served.cli(*args)
            assert changed.stderr == "", changed.stderr  # nothing but Workbench's own lines
            _wait_for_answers(load.results, 40)
        after = load.results[-20:]
    assert load.failed() == []
    assert {version for _, version in after} == {"1"}  # rolled back to v1
    assert {p.pid for p in _replica_processes()} == {p.pid for p in replicas}  # none replaced
    assert set(served.versions(20)) == {"1"}
    events = [e["action"] for e in served.cli_json("audit", "ls")][:3]
    assert events == ["deployment.rollback", "deployment.promote", "deployment.deploy"]


def _running_replicas(served: Served) -> dict[str, int]:
    return dict(served.cli_json("deployments", "show", "fraud")["serve"]["replicas"])


class ConcurrentLoad:
    """`workers` threads posting back to back until stopped; (status, version) of each answer."""

    def __init__(self, served: Served, workers: int) -> None:
        self.served, self.workers = served, workers
        self.results: list[tuple[int, str | None]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(workers)]

    def __enter__(self) -> ConcurrentLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _loop(self) -> None:
        session, url = requests.Session(), f"{self.served.url}/invocations"
        body, headers = self.served.body(), self.served.headers()
        while not self._stop.is_set():
            try:
                response = session.post(url, data=body, headers=headers, timeout=30)
                answer = (response.status_code, response.headers.get("x-workbench-model-version"))
            except requests.RequestException:
                answer = (0, None)
            self.results.append(answer)

    def failed(self) -> list[tuple[int, str | None]]:
        return [r for r in self.results if r[0] != 200]


def test_shadow_mirrors_without_changing_responses(served: Served) -> None:
    served.serve("fraud:2", "--shadow", "fraud:1", "--autoscale", "1,2")
    shown = served.cli_json("deployments", "show", "fraud")
    assert shown["scaling"]["autoscale"] == [1, 2]
    assert shown["serve"]["status"] == "RUNNING"
    marker = time.time()
    for _ in range(15):
        response = served.post(served.body(3))
        assert response.headers["x-workbench-model-version"] == "2"
    expected_v1 = _in_process(served.dirs[1], served.rows.head(3))
    expected_v2 = _in_process(served.dirs[2], served.rows.head(3))
    np.testing.assert_allclose(np.asarray(response.json()["predictions"]), expected_v2, rtol=1e-12)
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(marker - 1))
    query = ("SELECT outputs, shadow_outputs FROM requests WHERE deployment_id = 'fraud' "
             f"AND status_code = 200 AND ts >= TIMESTAMP '{since}'")  # fmt: skip

    def shadowed() -> list[dict[str, Any]] | None:
        found = [r for r in served.sql(query) if r["shadow_outputs"]]
        return found if len(found) >= 10 else None  # replicas flush in turns: wait for most

    rows = wait_until(shadowed, 30, "10 requests logged with their shadow outputs")
    np.testing.assert_allclose(np.asarray(json.loads(rows[-1]["outputs"])), expected_v2, rtol=1e-12)
    np.testing.assert_allclose(
        np.asarray(json.loads(rows[-1]["shadow_outputs"])), expected_v1, rtol=1e-12
    )


def test_failing_canary_is_rolled_back_automatically(served: Served) -> None:
    served.serve("fraud:2", "--canary", "fraud:4", "--traffic", "50")
    statuses = []
    for _ in range(200):
        statuses.append(served.post().status_code)
        shown = served.cli_json("deployments", "show", "fraud") if len(statuses) % 40 == 0 else None
        if shown and all(v["role"] != "canary" for v in shown["versions"]):
            break
    assert 500 in statuses  # the canary did fail some requests before it was pulled
    wait_until(lambda: all(v["role"] != "canary" for v in served.cli_json("deployments", "show", "fraud")["versions"]),
          120, "the automatic rollback")  # fmt: skip
    assert set(served.versions(20)) == {"2"}
    events = served.cli_json("audit", "ls")
    rollback = next(
        e for e in events if e["action"] in ("deployment.rollback", "deployment.deploy")
    )
    assert rollback["action"] == "deployment.rollback"
    assert "rolled back automatically" in rollback["reason"]
    assert "error rate" in rollback["reason"]


def test_killed_replica_comes_back_under_load(served: Served) -> None:
    served.serve("fraud:2", "--replicas", "2")
    # Only replicas that serve: none of an earlier deployment still shutting down.
    wait_until(lambda: _running_replicas(served) == {"RUNNING": 2}, 120, "two running replicas")
    replicas = wait_until(_two_replica_processes, 60, "exactly two replica processes")
    assert replicas is not None
    with SteadyLoad(
        f"{served.url}/invocations", served.body(), served.headers(), rps=10, retries=3
    ) as load:
        wait_until(lambda: len(load.results) >= 20, 60, "load before the kill", step_s=0.2)
        replicas[0].kill()
        wait_until(lambda: len(_replica_processes()) == 2 and replicas[0].pid not in
              [p.pid for p in _replica_processes()], 90, "a new replica")  # fmt: skip
        wait_until(lambda: _running_replicas(served) == {"RUNNING": 2}, 90, "two running replicas")
        _wait_for_answers(load.results, 20)
    assert len(load.results) > 50
    assert len(load.failed()) <= 0.01 * len(load.results), load.failed()


def _replica_processes() -> list[psutil.Process]:
    return _processes_mentioning("ServeReplica:fraud")


def _two_replica_processes() -> list[psutil.Process] | None:
    found = _replica_processes()
    return found if len(found) == 2 else None


def _wait_for_answers(results: list[Any], more: int) -> None:
    """Wait until a running load has `more` answers than now."""
    count = len(results)
    wait_until(lambda: len(results) >= count + more, 60, f"{more} more answers", step_s=0.2)


def test_a_full_queue_answers_503_not_500(served: Served) -> None:
    served.serve("fraud:2", "--max-ongoing-requests", "1", "--max-queued-requests", "1",
               "--max-batch-size", "1")  # fmt: skip
    from concurrent.futures import ThreadPoolExecutor

    body = served.body(20)
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda _: served.post(body).status_code, range(320)))
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert statuses.count(503) > 0
    assert statuses.count(200) > 0


def test_stats_mlflow_client_and_stop(served: Served) -> None:
    served.serve("fraud:1", "--canary", "fraud:2", "--traffic", "50")
    assert set(served.versions(60)) == {"1", "2"}
    for _ in range(10):
        assert served.post(b"{").status_code == 400

    def logged() -> dict[str, Any] | None:
        shown = served.cli_json("deployments", "show", "fraud")
        versions = {row["version"] for row in shown["stats"]}
        enough = shown["stats"] and shown["stats"][0]["requests"] >= 70
        return shown if enough and versions >= {"all", "refused", "v1", "v2"} else None

    shown = wait_until(logged, 30, "the requests in the statistics")
    assert shown is not None
    overall = shown["stats"][0]
    assert overall["version"] == "all"
    assert overall["p50_ms"] > 0
    assert overall["p50_ms"] <= overall["p95_ms"] <= overall["p99_ms"]
    assert overall["client_errors"] >= 10
    text = served.cli("deployments", "show", "fraud").stdout
    assert "P99 MS" in text

    open_summary = served.cli_json("serve", "fraud:1", "--name", "open", "--no-auth")
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    host_port = open_summary["url"].removeprefix("http://")
    host, port_and_prefix = host_port.split(":", 1)
    client = ScoringServerClient(host, port_and_prefix)  # the prefix rides on the port
    client.wait_server_ready(timeout=30)
    predictions = client.invoke(served.rows.head(4)).get_predictions()
    np.testing.assert_allclose(
        np.asarray(predictions), _in_process(served.dirs[1], served.rows.head(4)), rtol=1e-12
    )

    served.cli("deployments", "stop", "open")
    stopped = served.cli("deployments", "stop", "fraud")
    assert (stopped.stdout, stopped.stderr) == ("fraud stopped\n", "")  # no line of Ray's
    assert not (served.home / "tokens" / "fraud.token").exists()
    listed = served.cli_json("deployments", "ls")
    assert {d["name"]: d["status"] for d in listed} == {"fraud": "stopped", "open": "stopped"}
    gone = requests.post(
        f"{served.url}/invocations",
        data=served.body(),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert gone.status_code in (404, 503)
    unknown = served.cli("predict", "fraud", "--input", "-", ok=False)
    assert unknown.returncode == 2
    assert "is stopped" in unknown.stderr
