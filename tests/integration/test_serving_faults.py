"""A slow or hung model under real Ray Serve over HTTP: the timeout holds, /ping and the other
version keep answering, and a call stuck past the hard limit gets its replica restarted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import run_cli
from tests.fixtures.waiting import wait_until
from workbench.artifacts.manifest import digest_path, write_manifest
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.models import ModelLedger
from workbench.core.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.ray]

SLEEPY_CODE = '''
"""Sleeps `seconds` (the largest of the request's rows) before answering; below 0, forever."""
import threading
import time

import mlflow.models
import mlflow.pyfunc


class Sleepy(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        seconds = float(model_input["seconds"].max())
        if {sleeps} and seconds < 0:
            threading.Event().wait()
        if {sleeps}:
            time.sleep(seconds)
        return [{version}] * len(model_input)


mlflow.models.set_model(Sleepy())
'''


def _save_sleepy(root: Path, version: int, sleeps: bool) -> Path:
    """An MLflow pyfunc taking one `seconds` column; version 1 sleeps, version 2 does not."""
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.models import infer_signature

    code = root / f"sleepy_{version}.py"
    code.write_text(SLEEPY_CODE.replace("{sleeps}", str(sleeps)).replace("{version}", str(version)))
    target = root / f"sleepy-{version}"
    signature = infer_signature(pd.DataFrame({"seconds": [1.0]}), [1])
    mlflow.pyfunc.save_model(str(target), python_model=str(code), signature=signature,
                             pip_requirements=["mlflow"])  # fmt: skip
    write_manifest(target)
    return target


def _register(catalogue: Catalogue, model_dir: Path) -> int:
    from workbench.services.pipeline import _signature

    run_id = catalogue.create_run("sleepy")
    catalogue.finish_run(run_id)
    return ModelLedger(catalogue).register(
        "sleepy", run_id=run_id, uri=str(model_dir), sha256=digest_path(model_dir)[0],
        flavor="python_function", signature=_signature(model_dir),
        gate={"passed": True, "checks": []},
    )  # fmt: skip


def register_sleepy_models(root: Path, home: Path) -> None:
    """Register sleepy:1 (sleeps) and sleepy:2 (answers at once) in `home`'s new catalogue."""
    settings = load_settings(home)
    settings.home.mkdir(parents=True)
    catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    for version, sleeps in ((1, True), (2, False)):
        assert _register(catalogue, _save_sleepy(root, version, sleeps)) == version
    catalogue.close()


@pytest.fixture(scope="module")
def cluster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home with the sleepy models and a cluster up."""
    root = tmp_path_factory.mktemp("faults")
    home = root / "home"
    register_sleepy_models(root, home)
    up = run_cli(home, "cluster", "up", "--cpus", "2", "--json")
    assert up.returncode == 0, up.stderr[-2000:]
    try:
        yield home
    finally:
        down = run_cli(home, "cluster", "down")
        assert down.returncode == 0, down.stderr[-2000:]


def _serve(home: Path, name: str, *extra: str) -> str:
    result = run_cli(home, "serve", "sleepy:1", "--name", name, "--canary", "sleepy:2",
                     "--traffic", "50", "--timeout", "1", "--no-auth", "--json", *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return str(json.loads(result.stdout)["url"])


def _post(url: str, seconds: float) -> tuple[int, str | None, float]:
    """Status, answering version and elapsed seconds of one request."""
    started = time.monotonic()
    body = json.dumps({"dataframe_records": [{"seconds": seconds}]})
    response = requests.post(f"{url}/invocations", data=body, timeout=60,
                             headers={"content-type": "application/json"})  # fmt: skip
    version = response.headers.get("x-workbench-model-version")
    return response.status_code, version, time.monotonic() - started


def test_a_slow_model_gets_408_on_time_while_ping_and_the_other_version_answer(
    cluster_home: Path,
) -> None:
    url = _serve(cluster_home, "slow")
    with ThreadPoolExecutor(max_workers=17) as pool:
        answers = [pool.submit(_post, url, 5.0) for _ in range(16)]
        wait(answers, return_when=FIRST_COMPLETED)  # from now until 5 s, v1 is predicting
        ping_started = time.monotonic()
        ping = requests.get(f"{url}/ping", timeout=10)
        ping_s = time.monotonic() - ping_started
        results = [answer.result() for answer in answers]
    assert ping.status_code == 200
    assert ping_s < 1.0, "the replica did not answer /ping during the model call"
    timed_out = [r for r in results if r[0] == 408]
    answered = [r for r in results if r[0] == 200]
    assert len(timed_out) + len(answered) == len(results), results
    assert timed_out, results  # 50% canary: both versions got requests
    assert answered, results
    assert all(elapsed < 4.0 for _, _, elapsed in timed_out), timed_out  # the model sleeps 5 s
    assert {version for _, version, _ in answered} == {"2"}
    assert all(elapsed < 4.0 for _, _, elapsed in answered), answered  # v2 never waited on v1


def _metadata(url: str) -> dict[str, Any] | None:
    try:
        response = requests.get(f"{url}/metadata", timeout=5)
    except requests.RequestException:
        return None
    return dict(response.json()) if response.status_code == 200 else None


def _restarts(home: Path) -> list[dict[str, Any]]:
    listed = run_cli(home, "audit", "ls", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    return [e for e in json.loads(listed.stdout) if e["action"] == "deployment.replica_restarted"]


def test_a_hung_model_gets_its_replica_restarted_and_audited(cluster_home: Path) -> None:
    url = _serve(cluster_home, "hung", "--hard-timeout", "2")
    before = wait_until(lambda: _metadata(url), 30, "the deployment's metadata")
    assert before is not None
    hung = wait_until(lambda: _post(url, -1.0)[0] == 408, 60, "a request stuck in version 1")
    assert hung
    assert requests.get(f"{url}/ping", timeout=10).status_code == 200  # still answering
    events = wait_until(lambda: _restarts(cluster_home), 90, "the audited replica restart")
    assert events[0]["target"] == "deployment/hung"
    assert "model version 1" in events[0]["reason"]
    assert "hard limit 2 s" in events[0]["reason"]

    def replaced() -> dict[str, Any] | None:
        now = _metadata(url)
        return now if now is not None and now["replica"] != before["replica"] else None

    after = wait_until(replaced, 120, "a new replica")
    assert after is not None
    assert after["deployment"] == "hung"
    answered = wait_until(lambda: _post(url, 0.0)[0] == 200, 60, "an answer from the new replica")
    assert answered
