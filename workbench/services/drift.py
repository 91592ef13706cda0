"""Drift checks: a model version's reference profile against served traffic or a file, or any
two datasets; every check is kept in the catalogue, and one that finds drift opens an alert.

The statistics run in this process (numpy threads, no Ray): a check reads its window from
the catalogue as columns, so a cluster adds nothing but transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from workbench.catalogue import Catalogue
from workbench.catalogue.deployments import DeploymentLedger
from workbench.catalogue.drift import CheckTarget, DriftLedger, StoredCheck, StoredProfile
from workbench.catalogue.models import ModelLedger
from workbench.catalogue.request_rows import RequestRowLedger
from workbench.core.drift.check import DriftReport, Reference, compare
from workbench.core.drift.config import DriftConfig, check_threshold
from workbench.core.drift.profile import build_profile
from workbench.core.errors import InvalidInputError, NotFoundError
from workbench.core.models import ModelRef, ModelVersion
from workbench.core.settings import Settings
from workbench.core.spec import ProjectSpec
from workbench.owner import open_catalogue
from workbench.services.drift_data import column_reader, read_columns, training_table
from workbench.serving.signature import InputSchema

_PROFILE_HINT = (
    "profiles are built when a pipeline registers a version; for another version run "
    "`workbench drift profile NAME:VERSION --data TRAIN_FILE`"
)


@dataclass(frozen=True)
class ConfigOverrides:
    """What a command line changes of a project's check rules (None: keep)."""

    numeric_method: str | None = None
    categorical_method: str | None = None
    thresholds: Mapping[str, float] | None = None
    threshold: float | None = None  # for the deciding methods, when they are given
    drift_share: float | None = None
    features: tuple[str, ...] = ()

    def apply(self, base: DriftConfig) -> DriftConfig:
        """`base` with these changes (InvalidInputError for a change out of range)."""
        numeric = self.numeric_method or base.numeric_method
        categorical = self.categorical_method or base.categorical_method
        thresholds = {**base.thresholds, **(self.thresholds or {})}
        if self.threshold is not None:
            chosen = [m for m in (numeric, categorical) if m != "auto"]
            if not chosen:
                raise InvalidInputError(
                    "--threshold VALUE needs --numeric-method or --categorical-method",
                    "or name the method: --threshold ks=0.01",
                )
            for method in chosen:
                check_threshold(method, self.threshold)
                thresholds[method] = self.threshold
        return DriftConfig(
            numeric_method=numeric,
            categorical_method=categorical,
            thresholds=thresholds,
            drift_share=self.drift_share if self.drift_share is not None else base.drift_share,
            min_rows=base.min_rows,
            features=self.features or base.features,
        )


@dataclass(frozen=True)
class CheckOutcome:
    """A finished check: its id in the catalogue, what it compared, the report."""

    check_id: str
    target: CheckTarget
    report: DriftReport


def check_files(
    settings: Settings, reference: Path, current: Path, overrides: ConfigOverrides
) -> CheckOutcome:
    """Compare two datasets (CSV or Parquet) with no model, as Evidently does; recorded."""
    config = overrides.apply(DriftConfig())
    current_columns = read_columns(current, "--current")
    names, read = column_reader(reference, "--reference")
    _require_features(overrides.features, names)
    wanted = config.features or tuple(names)
    _require_overlap(wanted, current_columns, current)
    built = Reference.read([n for n in names if n in wanted], read)
    # Columns both files have but --feature left out were not asked for: not "ignored".
    asked = {k: v for k, v in current_columns.items() if k in wanted or k not in names}
    report = compare(built, asked, config)
    target = CheckTarget(source=f"{reference} vs {current}")
    with open_catalogue(settings) as catalogue:
        check_id = DriftLedger(catalogue).save_check(target, report)
    return CheckOutcome(check_id, target, report)


def check_model(
    settings: Settings,
    text: str,
    overrides: ConfigOverrides,
    *,
    now: datetime,
    current: Path | None = None,
    window: timedelta | None = None,
    deployment: str | None = None,
) -> CheckOutcome:
    """Check a model version's reference profile against a file or a window of its traffic."""
    with open_catalogue(settings) as catalogue:
        version, stored = _version_and_profile(catalogue, text)
        _require_features(overrides.features, stored.profile.names())
        config = overrides.apply(_project_config(stored))
        target = CheckTarget(version.name, version.version, profile_id=stored.profile_id)
        if current is not None:
            columns: Mapping[str, Any] = read_columns(current, "--current")
            _require_overlap(stored.profile.names(), columns, current)
            target = replace(target, source=str(current))
            rows = None
        else:
            span = window or timedelta(hours=1)
            served_by = deployment or _serving(catalogue, version)
            found = RequestRowLedger(catalogue).drift_window(
                served_by, start=now - span, end=now, model_version=version.version
            )
            columns, rows = found.columns or _no_rows(stored), found.rows
            target = replace(
                target,
                deployment=served_by,
                source=f"last {_span(span)}",
                window_start=now - span,
                window_end=now,
            )
    # The statistics run with the catalogue closed: a local file is not held for seconds.
    report = compare(Reference(stored.profile), columns, config, current_rows=rows)
    with open_catalogue(settings) as catalogue:
        check_id = DriftLedger(catalogue).save_check(target, report)
    return CheckOutcome(check_id, target, report)


def profile_model(settings: Settings, text: str, data: Path) -> tuple[ModelVersion, str]:
    """Build and store a model version's reference profile from a training-data file."""
    columns = read_columns(data, "--data")
    with open_catalogue(settings) as catalogue:
        version = ModelLedger(catalogue).resolve(ModelRef.parse(text))
    names = _input_names(version) or list(columns)
    missing = [n for n in names if n not in columns]
    if missing:
        raise InvalidInputError(
            f"{data} lacks the model's inputs: {', '.join(missing[:5])}",
            "give the file the model was trained on",
        )
    profile = build_profile({n: columns[n] for n in names})
    with open_catalogue(settings) as catalogue:
        profile_id = DriftLedger(catalogue).save_profile(
            profile,
            source=str(data),
            model_name=version.name,
            model_version=version.version,
            run_id=version.run_id,
            config=config_json(DriftConfig()),
        )
    return version, profile_id


def list_checks(
    settings: Settings, *, model: str | None = None, deployment: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Newest checks first."""
    with open_catalogue(settings) as catalogue:
        return DriftLedger(catalogue).checks(model_name=model, deployment=deployment, limit=limit)


def show_check(settings: Settings, check_id: str) -> StoredCheck:
    """One check with its per-feature results and histograms."""
    with open_catalogue(settings) as catalogue:
        return DriftLedger(catalogue).get_check(check_id)


def open_alerts(settings: Settings) -> list[dict[str, Any]]:
    """Model versions whose newest check found drift."""
    with open_catalogue(settings) as catalogue:
        return DriftLedger(catalogue).open_alerts()


def config_json(config: DriftConfig) -> dict[str, Any]:
    """Check rules as stored with a profile."""
    data = asdict(config)
    data["thresholds"] = dict(config.thresholds)
    data["features"] = list(config.features)
    return data


def _project_config(stored: StoredProfile) -> DriftConfig:
    saved = {k: v for k, v in stored.config.items() if k != "schedule"}
    if not saved:
        return DriftConfig()
    saved["features"] = tuple(saved.get("features") or ())
    return DriftConfig(**saved)


def _version_and_profile(catalogue: Catalogue, text: str) -> tuple[ModelVersion, StoredProfile]:
    version = ModelLedger(catalogue).resolve(ModelRef.parse(text))
    stored = DriftLedger(catalogue).profile_for(version.name, version.version)
    if stored is None:
        raise NotFoundError(f"{version.label} has no reference profile", _PROFILE_HINT)
    return version, stored


def _serving(catalogue: Catalogue, version: ModelVersion) -> str:
    """The deployment serving this version (a running one first)."""
    found = [
        d
        for d in DeploymentLedger(catalogue).all()
        if any(v.model == version.name and v.version == version.version for v in d.spec.versions)
    ]
    found.sort(key=lambda d: d.status != "running")
    if not found:
        raise NotFoundError(
            f"no deployment serves {version.label}",
            "check a file instead: --current FILE, or name one: --deployment NAME",
        )
    return found[0].name


def _input_names(version: ModelVersion) -> list[str]:
    """The names of the version's signature inputs (none without a signature)."""
    return InputSchema.from_signature(version.signature).names


def _require_features(asked: tuple[str, ...], known: list[str]) -> None:
    """Refuse a --feature the reference does not have (a check of nothing is no check)."""
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise InvalidInputError(
            f"the reference has no feature {', '.join(map(repr, unknown[:5]))}",
            f"its features: {', '.join(known[:8]) or 'none'}",
        )


def _require_overlap(wanted: Any, columns: Mapping[str, Any], path: Path) -> None:
    if not any(name in columns for name in wanted):
        raise InvalidInputError(
            f"{path} has none of the reference's features ({', '.join(list(wanted)[:5])}...)",
            f"its columns: {', '.join(list(columns)[:8]) or 'none'}",
        )


def _no_rows(stored: StoredProfile) -> dict[str, Any]:
    """An empty window: every feature present with no values (insufficient data, not error)."""
    return {
        f.feature: np.empty(0, dtype=np.float64 if f.kind == "numeric" else object)
        for f in stored.profile.features
    }


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def store_reference(
    catalogue: Catalogue,
    spec: ProjectSpec,
    outputs: Mapping[str, Mapping[str, str]],
    version: ModelVersion,
) -> str | None:
    """At registration: profile the table the step that made the model read (its inputs),
    limited to [drift] features or else the signature's inputs; None when there is none."""
    register = spec.register
    if register is None:
        return None
    producer = next((s for s in spec.steps if register.artifact in s.outputs), None)
    step_inputs = {
        n: outputs[n]["uri"] for n in (producer.inputs if producer else ()) if n in outputs
    }
    path = training_table(step_inputs)
    if path is None:
        return None
    columns = read_columns(path, "training data")
    names = spec.drift.features or tuple(_input_names(version)) or tuple(columns)
    profile = build_profile({n: columns[n] for n in names if n in columns})
    return DriftLedger(catalogue).save_profile(
        profile,
        source=str(path),
        model_name=version.name,
        model_version=version.version,
        run_id=version.run_id,
        config={**config_json(spec.drift.config()), "schedule": _schedule_json(spec)},
    )


def _schedule_json(spec: ProjectSpec) -> dict[str, Any]:
    """The project's [drift] schedule, kept with the profile for the scheduler."""
    drift = spec.drift
    return {
        "interval": drift.interval,
        "window": drift.window,
        "retrain": drift.retrain,
        "project_root": spec.path,
    }
