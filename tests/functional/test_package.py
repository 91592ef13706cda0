"""`workbench package build|run|ls` without a Docker engine: bad input, no engine, context only,
and the packaged server's bearer token (where it comes from, refusing to start without one)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from workbench.artifacts.manifest import digest_path, verify_manifest, write_manifest
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.models import ModelLedger
from workbench.cli.main import cli
from workbench.core.settings import Settings
from workbench.services.package import image_token_file
from workbench.serving.standalone import (
    NO_AUTH_ENV,
    TOKEN_ENV,
    TOKEN_FILE_ENV,
    TokenMissing,
    resolve_token,
)


@pytest.fixture
def fraud(settings: Settings, tmp_path: Path) -> Path:
    """fraud v1: a small MLflow-like directory with a manifest, from a run with an AUC."""
    model = tmp_path / "artifacts" / "model"
    model.mkdir(parents=True)
    (model / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    (model / "requirements.txt").write_text(f"mlflow=={version('mlflow')}\n")
    (model / "model.pkl").write_bytes(b"weights")
    write_manifest(model)
    with Catalogue(DuckDBBackend(settings.catalogue_path)) as cat:
        run_id = cat.create_run("fraud")
        cat.log_metric(run_id, "auc", 0.93)
        cat.finish_run(run_id)
        ModelLedger(cat).register("fraud", run_id=run_id, uri=str(model),
                                  sha256=digest_path(model)[0], flavor="sklearn",
                                  signature=None, gate={"passed": True})  # fmt: skip
    return model


@pytest.fixture
def no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST pointing at a unix socket nobody listens on."""
    host = f"unix://{tmp_path / 'closed.sock'}"
    monkeypatch.setenv("DOCKER_HOST", host)
    return host


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _one_error(result: Result) -> str:
    """The error line, after checking it is one line plus a hint, with no traceback."""
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert [line.split(":")[0] for line in lines if not line.startswith(("·", " "))] == [
        "error", "hint"
    ], result.stderr  # fmt: skip
    return next(line for line in lines if line.startswith("error:"))


def _audit(settings: Settings) -> list[str]:
    with Catalogue(DuckDBBackend(settings.catalogue_path)) as cat:
        return [e.action for e in ModelLedger(cat).audit_events(100)]


@pytest.mark.usefixtures("fraud")
@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope:1", "no model named 'nope'"),
        ("fraud:9", "fraud has no version 9"),
        ("fraud@champion", "fraud has no alias 'champion'"),
        ("fraud!!", "is not NAME, NAME:VERSION or NAME@ALIAS"),
    ],
)
def test_bad_refs_exit_2_with_one_line(
    ref: str, message: str, settings: Settings, tmp_path: Path
) -> None:
    result = _invoke("package", "build", ref, "--context-only", str(tmp_path / "ctx"))
    assert result.exit_code == 2
    assert message in _one_error(result)
    assert not (tmp_path / "ctx").exists()
    assert _audit(settings) == ["model.register"]


@pytest.mark.usefixtures("fraud")
def test_bad_tag_and_used_directory_exit_2(tmp_path: Path) -> None:
    result = _invoke("package", "build", "fraud:1", "--tag", "Not A Tag", "--context-only", "x")
    assert result.exit_code == 2
    assert "is not a valid image tag" in _one_error(result)
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    result = _invoke("package", "build", "fraud", "--context-only", str(used))
    assert result.exit_code == 2
    assert "is not an empty directory" in _one_error(result)
    assert (used / "keep.txt").read_text() == "mine"


@pytest.mark.usefixtures("fraud")
def test_no_engine_suggests_context_only_and_audits_the_attempt(
    no_engine: str, settings: Settings
) -> None:
    result = _invoke("package", "build", "fraud:1")
    assert result.exit_code == 1
    assert "no Docker engine is reachable" in _one_error(result)
    assert "--context-only DIR" in result.stderr
    assert _audit(settings) == ["package.build.failed", "model.register"]
    refused = _invoke("models", "promote", "fraud:1", "champion", "--reason", "x",
                      "--require-image")  # fmt: skip
    assert refused.exit_code == 1
    assert "no image was built" in refused.stderr
    for args in (["package", "run", "workbench/fraud:1"], ["package", "ls", "--json"]):
        result = _invoke(*args)
        assert result.exit_code == 1, args
        assert "no Docker engine is reachable" in _one_error(result)
        assert result.stdout == ""


def test_a_credential_in_the_model_is_refused(
    fraud: Path, settings: Settings, tmp_path: Path
) -> None:
    leaky = tmp_path / "leaky"
    shutil.copytree(fraud, leaky)
    (leaky / "auth_token").write_text("s3cr3t")
    write_manifest(leaky)  # registered that way: manifest and digest vouch for it, still refused
    with Catalogue(DuckDBBackend(settings.catalogue_path)) as cat:
        ModelLedger(cat).register("fraud", run_id=cat.create_run("fraud"), uri=str(leaky),
                                  sha256=digest_path(leaky)[0], flavor="sklearn",
                                  signature=None, gate={"passed": True})  # fmt: skip
    result = _invoke("package", "build", "fraud:2", "--context-only", str(tmp_path / "ctx"))
    assert result.exit_code == 1
    assert "refusing to package auth_token" in _one_error(result)
    assert not (tmp_path / "ctx").exists()


def test_a_tampered_model_is_refused(fraud: Path, tmp_path: Path) -> None:
    (fraud / "model.pkl").write_bytes(b"weightz")
    result = _invoke("package", "build", "fraud:1", "--context-only", str(tmp_path / "ctx"))
    assert result.exit_code == 1
    assert "model.pkl does not match its checksum" in _one_error(result)


@pytest.mark.slow  # pip collects ~50 wheels (~140 MB) from the package index
@pytest.mark.usefixtures("no_engine")
def test_context_only_writes_a_complete_context_without_an_engine(
    fraud: Path, settings: Settings, tmp_path: Path
) -> None:
    dest = tmp_path / "ctx"
    result = _invoke("package", "build", "fraud", "--context-only",
                     str(dest), "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    done = json.loads(result.stdout)
    assert (done["name"], done["version"], done["tag"]) == ("fraud", 1, "workbench/fraud:1")
    assert done["build"] == f"docker build --network none -t workbench/fraud:1 {dest}"
    assert sorted(p.name for p in dest.iterdir()) == [
        "Dockerfile", "app", "model", "model-info.json", "sbom.cdx.json", "wheels"
    ]  # fmt: skip
    verify_manifest(dest / "model")
    assert (dest / "model" / "model.pkl").read_bytes() == b"weights"
    info = json.loads((dest / "model-info.json").read_text())
    assert (info["name"], info["version"], info["metrics"]) == ("fraud", 1, {"auc": 0.93})
    assert (dest / "app" / "workbench" / "serving" / "__main__.py").is_file()
    assert not list((dest / "app").rglob("__pycache__"))

    sbom = json.loads((dest / "sbom.cdx.json").read_text())
    libraries = {c["name"]: c for c in sbom["components"] if c["type"] == "library"}
    wheels = sorted((dest / "wheels").glob("*.whl"))
    assert len(libraries) == len(wheels) == done["packages"]
    for wheel in wheels:
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert digest in {c["hashes"][0]["content"] for c in libraries.values()}, wheel.name
    # Pinned to the host: the model's mlflow (as mlflow-skinny) and the serving runtime.
    for name, host in [("mlflow-skinny", version("mlflow")), ("starlette", version("starlette")),
                       ("uvicorn", version("uvicorn")), ("pyarrow", version("pyarrow"))]:  # fmt: skip
        assert libraries[name]["version"] == host, name
        assert libraries[name]["purl"] == f"pkg:pypi/{name}@{host}"
    assert "mlflow" not in libraries  # the full server distribution stays out of the image
    assert "cryptography" not in libraries  # mlflow-skinny's, never loaded by a scoring server
    [base] = [c for c in sbom["components"] if c["type"] == "container"]
    assert base["name"] == "python:3.11-slim"  # no engine was asked: its digest is unknown
    assert base["properties"] == [{"name": "workbench:base-digest", "value": "unknown"}]
    installed = (dest / "wheels" / "requirements.txt").read_text().split()
    assert sorted(installed) == sorted(f"{c['name']}=={c['version']}" for c in libraries.values())
    assert _audit(settings) == ["model.register"]  # a context is not an image


def test_standalone_server_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    """It exits before loading the model, saying how to give a token or opt out of auth."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    done = subprocess.run(
        [sys.executable, "-m", "workbench.serving", "--model-dir", str(tmp_path / "absent")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "refusing to start without a bearer token" in done.stderr
    assert "WORKBENCH_TOKEN_FILE" in done.stderr
    assert "WORKBENCH_NO_AUTH=1" in done.stderr
    assert "Traceback" not in done.stderr


def test_token_comes_from_a_file_then_the_environment_or_auth_is_off_on_purpose(
    tmp_path: Path,
) -> None:
    mounted = tmp_path / "mounted"
    mounted.write_text("from-file\n")
    both = {TOKEN_FILE_ENV: str(mounted), TOKEN_ENV: "from-env"}
    assert resolve_token(None, False, both) == "from-file"
    assert resolve_token(None, True, {TOKEN_ENV: " from-env "}) == "from-env"
    assert resolve_token(None, True, {}) is None
    assert resolve_token(None, False, {NO_AUTH_ENV: "1"}) is None
    for environ in ({}, {NO_AUTH_ENV: "0"}, {TOKEN_ENV: "  "}):
        with pytest.raises(TokenMissing, match="refusing to start"):
            resolve_token(None, False, environ)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(TokenMissing, match="is empty"):
        resolve_token(tmp_path / "empty", True, {TOKEN_ENV: "ignored: the file was named"})
    with pytest.raises(TokenMissing, match="cannot read the token file"):
        resolve_token(None, True, {TOKEN_FILE_ENV: str(tmp_path / "missing")})


def test_package_run_makes_one_private_token_file_per_image(settings: Settings) -> None:
    first = image_token_file(settings, "workbench/fraud:1")
    assert first == settings.home / "tokens" / "image-workbench_fraud_1.token"
    assert first.stat().st_mode & 0o777 == 0o600
    assert first.parent.stat().st_mode & 0o777 == 0o700
    token = first.read_text()
    assert len(token) >= 32
    assert image_token_file(settings, "workbench/fraud:1").read_text() == token  # kept
    assert image_token_file(settings, "workbench/fraud:2").read_text() != token
