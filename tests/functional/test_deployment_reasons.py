"""`deployments promote/rollback/stop --reason`: the reason lands in the audit row; without
one the automatic text stays (the behaviour before --reason existed)."""

from __future__ import annotations

import json
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.tui.catalogue_fixture import build_fixed_catalogue
from workbench.cli.main import cli
from workbench.compute.profile import ClusterProfile, write_profile
from workbench.core.deployments import Deployment, DeploymentSpec
from workbench.core.settings import Settings, load_settings
from workbench.services import serve
from workbench.services.models import audit_trail


@pytest.fixture
def fixed(home: Path) -> Settings:
    """The TUI's fixed catalogue: deployment `fraud` runs v2 with a v3 canary (no cluster)."""
    build_fixed_catalogue(home)
    return load_settings(home)


@pytest.mark.parametrize(
    ("args", "reason"),
    [((), "deployments stop"), (("--reason", "traffic moved to the new region"),
                                "traffic moved to the new region")],
)  # fmt: skip
def test_stop_records_the_reason(fixed: Settings, args: tuple[str, ...], reason: str) -> None:
    result = CliRunner().invoke(cli, ["deployments", "stop", "fraud", *args, "--json"])
    assert result.exit_code == 0, result.output
    newest = audit_trail(fixed, limit=1)[0]
    assert (newest.action, newest.target, newest.reason) == ("deployment.stop",
                                                             "deployment/fraud", reason)  # fmt: skip


@pytest.fixture
def applied(monkeypatch: pytest.MonkeyPatch) -> list[tuple[DeploymentSpec, str, str]]:
    """What promote and rollback would deploy, with the audit action and reason (no Serve)."""
    calls: list[tuple[DeploymentSpec, str, str]] = []

    def apply(settings: Settings, spec: DeploymentSpec, *, action: str, reason: str) -> Any:
        calls.append((spec, action, reason))
        return Deployment(spec, "running")

    monkeypatch.setattr(serve, "_apply", apply)
    # A cluster that started before the deployment was recorded: it counts as running there.
    monkeypatch.setattr(serve, "serving_since", lambda settings: datetime(2000, 1, 1))
    return calls


@pytest.mark.parametrize(
    ("verb", "automatic"),
    [("promote", "canary fraud_detection:3 promoted"), ("rollback", "canary removed by hand")],
)
def test_promote_and_rollback_pass_the_reason_or_keep_the_automatic_text(
    fixed: Settings, applied: list[tuple[DeploymentSpec, str, str]], verb: str, automatic: str
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["deployments", verb, "fraud", "--json"]).exit_code == 0
    result = runner.invoke(cli, ["deployments", verb, "fraud", "--reason", "p99 doubled", "--json"])
    assert result.exit_code == 0, result.output
    assert [(action, reason) for _, action, reason in applied] == [
        (f"deployment.{verb}", automatic),
        (f"deployment.{verb}", "p99 doubled"),
    ]
    assert all(spec.canary is None for spec, _, _ in applied)  # both leave no canary


def test_a_running_deployment_without_its_cluster_is_unreachable(fixed: Settings) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["deployments", "ls", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(d["name"], d["status"]) for d in json.loads(listed.output)] == [
        ("fraud", "unreachable")
    ]
    refused = runner.invoke(cli, ["predict", "fraud", "--input", "-"], input="{}")
    assert refused.exit_code == 2
    assert "deployment 'fraud' is unreachable (its Ray cluster is down" in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)


def test_cluster_down_after_a_head_crash_keeps_its_deployments_unreachable(
    fixed: Settings, tmp_path: Path
) -> None:
    """A killed head's process group can linger (processes not reaped yet) while its control
    store is gone: `cluster down` must not record as stopped what the crash already took."""
    lingering = subprocess.Popen(["sleep", "600"], start_new_session=True)
    with socket.socket() as closed:  # a port nothing listens on: the dead head's GCS
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    write_profile(fixed, ClusterProfile(
        address=f"127.0.0.1:{port}", dashboard_url="", process_group=lingering.pid, cpus=2,
        gpus=0, started_at=datetime.now(UTC).isoformat(),
    ))  # fmt: skip
    try:
        result = CliRunner().invoke(cli, ["cluster", "down"])
        assert result.exit_code == 0, result.output
        assert lingering.wait(timeout=10) != 0  # the leftovers were killed all the same
    finally:
        lingering.kill()
    listed = CliRunner().invoke(cli, ["deployments", "ls", "--json"])
    assert [(d["name"], d["status"]) for d in json.loads(listed.output)] == [
        ("fraud", "unreachable")
    ]
    assert audit_trail(fixed, limit=1)[0].action != "deployment.stop"
