"""Scheduled drift checks without a cluster: which checks are due, and the retrain that an
opening alert starts (a real `workbench run` of a tiny project; its version becomes
challenger)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.projects import write_project
from tests.fixtures.settings import outside_ray
from workbench.catalogue.catalogue import utcnow
from workbench.catalogue.deployments import DeploymentLedger
from workbench.catalogue.drift import DriftLedger
from workbench.catalogue.models import ModelLedger
from workbench.core.deployments import DeploymentSpec, RequestRecord, VersionEntry
from workbench.core.drift.profile import build_profile
from workbench.core.errors import InvalidInputError, NotFoundError
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.drift_schedule import (
    clear_schedule,
    due_checks,
    run_due_checks,
    schedules,
    set_schedule,
)

RNG = np.random.default_rng(3)


def _served(settings: Settings, root: Path, *, retrain: bool, interval: str = "5m") -> None:
    """Version tiny:1 with a profile of x ~ N(0, 1), served by deployment `tiny`."""
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.create_run("tiny")
        catalogue.finish_run(run_id)
        ModelLedger(catalogue).register(
            "tiny",
            run_id=run_id,
            uri=str(root),
            sha256="0" * 64,
            flavor="pyfunc",
            signature=None,
            gate={"passed": True},
        )
        schedule = {
            "interval": interval,
            "window": "1h",
            "retrain": retrain,
            "project_root": str(root),
        }
        DriftLedger(catalogue).save_profile(
            build_profile({"x": RNG.normal(size=5000)}),
            source="test",
            model_name="tiny",
            model_version=1,
            run_id=run_id,
            config={"schedule": schedule},
        )
        spec = DeploymentSpec(
            name="tiny",
            home=str(settings.home),
            route_prefix="/tiny",
            url="http://127.0.0.1:8000/tiny",
            versions=(VersionEntry("tiny", 1, str(root)),),
        )
        DeploymentLedger(catalogue).record(spec, "running", action="deploy", reason="test")


def _log_rows(settings: Settings, values: np.ndarray, at: datetime) -> None:
    record = RequestRecord(
        request_id="r1",
        ts=at,
        model_version=1,
        status_code=200,
        latency_ms=1.0,
        inputs=None,
        outputs=None,
        columns={"x": values},
        predictions=[0.0] * len(values),
    )
    with open_catalogue(settings) as catalogue:
        DeploymentLedger(catalogue).log_requests("tiny", [record])
        catalogue.backend.sync()


def test_a_project_schedule_makes_a_check_due_until_it_ran(home: Path, tmp_path: Path) -> None:
    settings = outside_ray(home)
    _served(settings, tmp_path / "proj", retrain=False)
    now = utcnow()
    _log_rows(settings, RNG.normal(size=300), now - timedelta(minutes=5))
    with open_catalogue(settings) as catalogue:
        due = due_checks(catalogue, now)
    assert [(d.schedule.deployment, d.model_name, d.model_version) for d in due] == [
        ("tiny", "tiny", 1)
    ]
    assert due[0].schedule.source == "project"
    assert due[0].schedule.interval == timedelta(minutes=5)
    outcomes = run_due_checks(settings, now)
    assert [o.status for o in outcomes] == ["ok"]
    assert outcomes[0].retrain_log is None
    with open_catalogue(settings) as catalogue:
        assert due_checks(catalogue, now + timedelta(minutes=4)) == []
        assert len(due_checks(catalogue, now + timedelta(minutes=5))) == 1


def test_a_deployment_schedule_overrides_the_project_and_can_be_dropped(
    home: Path, tmp_path: Path
) -> None:
    settings = outside_ray(home)
    _served(settings, tmp_path / "proj", retrain=False)
    made = set_schedule(
        settings, "tiny", every=timedelta(minutes=2), window=timedelta(hours=2), retrain=False
    )
    assert made.source == "deployment"
    assert [(s.deployment, s.interval, s.source) for s in schedules(settings)] == [
        ("tiny", timedelta(minutes=2), "deployment")
    ]
    assert clear_schedule(settings, "tiny") is True
    assert [s.source for s in schedules(settings)] == ["project"]
    assert clear_schedule(settings, "tiny") is False
    with pytest.raises(InvalidInputError):
        set_schedule(
            settings, "tiny", every=timedelta(seconds=10), window=timedelta(hours=1), retrain=False
        )
    with pytest.raises(NotFoundError):
        set_schedule(
            settings, "nope", every=timedelta(minutes=5), window=timedelta(hours=1), retrain=False
        )


@pytest.mark.slow
def test_an_opening_alert_retrains_and_the_new_version_becomes_challenger(
    home: Path, tmp_path: Path
) -> None:
    settings = outside_ray(home)
    root = write_project(tmp_path / "proj", name="tiny", threshold=0.1)
    _served(settings, root, retrain=True)
    now = utcnow()
    _log_rows(settings, RNG.normal(3.0, 1.0, size=300), now - timedelta(minutes=1))
    outcomes = run_due_checks(settings, now)
    assert [o.status for o in outcomes] == ["drift"]
    assert outcomes[0].retrain_log is not None
    log = Path(outcomes[0].retrain_log)

    deadline = time.monotonic() + 240
    challenger = None
    while time.monotonic() < deadline and challenger is None:
        with open_catalogue(settings) as catalogue:
            challenger = ModelLedger(catalogue).alias_target("tiny", "challenger")
        if challenger is None:
            time.sleep(1.0)
    assert challenger == 2, log.read_text()[-3000:] if log.exists() else "no retrain log"
    with open_catalogue(settings) as catalogue:
        actions = [e.action for e in ModelLedger(catalogue).audit_events(50)]
    assert "drift.alert" in actions
    assert "drift.retrain" in actions
    # The alert was open already: the next due check does not start a second retrain.
    again = run_due_checks(settings, now + timedelta(minutes=6))
    assert [o.retrain_log for o in again] == [None]
