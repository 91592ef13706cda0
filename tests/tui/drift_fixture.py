"""Drift checks for the fixed catalogue: seeded data compared by the real check, stored by
DriftLedger.save_check, then pinned to fixed ids and times for deterministic screens.

Checks of fraud_detection v2 and v3 on the `fraud` deployment and one file check of
predictive_maintenance v1. The newest check of each fraud version found drift, so both are
open drift alerts; the newest v3 check has a feature of every status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tests.tui.catalogue_fixture import FRAUD, MAINT, NOW
from workbench.catalogue import Catalogue, Statement
from workbench.catalogue.drift import CheckTarget, DriftLedger
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.drift.check import Reference, compare
from workbench.core.drift.config import DriftConfig

REFERENCE_ROWS = 2000
CATEGORIES = ("grocery", "travel", "online", "fuel")


@dataclass(frozen=True)
class FixtureCheck:
    """One stored check: its pinned id and age, what it compared and how the data moved."""

    check_id: str
    minutes_ago: int
    model: str
    version: int
    deployment: str | None
    source: str
    rows: int
    shifted: bool


CHECKS = (
    FixtureCheck("c0ffee000001", 300, FRAUD, 2, "fraud", "last 1h", 3000, False),
    FixtureCheck("c0ffee000002", 180, FRAUD, 2, "fraud", "last 1h", 800, True),
    FixtureCheck("c0ffee000003", 120, FRAUD, 3, "fraud", "last 1h", 3000, False),
    FixtureCheck("c0ffee000004", 90, MAINT, 1, None, "today.parquet", 1200, False),
    FixtureCheck("c0ffee000005", 40, FRAUD, 3, "fraud", "last 1h", 800, True),
)
NEWEST = CHECKS[-1]
"""The newest check: drift in amount, merchant and country; too few tip values; an error."""


def reference_columns() -> dict[str, Any]:
    """The training data every fixture check compares against (seeded)."""
    rng = np.random.default_rng(12)
    n = REFERENCE_ROWS
    return {
        "amount": rng.lognormal(3.0, 0.6, n),
        "age": rng.normal(40.0, 11.0, n),
        "hour": rng.integers(0, 24, n).astype(np.float64),
        "tip": rng.gamma(2.0, 1.5, n),
        "device_score": rng.uniform(0.0, 1.0, n),
        "merchant": rng.choice(CATEGORIES, n, p=[0.4, 0.2, 0.3, 0.1]).astype(object),
        "country": rng.choice(["PT", "ES", "FR"], n, p=[0.6, 0.3, 0.1]).astype(object),
    }


def current_columns(check: FixtureCheck) -> dict[str, Any]:
    """A window of served traffic: like the reference, or moved where `check.shifted`."""
    rng = np.random.default_rng(int(check.check_id[-2:]))
    n = check.rows
    columns: dict[str, Any] = {
        "amount": rng.lognormal(3.0, 0.6, n),
        "age": rng.normal(40.0, 11.0, n),
        "hour": rng.integers(0, 24, n).astype(np.float64),
        "tip": rng.gamma(2.0, 1.5, n),
        "device_score": rng.uniform(0.0, 1.0, n),
        "merchant": rng.choice(CATEGORIES, n, p=[0.4, 0.2, 0.3, 0.1]).astype(object),
        "country": rng.choice(["PT", "ES", "FR"], n, p=[0.6, 0.3, 0.1]).astype(object),
    }
    if check.shifted:
        columns["amount"] = rng.lognormal(3.5, 0.7, n)
        columns["merchant"] = rng.choice(CATEGORIES, n, p=[0.1, 0.2, 0.6, 0.1]).astype(object)
        countries = rng.choice(["PT", "ES", "FR", "DE", "IT"], n, p=[0.4, 0.2, 0.1, 0.2, 0.1])
        columns["country"] = countries.astype(object)
        tip = np.full(n, np.nan)
        tip[:10] = rng.gamma(2.0, 1.5, 10)
        columns["tip"] = tip
        columns["device_score"] = np.array(["high"] * n, dtype=object)
        # a few rows with no amount: the missing share shows
        columns["amount"][rng.choice(n, n // 20, replace=False)] = np.nan
    return columns


def add_drift_checks(home: Path) -> None:
    """Store every fixture check in `home`'s catalogue (built by build_fixed_catalogue)."""
    reference = Reference.from_columns(reference_columns())
    with Catalogue(DuckDBBackend(home / "catalogue.duckdb")) as catalogue:
        ledger = DriftLedger(catalogue)
        pins: list[Statement] = []
        for check in CHECKS:
            report = compare(reference, current_columns(check), DriftConfig())
            target = CheckTarget(
                check.model,
                check.version,
                check.deployment,
                source=check.source,
                window_start=_at(check) - timedelta(hours=1) if check.deployment else None,
                window_end=_at(check) if check.deployment else None,
            )
            stored_id = ledger.save_check(target, report)
            pins += _pin(stored_id, check)
        catalogue.backend.write(pins)


def _at(check: FixtureCheck) -> datetime:
    return NOW - timedelta(minutes=check.minutes_ago)


def _pin(stored_id: str, check: FixtureCheck) -> list[Statement]:
    """save_check stamps a random id, the real clock and user: give the check its fixed ones."""
    ids = (check.check_id, stored_id)
    return [
        Statement(
            "UPDATE drift_checks SET check_id = ?, created_at = ? WHERE check_id = ?",
            (check.check_id, _at(check), stored_id),
        ),
        Statement("UPDATE drift_results SET check_id = ? WHERE check_id = ?", ids),
        Statement("UPDATE drift_histograms SET check_id = ? WHERE check_id = ?", ids),
        Statement(
            "UPDATE audit_events SET ts = ?, actor = 'ana', details = replace(details::VARCHAR, ?, ?)::JSON "
            "WHERE action = 'drift.alert' AND details::VARCHAR LIKE ?",
            (_at(check), stored_id, check.check_id, f"%{stored_id}%"),
        ),
    ]
