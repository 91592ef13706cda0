"""Drift as the TUI shows it: the history of checks, one check's features, open drift alerts.

Typed, read-only views over DriftLedger, one brief open of the catalogue per call. Ages and
the history chart's time axis are measured from the caller's `now` (naive UTC), so a
frozen clock gives the same screen every time. No statistics run here: opening the Drift
screen imports neither scipy nor Ray.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workbench.catalogue.drift import DriftLedger, StoredCheck
from workbench.core.drift.check import DRIFT, ERROR, INSUFFICIENT, OK, FeatureDrift, Histogram
from workbench.core.drift.config import TESTS
from workbench.core.settings import Settings
from workbench.owner import open_catalogue

__all__ = [
    "CheckDetail",
    "CheckRow",
    "DriftAlert",
    "DriftChecks",
    "FeatureRow",
    "Histogram",
    "SharePoint",
    "check_detail",
    "drift_alerts",
    "drift_checks",
    "format_age",
    "open_drift_alerts",
]

CHECKS_LIMIT = 200
"""The most checks the history lists."""
HISTORY_POINTS = 50
"""The most past checks the drifted-share chart draws."""
STATUS_ORDER = {DRIFT: 0, ERROR: 1, INSUFFICIENT: 2, OK: 3}
"""How features are sorted: drift first, then errors, too little data, ok."""


@dataclass(frozen=True)
class CheckRow:
    """One check in the history: what it compared, when, and its verdict."""

    check_id: str
    created_at: datetime
    age_s: float
    model_name: str | None
    model_version: int | None
    deployment: str | None
    source: str
    status: str
    drifted: bool
    share: float
    reference_rows: int
    current_rows: int
    drifted_features: tuple[str, ...]

    @property
    def model(self) -> str | None:
        """NAME:VERSION of the checked model version, None for a check of two files."""
        return f"{self.model_name}:{self.model_version}" if self.model_name else None

    @property
    def subject(self) -> str:
        """The model version, else the files compared."""
        return self.model or self.source


@dataclass(frozen=True)
class FeatureRow:
    """One feature of a check: verdict, deciding statistic, missing and unseen shares."""

    feature: str
    kind: str
    status: str
    method: str
    value: float | None
    """The deciding statistic's p-value for a test (ks, chisquare), else its value."""
    is_p_value: bool
    threshold: float | None
    reference_missing: float
    current_missing: float
    unseen_share: float | None
    message: str
    histogram: Histogram | None


@dataclass(frozen=True)
class SharePoint:
    """A past check on the drifted-share chart: hours before `now` and its share."""

    check_id: str
    hours_ago: float
    share: float
    status: str


@dataclass(frozen=True)
class CheckDetail:
    """A check with its features (drift first) and the drifted share of its past checks."""

    check: CheckRow
    drift_share: float
    """The share of drifted features at which the dataset counts as drifted."""
    features: tuple[FeatureRow, ...]
    history_scope: str
    """Whose past checks `history` holds: "deployment fraud", "model fraud", "this check"."""
    history: tuple[SharePoint, ...]
    """Oldest first, this check included."""
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class DriftChecks:
    """The Drift screen's read: checks newest first, the selected one in detail."""

    checks: tuple[CheckRow, ...]
    detail: CheckDetail | None


@dataclass(frozen=True)
class DriftAlert:
    """An open drift alert: a model version whose newest check found drift."""

    check_id: str
    model_name: str
    model_version: int
    deployment: str | None
    share: float
    created_at: datetime
    age_s: float
    drifted_features: tuple[str, ...]

    @property
    def model(self) -> str:
        """NAME:VERSION."""
        return f"{self.model_name}:{self.model_version}"


def drift_checks(
    settings: Settings,
    now: datetime,
    *,
    selected: str | None = None,
    model: str | None = None,
    deployment: str | None = None,
) -> DriftChecks:
    """Checks newest first (optionally of one model or deployment), with the `selected`
    one in detail (the newest when it is None or no longer listed)."""
    with open_catalogue(settings) as catalogue:
        ledger = DriftLedger(catalogue)
        rows = ledger.checks(model_name=model, deployment=deployment, limit=CHECKS_LIMIT)
        checks = tuple(_check_row(row, now) for row in rows)
        ids = [c.check_id for c in checks]
        chosen = selected if selected in ids else (ids[0] if ids else None)
        detail = _detail(ledger, chosen, now) if chosen else None
    return DriftChecks(checks, detail)


def check_detail(settings: Settings, check_id: str, now: datetime) -> CheckDetail:
    """One check's features and the drifted share of its deployment's (or model's) checks."""
    with open_catalogue(settings) as catalogue:
        return _detail(DriftLedger(catalogue), check_id, now)


def open_drift_alerts(settings: Settings, now: datetime) -> tuple[DriftAlert, ...]:
    """Model versions whose newest check found drift, newest first."""
    with open_catalogue(settings) as catalogue:
        return drift_alerts(DriftLedger(catalogue), now)


def drift_alerts(ledger: DriftLedger, now: datetime) -> tuple[DriftAlert, ...]:
    """The open drift alerts from an open catalogue (for reads that gather more at once)."""
    return tuple(
        DriftAlert(
            check_id=row["check_id"],
            model_name=row["model_name"],
            model_version=int(row["model_version"]),
            deployment=row["deployment"],
            share=float(row["share"] or 0.0),
            created_at=row["created_at"],
            age_s=(now - row["created_at"]).total_seconds(),
            drifted_features=tuple(json.loads(row["summary"] or "{}").get("drifted_features", [])),
        )
        for row in ledger.open_alerts()
    )


def format_age(seconds: float) -> str:
    """`40s ago`, `12m ago`, `3h ago`, `2d ago`; `in the future` for a negative age."""
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def _detail(ledger: DriftLedger, check_id: str, now: datetime) -> CheckDetail:
    stored = ledger.get_check(check_id)
    target = stored.target
    if target.deployment:
        scope = f"deployment {target.deployment}"
        past = ledger.checks(deployment=target.deployment, limit=HISTORY_POINTS)
    elif target.model_name:
        scope = f"model {target.model_name}"
        past = ledger.checks(model_name=target.model_name, limit=HISTORY_POINTS)
    else:
        scope, past = "this check", []
    if not past:
        past = [{"check_id": stored.check_id, "created_at": stored.created_at,
                 "share": stored.report.share, "status": stored.report.status}]  # fmt: skip
    history = tuple(
        SharePoint(
            row["check_id"],
            (now - row["created_at"]).total_seconds() / 3600,
            float(row["share"] or 0.0),
            _status(row),
        )
        for row in reversed(past)
    )
    features = sorted(stored.report.features, key=lambda f: STATUS_ORDER.get(f.status, 1))
    return CheckDetail(
        check=_stored_row(stored, now),
        drift_share=stored.report.drift_share,
        features=tuple(_feature_row(f) for f in features),
        history_scope=scope,
        history=history,
        ignored_columns=stored.report.ignored_columns,
    )


def _status(row: dict[str, Any]) -> str:
    """A check's status; rows written before checks kept one have only `drifted`."""
    return str(row.get("status") or (DRIFT if row.get("drifted") else OK))


def _check_row(row: dict[str, Any], now: datetime) -> CheckRow:
    return CheckRow(
        check_id=row["check_id"],
        created_at=row["created_at"],
        age_s=(now - row["created_at"]).total_seconds(),
        model_name=row["model_name"],
        model_version=row["model_version"],
        deployment=row["deployment"],
        source=row["source"] or "",
        status=_status(row),
        drifted=bool(row["drifted"]),
        share=float(row["share"] or 0.0),
        reference_rows=int(row["reference_rows"] or 0),
        current_rows=int(row["current_rows"] or 0),
        drifted_features=tuple(row["drifted_features"]),
    )


def _stored_row(stored: StoredCheck, now: datetime) -> CheckRow:
    target, report = stored.target, stored.report
    return CheckRow(
        check_id=stored.check_id,
        created_at=stored.created_at,
        age_s=(now - stored.created_at).total_seconds(),
        model_name=target.model_name,
        model_version=target.model_version,
        deployment=target.deployment,
        source=target.source,
        status=report.status,
        drifted=report.drifted,
        share=report.share,
        reference_rows=report.reference_rows,
        current_rows=report.current_rows,
        drifted_features=tuple(report.drifted_features()),
    )


def _feature_row(feature: FeatureDrift) -> FeatureRow:
    primary = feature.primary()
    value: float | None = None
    is_p_value = False
    if primary is not None:
        is_p_value = primary.name in TESTS and primary.p_value is not None
        value = primary.p_value if is_p_value else primary.value
    return FeatureRow(
        feature=feature.feature,
        kind=feature.kind,
        status=feature.status,
        method=feature.method,
        value=_finite(value),
        is_p_value=is_p_value,
        threshold=_finite(primary.threshold) if primary is not None else None,
        reference_missing=feature.reference_missing,
        current_missing=feature.current_missing,
        unseen_share=feature.unseen_share,
        message=feature.message,
        histogram=feature.histogram,
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value
