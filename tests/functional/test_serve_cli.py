"""Bad input to `serve`, `deployments` and `predict`: one-line errors, exit 2, no cluster started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fixtures.models import register_fraud, save_broken_model
from workbench.artifacts.manifest import write_manifest
from workbench.catalogue import Catalogue
from workbench.cli.main import cli
from workbench.core.settings import Settings


@pytest.fixture
def models(catalogue: Catalogue, tmp_path: Path) -> Path:
    """fraud v1 (a real MLflow model that fails to load, cheap to make), a tampered v2, and v3
    like v1 but taking another column."""
    first = save_broken_model(
        _dir(tmp_path / "a"), _signature(tmp_path / "like-a", "amount"), "load"
    )
    register_fraud(catalogue, first)
    second = tmp_path / "v2"
    second.mkdir()
    (second / "MLmodel").write_text("flavors: {}\n")
    write_manifest(second)
    register_fraud(catalogue, second)
    (second / "MLmodel").write_text("flavors: {evil: 1}\n")  # changed after registration
    third = save_broken_model(_dir(tmp_path / "b"), _signature(tmp_path / "like-b", "hour"), "load")
    register_fraud(catalogue, third)
    catalogue.close()
    return tmp_path


def _dir(path: Path) -> Path:
    path.mkdir()
    return path


def _signature(path: Path, column: str) -> Path:
    """A directory whose MLmodel holds only a one-column signature (what save_broken_model copies)."""
    path.mkdir()
    inputs = json.dumps([{"type": "double", "name": column, "required": True}])
    (path / "MLmodel").write_text(f"signature:\n  inputs: '{inputs}'\n  outputs: null\n")
    return path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["serve", "nope"], "no model named 'nope'"),
        (["serve", "fraud:9"], "fraud has no version 9"),
        (["serve", "fraud@champion"], "has no alias 'champion'"),
        (["serve", "fraud:"], "is not NAME, NAME:VERSION or NAME@ALIAS"),
        (["serve", "fraud:1", "--canary", "fraud:1"], "--canary needs --traffic"),
        (["serve", "fraud:1", "--traffic", "10"], "--traffic needs --canary"),
        (["serve", "fraud:1", "--canary", "fraud:2", "--traffic", "150"], "not between 0 and 100"),
        (["serve", "fraud:1", "--shadow", "fraud:1"], "is the primary itself"),
        (["serve", "fraud:1", "--route-prefix", "fraud"], "must start with /"),
        (["serve", "fraud:1", "--autoscale", "3"], "expected MIN,MAX"),
        (["serve", "fraud:1", "--replicas", "0"], "0 is not in the range"),
        (["deployments", "show", "nope"], "no deployment named 'nope'"),
        (["deployments", "promote", "nope"], "no deployment named 'nope'"),
        (["deployments", "stop", "nope"], "no deployment named 'nope'"),
        (["predict", "nope", "--input", "rows.json"], "no deployment named 'nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2(models: Path, args: list[str], words: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert not (models / "home" / "cluster.json").exists()  # nothing was started


def test_a_tampered_version_is_refused_before_serving(models: Path, settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["serve", "fraud:2"])
    assert result.exit_code == 1
    assert "MLmodel" in result.stderr
    assert not (settings.home / "cluster.json").exists()


def test_canary_with_other_inputs_is_refused(models: Path, settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["serve", "fraud:1", "--canary", "fraud:3", "--traffic", "5"])
    assert result.exit_code == 2
    assert "canary fraud:3 takes different inputs than fraud:1" in result.stderr
    assert not (settings.home / "cluster.json").exists()


def test_deployments_ls_empty(models: Path) -> None:
    result = CliRunner().invoke(cli, ["deployments", "ls", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
