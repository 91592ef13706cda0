"""`deployments promote/rollback/stop --reason`: the reason lands in the audit row; without
one the automatic text stays (the behaviour before --reason existed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.tui.catalogue_fixture import build_fixed_catalogue
from workbench.cli.main import cli
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
