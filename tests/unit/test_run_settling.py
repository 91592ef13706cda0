"""Ended runs settle on their own: the owner's housekeeping stores each ended run's final
resources once its last samples are in, before retention prunes those samples."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue, utcnow
from workbench.catalogue.run_resources import SETTLE_S, RunResourceLedger
from workbench.catalogue.telemetry import RETENTION_S
from workbench.core.entities import RunStatus
from workbench.core.errors import InvalidInputError
from workbench.core.settings import ResourcePricing, Settings, telemetry_retention_seconds
from workbench.core.telemetry import NodeSample, ProcessUsage
from workbench.owner.actor import housekeeping
from workbench.services.run_resources import run_resources

DAY = 86400.0


def _samples(run_id: str, first_ago_s: float, seconds: int) -> list[NodeSample]:
    """One sample a second of one process at a full core, ending `first_ago_s - seconds` ago."""
    now = utcnow()
    return [
        NodeSample(
            ts=now - timedelta(seconds=first_ago_s - i),
            node_id="node-a",
            hostname="host-a",
            cpu_percent=50.0,
            cpu_per_core=(100.0, 0.0),
            load_1m=1.0,
            load_5m=1.0,
            load_15m=1.0,
            mem_used_bytes=1,
            mem_total_bytes=2,
            swap_used_bytes=0,
            swap_total_bytes=0,
            processes=(ProcessUsage(101, 100.0, 4096, run_id=run_id),),
        )
        for i in range(seconds + 1)
    ]


def _run(catalogue: Catalogue, status: RunStatus, ended_ago_s: float | None) -> str:
    run_id = catalogue.create_run("p")
    if status != RunStatus.RUNNING:
        catalogue.set_status(run_id, status)
        if ended_ago_s is not None:
            ended = utcnow() - timedelta(seconds=ended_ago_s)
            update = Statement("UPDATE runs SET ended_at = ? WHERE run_id = ?", (ended, run_id))
            catalogue.backend.write([update])
    return run_id


def _record(catalogue: Catalogue, run_id: str, first_ago_s: float, seconds: int) -> None:
    RunResourceLedger(catalogue).append(_samples(run_id, first_ago_s, seconds))
    catalogue.backend.sync()


def test_housekeeping_settles_ended_runs_once_their_samples_are_in(catalogue: Catalogue) -> None:
    ended = _run(catalogue, RunStatus.FINISHED, ended_ago_s=SETTLE_S + 60)
    failed = _run(catalogue, RunStatus.FAILED, ended_ago_s=SETTLE_S + 60)
    just_ended = _run(catalogue, RunStatus.FINISHED, ended_ago_s=1)
    running = _run(catalogue, RunStatus.RUNNING, ended_ago_s=None)
    for run_id in (ended, failed, just_ended, running):
        _record(catalogue, run_id, first_ago_s=SETTLE_S + 60 + 360, seconds=360)
    pricing = ResourcePricing(cpu_hour=3.0)
    housekeeping(catalogue, utcnow(), RETENTION_S, pricing)
    ledger = RunResourceLedger(catalogue)
    for run_id in (ended, failed):
        stored = ledger.stored(run_id)
        assert stored is not None
        assert stored.final
        assert stored.usage.cpu_hours == pytest.approx(0.1)  # 360 s at one core
        assert stored.cost == pytest.approx(0.3)
    assert ledger.stored(just_ended) is None  # its last batch may still be on its way
    assert ledger.stored(running) is None
    assert ledger.settle_ended(pricing, utcnow()) == [just_ended]  # once, then never again
    assert ledger.settle_ended(pricing, utcnow()) == []


def test_a_settled_run_keeps_its_figures_when_retention_prunes_its_samples(
    catalogue: Catalogue, settings: Settings
) -> None:
    old = _run(catalogue, RunStatus.FINISHED, ended_ago_s=9 * DAY)
    _record(catalogue, old, first_ago_s=9 * DAY + 3600, seconds=3600)
    recent = _run(catalogue, RunStatus.RUNNING, ended_ago_s=None)
    _record(catalogue, recent, first_ago_s=120, seconds=60)
    # Retention of a week: the old run's samples go, but it is settled first.
    housekeeping(catalogue, utcnow(), 7 * DAY, ResourcePricing(cpu_hour=1.0))
    counts = catalogue.sql(
        "SELECT run_id, count(*) AS n FROM telemetry_processes GROUP BY run_id"
    ).to_pylist()
    assert counts == [{"run_id": recent, "n": 61}]
    catalogue.close()
    shown = run_resources(settings, old, utcnow() - timedelta(days=9))
    assert shown.final
    assert shown.usage.cpu_hours == pytest.approx(1.0)
    assert shown.usage.samples == 3601


def test_a_run_shown_right_after_it_ended_is_not_final_yet(
    catalogue: Catalogue, settings: Settings
) -> None:
    run_id = _run(catalogue, RunStatus.FINISHED, ended_ago_s=1)
    _record(catalogue, run_id, first_ago_s=61, seconds=60)
    catalogue.close()
    first = run_resources(settings, run_id, utcnow() - timedelta(seconds=1))
    assert not first.final
    assert first.usage.samples == 61
    later = run_resources(settings, run_id, utcnow() - timedelta(seconds=SETTLE_S + 1))
    assert later.final


def test_a_final_run_is_priced_at_the_prices_set_now(
    catalogue: Catalogue, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _run(catalogue, RunStatus.FINISHED, ended_ago_s=SETTLE_S + 60)
    _record(catalogue, run_id, first_ago_s=SETTLE_S + 60 + 3600, seconds=3600)
    housekeeping(catalogue, utcnow(), RETENTION_S, ResourcePricing())  # the head's: no prices
    catalogue.close()
    monkeypatch.setenv("WORKBENCH_PRICE_CPU_HOUR", "0.5")
    shown = run_resources(settings, run_id, utcnow() - timedelta(seconds=SETTLE_S + 60))
    assert shown.final
    assert shown.cost == pytest.approx(0.5)


def test_retention_is_configurable_in_days() -> None:
    assert telemetry_retention_seconds({}) == 30 * DAY
    assert telemetry_retention_seconds({"WORKBENCH_TELEMETRY_RETENTION_DAYS": "0.5"}) == DAY / 2
    for bad in ("0", "-1", "week", "nan"):
        with pytest.raises(InvalidInputError, match="WORKBENCH_TELEMETRY_RETENTION_DAYS") as raised:
            telemetry_retention_seconds({"WORKBENCH_TELEMETRY_RETENTION_DAYS": bad})
        assert raised.value.exit_code == 2
