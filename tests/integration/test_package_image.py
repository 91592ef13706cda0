"""`package build` and `package run` against a real Docker engine, with a real fraud model.

One image is built for the whole module (a build takes minutes on the vfs storage driver),
from the local base image that .ci/engines.sh makes (no registry is reachable in CI).
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from packaging.utils import canonicalize_name

from tests.conftest import run_cli
from tests.fixtures.engines import require_engine
from tests.fixtures.models import holdout_rows, register_fraud, train_fraud_model
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.models import ModelLedger
from workbench.core.settings import load_settings

# The shared build runs inside the first test's setup: give it more than the default 600 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
_SITE = "/opt/venv/lib/python3.11/site-packages"
BASE = os.environ.get("WORKBENCH_TEST_BASE_IMAGE", "workbench-test-base:bookworm")


class Fraud:
    """fraud v1, trained on 3,000 rows and registered in its own WORKBENCH_HOME."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.model_dir = train_fraud_model(root / "train")
        with Catalogue(DuckDBBackend(load_settings(self.home).catalogue_path)) as catalogue:
            register_fraud(catalogue, self.model_dir)

    def cli(
        self, *args: str, code: int = 0, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        result = run_cli(self.home, *args, timeout=timeout)
        assert result.returncode == code, result.stderr[-3000:]
        return result

    def audit(self) -> list[dict[str, Any]]:
        with Catalogue(DuckDBBackend(load_settings(self.home).catalogue_path)) as catalogue:
            return [event.to_json() for event in ModelLedger(catalogue).audit_events(100)]


@pytest.fixture(scope="module")
def remover(docker_engine: Any) -> Any:
    """A client that waits for removals: on vfs, under load, they can outlast the 60 s default."""
    import docker

    return docker.from_env(timeout=600)


@pytest.fixture(scope="module")
def fraud(
    docker_engine: Any, remover: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fraud]:
    try:
        docker_engine.images.get(BASE)
    except Exception:  # docker.errors.ImageNotFound, without importing docker here
        require_engine(f"base image {BASE} is missing; .ci/engines.sh builds it")
    dangling = _dangling(docker_engine)
    yield Fraud(tmp_path_factory.mktemp("package"))
    # Builds keep their builder stage and a failed build's steps as cache: drop ours.
    for image_id in _dangling(docker_engine) - dangling:
        remover.images.remove(image_id, force=True)


def _dangling(docker_engine: Any) -> set[str]:
    """Ids only: listing Image objects inspects each, racing whoever removes one meanwhile."""
    return set(docker_engine.api.images(filters={"dangling": True}, quiet=True))


@pytest.fixture(scope="module")
def image(remover: Any, fraud: Fraud) -> Iterator[dict[str, Any]]:
    """`package build fraud:1`, once; the image is removed after the module."""
    result = fraud.cli("package", "build", "fraud:1", "--base-image", BASE, "--json",
                       timeout=1800)  # fmt: skip
    built = json.loads(result.stdout)
    print(f"\nbuilt {built['tag']}: {built['size_mb']} MB in {built['seconds']} s")  # noqa: T201
    yield built
    remover.images.remove(built["image_id"], force=True)


@pytest.fixture(scope="module")
def served(
    docker_engine: Any, remover: Any, image: dict[str, Any], fraud: Fraud
) -> Iterator[dict[str, Any]]:
    """`package run` of the image, as a user sees it; the container is removed after the module."""
    result = fraud.cli("package", "run", image["tag"])
    short_id = re.search(r"docker rm -f ([0-9a-f]{12})", result.stderr)
    assert short_id is not None, result.stderr
    container = docker_engine.containers.get(short_id[1])
    token_file = fraud.home / "tokens" / "image-workbench_fraud_1.token"
    yield {"url": result.stdout.strip(), "container": container.id, "token_file": token_file,
           "output": result.stdout + result.stderr}  # fmt: skip
    remover.containers.get(container.id).remove(force=True)


def _post(url: str, body: bytes, token: str | None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _exec(docker_engine: Any, container: str, *command: str) -> str:
    code, output = docker_engine.containers.get(container).exec_run(list(command))
    assert code == 0, output.decode(errors="replace")
    return str(output.decode())


def test_build_reports_size_and_largest_layers(image: dict[str, Any]) -> None:
    assert image["tag"] == "workbench/fraud:1"
    assert image["image_id"].startswith("sha256:")
    assert 0 < image["size_mb"] < 1200  # MLflow's own images weigh ~3 GB
    assert image["largest_layers"][0]["size_mb"] > 100
    assert image["packages"] > 20


def test_image_is_non_root_labelled_and_health_checked(
    docker_engine: Any, image: dict[str, Any], fraud: Fraud
) -> None:
    config = docker_engine.images.get(image["tag"]).attrs["Config"]
    assert config["User"] not in ("", "root", "0")
    assert not config["User"].startswith(("0:", "root:"))
    labels = config["Labels"]
    for key in ("title", "version", "created", "revision", "description"):
        assert labels[f"org.opencontainers.image.{key}"], key
    assert labels["io.workbench.model.name"] == "fraud"
    assert labels["io.workbench.model.version"] == "1"
    source_run = labels["io.workbench.model.source_run"]
    assert len(source_run) == 32
    assert json.loads(labels["io.workbench.model.metrics"]) == {"auc": 0.95}
    assert (
        labels["io.workbench.model.sha256"]
        == json.loads(fraud.cli("models", "show", "fraud:1", "--json").stdout)["sha256"]
    )
    assert "/ping" in " ".join(config["Healthcheck"]["Test"])
    names = [entry.split("=", 1)[0] for entry in config["Env"]]
    assert not [name for name in names if any(s in name for s in ("TOKEN", "SECRET", "PASSWORD"))]
    history = docker_engine.api.history(image["image_id"])
    assert not [layer for layer in history if " ARG " in f" {layer['CreatedBy']} "]


def test_container_serves_the_in_process_models_predictions(
    served: dict[str, Any], fraud: Fraud
) -> None:
    import mlflow.pyfunc

    url = served["url"]
    assert url.startswith("http://127.0.0.1:")
    rows = holdout_rows(fraud.root / "train", 25)
    split = json.loads(rows.to_json(orient="split", index=False))
    body = json.dumps({"dataframe_split": split}).encode()
    token = served["token_file"].read_text()
    assert _post(url, body, None)[0] == 401
    assert _post(url, body, token + "x")[0] == 401
    status, answer = _post(url, body, token)
    assert status == 200, answer
    predictions = np.asarray(json.loads(answer)["predictions"])
    expected = np.asarray(mlflow.pyfunc.load_model(str(fraud.model_dir)).predict(rows))
    assert predictions.shape == expected.shape == (25, 2)
    np.testing.assert_allclose(predictions, expected, rtol=1e-12)
    metadata_request = urllib.request.Request(
        f"{url}/metadata", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(metadata_request, timeout=10) as response:
        metadata = json.loads(response.read())
    assert (metadata["name"], metadata["version"]) == ("fraud", 1)


def test_image_holds_what_its_sbom_lists_and_nothing_else(
    docker_engine: Any, served: dict[str, Any]
) -> None:
    container = served["container"]
    assert _exec(docker_engine, container, "id", "-u").strip() == "10001"
    assert _exec(docker_engine, container, "stat", "-c", "%u", "/home/workbench").strip() == "10001"
    sbom = json.loads(_exec(docker_engine, container, "cat", "/opt/sbom.cdx.json"))
    listed = {c["name"]: c["version"] for c in sbom["components"] if c["type"] == "library"}
    script = ("import importlib.metadata as m, json; "
              "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")  # fmt: skip
    installed = json.loads(_exec(docker_engine, container, "python3", "-c", script))
    workbench = installed.pop("workbench")  # the source on PYTHONPATH, not a pip install
    assert workbench == version("workbench")
    normalized = {canonicalize_name(name): v for name, v in installed.items()}
    assert normalized == listed  # every installed package, and only those
    for name in ("mlflow-skinny", "starlette", "uvicorn", "pyarrow", "scikit-learn", "skops"):
        assert listed[name] == version(name), name  # pinned to the host's versions
    for component in sbom["components"]:
        if component["type"] == "library":
            assert component["purl"] == f"pkg:pypi/{component['name']}@{component['version']}"
            assert len(component["hashes"][0]["content"]) == 64
    for absent in ("ray", "mlflow", "pip", "torch", "cryptography", "gitpython"):
        assert absent not in normalized, absent  # the last two: mlflow-skinny's, never loaded
    pyarrow = _exec(docker_engine, container, "ls", _SITE + "/pyarrow").split()
    assert not [name for name in pyarrow if "flight" in name or name == "include"]


def test_container_runs_read_only_unprivileged_on_loopback(
    docker_engine: Any, served: dict[str, Any]
) -> None:
    container = docker_engine.containers.get(served["container"])
    host = container.attrs["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert not host.get("CapAdd")
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert not host["Privileged"]
    assert container.attrs["Config"]["User"] == "10001:10001"
    assert [b["HostIp"] for b in host["PortBindings"]["8080/tcp"]] == ["127.0.0.1"]
    code, _ = container.exec_run(["touch", "/opt/written"])
    assert code != 0  # the root filesystem refuses writes
    capabilities = _exec(docker_engine, served["container"], "grep", "^Cap", "/proc/1/status")
    assert {line.split()[1] for line in capabilities.splitlines()} == {"0000000000000000"}


def test_token_is_a_private_file_never_in_image_or_output(
    docker_engine: Any, image: dict[str, Any], served: dict[str, Any]
) -> None:
    token_file: Path = served["token_file"]
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text()
    assert len(token) >= 32
    assert str(token_file) in served["output"]
    assert token not in served["output"]
    container = docker_engine.containers.get(served["container"])
    assert token not in json.dumps(container.attrs)  # env, mounts, labels: only the path
    assert "WORKBENCH_TOKEN_FILE=/run/secrets/workbench" in container.attrs["Config"]["Env"]
    assert token not in json.dumps(docker_engine.images.get(image["image_id"]).attrs)
    assert token not in json.dumps(docker_engine.api.history(image["image_id"]))
    assert token not in container.logs().decode(errors="replace")


def test_image_refuses_to_start_without_a_token(
    docker_engine: Any, remover: Any, image: dict[str, Any]
) -> None:
    container = docker_engine.containers.run(image["image_id"], detach=True)
    try:
        assert container.wait(timeout=120)["StatusCode"] != 0
        log = container.logs().decode(errors="replace")
    finally:
        remover.containers.get(container.id).remove(force=True)
    assert "refusing to start without a bearer token" in log
    assert "WORKBENCH_NO_AUTH=1" in log  # how to run without auth, on purpose
    assert "Traceback" not in log


def test_labels_and_sbom_record_the_base_image_by_digest(
    docker_engine: Any, image: dict[str, Any], served: dict[str, Any]
) -> None:
    base_id = docker_engine.images.get(BASE).id  # imported locally: no registry digest
    assert base_id.startswith("sha256:")
    assert (image["base_digest"], image["base_digest_source"]) == (base_id, "image-id")
    labels = docker_engine.images.get(image["image_id"]).attrs["Config"]["Labels"]
    assert labels["org.opencontainers.image.base.name"] == BASE
    assert labels["org.opencontainers.image.base.digest"] == base_id
    assert labels["io.workbench.base.digest_source"] == "image-id"
    sbom = json.loads(_exec(docker_engine, served["container"], "cat", "/opt/sbom.cdx.json"))
    [base] = [c for c in sbom["components"] if c["type"] == "container"]
    assert base["name"] == BASE
    assert base["hashes"] == [{"alg": "SHA-256", "content": base_id.removeprefix("sha256:")}]
    assert {"name": "workbench:base-digest-source", "value": "image-id"} in base["properties"]


def test_champion_gate_sees_the_image_and_ls_lists_it(image: dict[str, Any], fraud: Fraud) -> None:
    fraud.cli("models", "promote", "fraud:1", "champion", "--reason", "image built",
              "--require-image")  # fmt: skip
    built = [e for e in fraud.audit() if e["action"] == "package.build"]
    assert built[0]["target"] == "fraud:1"
    assert built[0]["details"]["image_id"] == image["image_id"]
    listed = json.loads(fraud.cli("package", "ls", "--json").stdout)
    mine = [row for row in listed if image["tag"] in row["tags"]]
    assert [(row["model"], row["version"]) for row in mine] == [("fraud", "1")]


def test_missing_base_image_is_named_with_a_hint(fraud: Fraud) -> None:
    result = fraud.cli("package", "build", "fraud:1", "--base-image", "workbench-absent:0",
                       code=1)  # fmt: skip
    assert "base image 'workbench-absent:0' is not on this machine" in result.stderr
    assert "docker pull workbench-absent:0" in result.stderr
    assert "Traceback" not in result.stderr
    failed = [e for e in fraud.audit() if e["action"] == "package.build.failed"]
    assert "workbench-absent:0" in failed[0]["details"]["error"]


def test_failing_build_shows_the_steps_last_log_lines(docker_engine: Any, fraud: Fraud) -> None:
    broken = "workbench-test-broken-python:1"
    docker_engine.api.import_image_from_data(_broken_python_rootfs(), repository=broken)
    try:
        result = fraud.cli("package", "build", "fraud:1", "--base-image", broken,
                           "--tag", "workbench/broken:1", code=1, timeout=900)  # fmt: skip
    finally:
        docker_engine.images.remove(broken, force=True)
    assert "docker build failed at step 3/" in result.stderr
    assert "the command exited with code 3" in result.stderr
    assert "this python3 is broken on purpose" in result.stderr  # the step's own output
    assert "Traceback" not in result.stderr
    assert not docker_engine.images.list(name="workbench/broken")


def _broken_python_rootfs() -> bytes:
    """A tiny image: the host's /bin/sh and libc, and a `python3` that fails loudly."""
    files = ["/bin/sh", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in files:
            tar.add(os.path.realpath(path), arcname=path.lstrip("/"))
        script = b"#!/bin/sh\necho 'this python3 is broken on purpose' >&2\nexit 3\n"
        info = tarfile.TarInfo("usr/bin/python3")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


def test_run_of_an_image_that_does_not_serve_shows_its_log_and_is_removed(
    docker_engine: Any, fraud: Fraud
) -> None:
    before = {c.id for c in docker_engine.containers.list(all=True)}
    result = fraud.cli("package", "run", BASE, code=1)  # its CMD is a python3 that exits at once
    assert "exited (code 0) before it answered http://127.0.0.1:" in result.stderr
    assert "it was removed" in result.stderr
    with socket.socket() as busy:  # a port someone else holds
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = fraud.cli("package", "run", BASE, "--port", port, code=1)
    assert f"docker could not start {BASE}" in result.stderr
    assert "--port" in result.stderr
    assert {c.id for c in docker_engine.containers.list(all=True)} == before
    result = fraud.cli("package", "run", "workbench/absent:0", code=2)
    assert "no image 'workbench/absent:0' on this machine" in result.stderr
