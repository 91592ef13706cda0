"""Drift profiles, checks and their per-feature results; a drift-finding check is audited."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue, utcnow
from workbench.catalogue.models import audit_statement
from workbench.core.drift.check import DriftReport, FeatureDrift, Histogram, Statistic
from workbench.core.drift.profile import CategoricalProfile, FeatureProfile, NumericProfile, Profile
from workbench.core.errors import NotFoundError

_CHECKS_HINT = "list checks with `workbench drift ls`"
_LIST_COLUMNS = ("edges", "histogram", "quantiles", "categories", "frequencies")


@dataclass(frozen=True)
class StoredProfile:
    """A profile as the catalogue keeps it, with whose reference it is."""

    profile_id: str
    model_name: str | None
    model_version: int | None
    run_id: str | None
    source: str
    created_at: datetime
    profile: Profile
    config: dict[str, Any]


@dataclass(frozen=True)
class CheckTarget:
    """What a check compared: the model version and deployment, and which window or file."""

    model_name: str | None = None
    model_version: int | None = None
    deployment: str | None = None
    profile_id: str | None = None
    source: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None


@dataclass(frozen=True)
class StoredCheck:
    """A recorded check: its target, when, and the report (histograms included)."""

    check_id: str
    created_at: datetime
    target: CheckTarget
    report: DriftReport


class DriftLedger:
    """Rows of drift_profiles, drift_profile_features, drift_checks, drift_results and
    drift_histograms."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.backend = catalogue.backend

    # -- profiles --------------------------------------------------------------------------

    def save_profile(
        self,
        profile: Profile,
        *,
        source: str,
        model_name: str | None = None,
        model_version: int | None = None,
        run_id: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> str:
        """Store `profile` and the check rules its project asked for (one transaction)."""
        profile_id = uuid.uuid4().hex[:16]
        summary = {"rows": profile.rows, "features": profile.names(), "config": config or {}}
        self.backend.write(
            [
                Statement(
                    "INSERT INTO drift_profiles (profile_id, model_name, model_version, source, "
                    "created_at, profile, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        profile_id,
                        model_name,
                        model_version,
                        source,
                        utcnow(),
                        json.dumps(summary),
                        run_id,
                    ),
                ),
                Statement(
                    "INSERT INTO drift_profile_features SELECT * FROM batch",
                    data=_profile_table(profile_id, profile),
                ),
            ]
        )
        return profile_id

    def profile_for(self, model_name: str, model_version: int) -> StoredProfile | None:
        """The newest profile of a model version, or None."""
        rows = self.backend.query(
            "SELECT * FROM drift_profiles WHERE model_name = ? AND model_version = ? "
            "ORDER BY created_at DESC LIMIT 1",
            (model_name, model_version),
        ).to_pylist()
        return self._stored_profile(rows[0]) if rows else None

    def profile_config(self, model_name: str, model_version: int) -> dict[str, Any]:
        """The check rules stored with a version's newest profile ({} when none), without
        reading the profile itself."""
        rows = self.backend.query(
            "SELECT profile FROM drift_profiles WHERE model_name = ? AND model_version = ? "
            "ORDER BY created_at DESC LIMIT 1",
            (model_name, model_version),
        ).to_pylist()
        return (json.loads(rows[0]["profile"] or "{}").get("config") or {}) if rows else {}

    def _stored_profile(self, row: dict[str, Any]) -> StoredProfile:
        features = self.backend.query(
            "SELECT * FROM drift_profile_features WHERE profile_id = ? ORDER BY position",
            (row["profile_id"],),
        ).to_pylist()
        parsed = tuple(_feature_profile(f) for f in features)
        summary = json.loads(row["profile"] or "{}")
        return StoredProfile(
            profile_id=row["profile_id"],
            model_name=row["model_name"],
            model_version=row["model_version"],
            run_id=row["run_id"],
            source=row["source"] or "",
            created_at=row["created_at"],
            profile=Profile(parsed, int(summary.get("rows", 0))),
            config=summary.get("config") or {},
        )

    # -- checks ----------------------------------------------------------------------------

    def save_check(self, target: CheckTarget, report: DriftReport) -> str:
        """Store a check and its results in one transaction; a check that finds drift also
        leaves a `drift.alert` audit event. Returns the check id."""
        check_id = uuid.uuid4().hex[:12]
        summary = {
            "drifted_features": report.drifted_features(),
            "ignored_columns": list(report.ignored_columns),
            "threshold_share": report.drift_share,
        }
        statements = [
            Statement(
                "INSERT INTO drift_checks (check_id, profile_id, model_name, model_version, "
                "window_start, window_end, created_at, drifted, summary, deployment, source, "
                "status, drift_share, reference_rows, current_rows) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    check_id,
                    target.profile_id,
                    target.model_name,
                    target.model_version,
                    target.window_start,
                    target.window_end,
                    utcnow(),
                    report.drifted,
                    json.dumps(summary),
                    target.deployment,
                    target.source,
                    report.status,
                    report.share,
                    report.reference_rows,
                    report.current_rows,
                ),
            ),
            Statement(
                "INSERT INTO drift_results (check_id, feature, statistic, value, threshold, "
                "drifted, kind, status, p_value, primary_method, reference_missing, "
                "current_missing, unseen_share, message) SELECT * FROM batch",
                data=_results_table(check_id, report),
            ),
            Statement(
                "INSERT INTO drift_histograms SELECT * FROM batch",
                data=_histograms_table(check_id, report),
            ),
        ]
        if report.drifted:
            subject = _subject(target)
            statements.append(
                audit_statement(
                    "drift.alert",
                    subject,
                    f"{len(report.drifted_features())} of {report.checked_features()} checked "
                    f"features drifted (share {report.share:.2f} >= {report.drift_share:.2f})",
                    {"check_id": check_id, "features": report.drifted_features()},
                )
            )
        self.backend.write(statements)
        return check_id

    def checks(
        self, *, model_name: str | None = None, deployment: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Newest checks first (one row each: target, status, share, rows, drifted features)."""
        rows = self.backend.query(
            "SELECT check_id, created_at, model_name, model_version, deployment, source, "
            "status, drifted, drift_share AS share, reference_rows, current_rows, window_start, "
            "window_end, summary FROM drift_checks "
            "WHERE (? IS NULL OR model_name = ?) AND (? IS NULL OR deployment = ?) "
            "ORDER BY created_at DESC LIMIT ?",
            (model_name, model_name, deployment, deployment, limit),
        ).to_pylist()
        for row in rows:
            row["drifted_features"] = json.loads(row.pop("summary") or "{}").get(
                "drifted_features", []
            )
        return rows

    def get_check(self, check_id: str) -> StoredCheck:
        """The check `check_id` (a unique prefix will do) with every result."""
        rows = self.backend.query(
            "SELECT * FROM drift_checks WHERE starts_with(check_id, ?) ORDER BY check_id",
            (check_id,),
        ).to_pylist()
        if len(rows) != 1:
            what = "no drift check" if not rows else f"{len(rows)} drift checks"
            raise NotFoundError(f"{what} matching {check_id!r}", hint=_CHECKS_HINT)
        row = rows[0]
        results = self.backend.query(
            "SELECT * FROM drift_results WHERE check_id = ? ORDER BY rowid",
            (row["check_id"],),
        ).to_pylist()
        histograms = self.backend.query(
            "SELECT * FROM drift_histograms WHERE check_id = ?", (row["check_id"],)
        ).to_pylist()
        summary = json.loads(row["summary"] or "{}")
        report = DriftReport(
            features=_features(results, {h["feature"]: h for h in histograms}),
            status=row["status"],
            drifted=bool(row["drifted"]),
            share=float(row["drift_share"] or 0.0),
            drift_share=float(summary.get("threshold_share", 0.0)),
            reference_rows=int(row["reference_rows"] or 0),
            current_rows=int(row["current_rows"] or 0),
            ignored_columns=tuple(summary.get("ignored_columns", [])),
        )
        target = CheckTarget(
            row["model_name"],
            row["model_version"],
            row["deployment"],
            row["profile_id"],
            row["source"] or "",
            row["window_start"],
            row["window_end"],
        )
        return StoredCheck(row["check_id"], row["created_at"], target, report)

    def open_alerts(self) -> list[dict[str, Any]]:
        """Model versions whose newest check found drift: the open drift alerts."""
        return self.backend.query(
            "SELECT check_id, created_at, model_name, model_version, deployment, "
            "drift_share AS share, summary FROM (SELECT *, row_number() OVER "
            "(PARTITION BY model_name, model_version "
            "ORDER BY created_at DESC) AS newest FROM drift_checks WHERE model_name IS NOT NULL) "
            "WHERE newest = 1 AND drifted ORDER BY created_at DESC"
        ).to_pylist()


def _subject(target: CheckTarget) -> str:
    if target.model_name is not None:
        return f"model/{target.model_name}:{target.model_version}"
    return f"deployment/{target.deployment}" if target.deployment else f"data/{target.source}"


def _profile_table(profile_id: str, profile: Profile) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for position, f in enumerate(profile.features):
        row: dict[str, Any] = dict.fromkeys(_LIST_COLUMNS)
        row.update(
            profile_id=profile_id,
            feature=f.feature,
            position=position,
            kind=f.kind,
            count=f.count,
            missing=f.missing,
        )
        if isinstance(f, NumericProfile):
            row.update(
                edges=f.edges.tolist(),
                histogram=f.histogram.tolist(),
                quantiles=f.quantiles.tolist(),
                stats=json.dumps(
                    {
                        "nonfinite": f.nonfinite,
                        "mean": f.mean,
                        "std": f.std,
                        "min": f.minimum,
                        "max": f.maximum,
                    }
                ),
            )
        else:
            row.update(
                categories=list(f.categories),
                frequencies=f.frequencies.tolist(),
                stats=json.dumps({"other": f.other}),
            )
        rows.append(row)
    schema = pa.schema(
        [
            ("profile_id", pa.string()),
            ("feature", pa.string()),
            ("position", pa.int32()),
            ("kind", pa.string()),
            ("count", pa.int64()),
            ("missing", pa.int64()),
            ("edges", pa.list_(pa.float64())),
            ("histogram", pa.list_(pa.int64())),
            ("quantiles", pa.list_(pa.float64())),
            ("categories", pa.list_(pa.string())),
            ("frequencies", pa.list_(pa.int64())),
            ("stats", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _feature_profile(row: dict[str, Any]) -> FeatureProfile:
    stats = json.loads(row["stats"] or "{}")
    if row["kind"] == "numeric":
        return NumericProfile(
            feature=row["feature"],
            count=int(row["count"]),
            missing=int(row["missing"]),
            nonfinite=int(stats.get("nonfinite", 0)),
            quantiles=np.array(row["quantiles"] or [], dtype=np.float64),
            edges=np.array(row["edges"] or [], dtype=np.float64),
            histogram=np.array(row["histogram"] or [0], dtype=np.int64),
            mean=_float(stats.get("mean")),
            std=_float(stats.get("std")),
            minimum=_float(stats.get("min")),
            maximum=_float(stats.get("max")),
        )
    return CategoricalProfile(
        feature=row["feature"],
        count=int(row["count"]),
        missing=int(row["missing"]),
        categories=tuple(row["categories"] or ()),
        frequencies=np.array(row["frequencies"] or [], dtype=np.int64),
        other=int(stats.get("other", 0)),
    )


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _results_table(check_id: str, report: DriftReport) -> pa.Table:
    rows = []
    for f in report.features:
        shared = {
            "check_id": check_id,
            "feature": f.feature,
            "kind": f.kind,
            "status": f.status,
            "reference_missing": f.reference_missing,
            "current_missing": f.current_missing,
            "unseen_share": f.unseen_share,
            "message": f.message,
        }
        statistics = f.statistics or (Statistic(f.method, float("nan"), float("nan"), False),)
        for s in statistics:
            rows.append(
                {
                    **shared,
                    "statistic": s.name,
                    "value": _finite_or_none(s.value),
                    "threshold": _finite_or_none(s.threshold),
                    "drifted": s.drifted,
                    "p_value": _finite_or_none(s.p_value),
                    "primary_method": s.name == f.method,
                }
            )
    schema = pa.schema(
        [
            ("check_id", pa.string()),
            ("feature", pa.string()),
            ("statistic", pa.string()),
            ("value", pa.float64()),
            ("threshold", pa.float64()),
            ("drifted", pa.bool_()),
            ("kind", pa.string()),
            ("status", pa.string()),
            ("p_value", pa.float64()),
            ("primary_method", pa.bool_()),
            ("reference_missing", pa.float64()),
            ("current_missing", pa.float64()),
            ("unseen_share", pa.float64()),
            ("message", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _histograms_table(check_id: str, report: DriftReport) -> pa.Table:
    rows = [
        {
            "check_id": check_id,
            "feature": f.feature,
            "labels": list(f.histogram.labels),
            "reference": list(f.histogram.reference),
            "current": list(f.histogram.current),
        }
        for f in report.features
        if f.histogram is not None
    ]
    schema = pa.schema(
        [
            ("check_id", pa.string()),
            ("feature", pa.string()),
            ("labels", pa.list_(pa.string())),
            ("reference", pa.list_(pa.float64())),
            ("current", pa.list_(pa.float64())),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _features(
    results: list[dict[str, Any]], histograms: dict[str, dict[str, Any]]
) -> tuple[FeatureDrift, ...]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in results:
        grouped.setdefault(row["feature"], []).append(row)
    features = []
    for name, rows in grouped.items():
        first = rows[0]
        primary = next((r for r in rows if r["primary_method"]), first)
        computed = first["status"] in ("ok", "drift")
        statistics = (
            tuple(
                Statistic(
                    r["statistic"],
                    _float(r["value"]),
                    _float(r["threshold"]),
                    bool(r["drifted"]),
                    r["p_value"],
                )
                for r in rows
            )
            if computed
            else ()
        )
        found = histograms.get(name)
        histogram = (
            Histogram(tuple(found["labels"]), tuple(found["reference"]), tuple(found["current"]))
            if found
            else None
        )
        features.append(
            FeatureDrift(
                feature=name,
                kind=first["kind"],
                status=first["status"],
                method=primary["statistic"],
                statistics=statistics,
                reference_missing=first["reference_missing"] or 0.0,
                current_missing=first["current_missing"] or 0.0,
                unseen_share=first["unseen_share"],
                message=first["message"] or "",
                histogram=histogram,
            )
        )
    return tuple(features)
