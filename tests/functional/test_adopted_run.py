"""A detached run's driver that cannot start (here: its cluster is gone) fails the queued run
it was to adopt, instead of leaving it queued forever."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.fixtures.projects import write_project
from workbench.core.entities import RunStatus
from workbench.core.settings import load_settings
from workbench.owner import open_catalogue


def test_a_driver_that_cannot_start_fails_its_queued_run(home: Path, tmp_path: Path) -> None:
    settings = load_settings(home)
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.create_run("tiny", status=RunStatus.QUEUED)
    (home / "cluster.json").write_text(
        json.dumps({"address": "127.0.0.1:1", "dashboard_url": "http://127.0.0.1:2",
                    "process_group": 2**22 + 12345, "cpus": 2, "gpus": 0,
                    "started_at": "2026-01-01T00:00:00+00:00"})
    )  # fmt: skip
    result = run_cli(home, "run", str(write_project(tmp_path / "proj")), "--adopt", run_id)
    assert result.returncode == 2
    assert "the cluster at 127.0.0.1:1 is down" in result.stderr
    with open_catalogue(settings) as catalogue:
        run = catalogue.get_run(run_id)
    assert run.status == RunStatus.FAILED
    assert run.error == "the driver could not start: the cluster at 127.0.0.1:1 is down"
