"""The model registry: list, show, promote and roll back aliases, read the audit trail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.artifacts.manifest import verify_manifest
from workbench.catalogue.models import ModelLedger, current_actor
from workbench.core.audit import AuditEvent
from workbench.core.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.core.models import MODELS_HINT, ModelRef, ModelSummary, ModelVersion
from workbench.core.settings import Settings
from workbench.owner import open_catalogue

_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class GateRefused(WorkbenchError):
    """A promotion that a gate does not allow."""

    exit_code = 1


@dataclass(frozen=True)
class ModelDetails:
    """One version with the aliases that point at it: what `models show` prints."""

    version: ModelVersion
    aliases: list[str]

    def to_json(self) -> dict[str, Any]:
        return {**self.version.to_json(), "aliases": self.aliases}

    @property
    def gate_summary(self) -> str:
        """`passed`, `failed: CHECK (DETAIL)` naming the first failing check, or `not recorded`."""
        gate = self.version.gate
        if not gate:
            return "not recorded"
        if gate.get("passed"):
            return "passed"
        failing = next((c for c in gate.get("checks", []) if not c.get("passed")), None)
        if failing is None:
            return "failed"
        detail = f" ({failing['detail']})" if failing.get("detail") else ""
        return f"failed: {failing.get('name', '?')}{detail}"


@dataclass(frozen=True)
class RegisteredModel:
    """A model with every version (newest first) and where each alias points and rolls back to."""

    name: str
    versions: list[ModelDetails]
    aliases: dict[str, int]
    rollback_targets: dict[str, int | None]
    """Per alias, the version `rollback` would point it back to (None: nothing earlier)."""


def registry(settings: Settings) -> list[RegisteredModel]:
    """Every model with all its versions, aliases and rollback targets, in one read."""
    with open_catalogue(settings) as catalogue:
        ledger = ModelLedger(catalogue)
        found = []
        for summary in ledger.models():
            aliases = ledger.aliases(summary.name)
            versions = [
                ModelDetails(v, sorted(a for a, n in aliases.items() if n == v.version))
                for v in ledger.versions_of(summary.name)
            ]
            targets = {
                alias: _rollback_target(ledger, summary.name, alias, version)
                for alias, version in aliases.items()
            }
            found.append(RegisteredModel(summary.name, versions, aliases, targets))
    return found


def list_models(settings: Settings) -> list[ModelSummary]:
    """Every registered model with its latest version and aliases."""
    with open_catalogue(settings) as catalogue:
        return ModelLedger(catalogue).models()


def show_model(settings: Settings, text: str) -> ModelDetails:
    """One version with its aliases and gate."""
    ref = ModelRef.parse(text)
    with open_catalogue(settings) as catalogue:
        ledger = ModelLedger(catalogue)
        found = ledger.resolve(ref)
        aliases = ledger.aliases(ref.name)
    return ModelDetails(found, sorted(a for a, v in aliases.items() if v == found.version))


def check_run_alias(alias: str) -> None:
    """An alias a run may set on the version it registers: any but champion (gated)."""
    if not _ALIAS.match(alias):
        raise InvalidInputError(f"{alias!r} is not a valid alias name", "letters, digits, _ . -")
    if alias == "champion":
        raise InvalidInputError(
            "a run cannot make its version champion",
            "champion has gates: `workbench models promote NAME:VERSION champion --reason ...`",
        )


def promote(
    settings: Settings,
    text: str,
    alias: str,
    *,
    reason: str,
    approve: bool = False,
    require_image: bool = False,
) -> dict[str, Any]:
    """Move ALIAS to NAME:VERSION; a `champion` must pass the gates first."""
    ref = ModelRef.parse(text)
    if ref.version is None:
        raise InvalidInputError("promote needs NAME:VERSION", "e.g. fraud:3")
    if not _ALIAS.match(alias):
        raise InvalidInputError(f"{alias!r} is not a valid alias name", "letters, digits, _ . -")
    if not reason.strip():
        raise InvalidInputError("--reason must say why", "e.g. --reason 'AUC +0.02 on holdout'")
    with open_catalogue(settings) as catalogue:
        registry = ModelLedger(catalogue)
        found = registry.resolve(ref)
        version = found.version
        refusal = _champion_gates(registry, found, require_image) if alias == "champion" else None
        if refusal is not None:
            registry.record_refusal(ref.name, alias, version, reason, refusal)
            raise GateRefused(f"{ref.name}:{version} cannot become {alias}: {refusal}",
                              "fix the cause, or promote it under another alias")  # fmt: skip
        approver = current_actor() if approve else None
        previous = registry.move_alias(ref.name, alias, version, reason=reason, approver=approver)
    return {"name": ref.name, "alias": alias, "version": version, "previous": previous,
            "approver": approver}  # fmt: skip


def rollback(settings: Settings, name: str, alias: str, *, reason: str) -> dict[str, Any]:
    """Point ALIAS back at the version it pointed to before its last move."""
    if not reason.strip():
        raise InvalidInputError("--reason must say why", "e.g. --reason 'p99 latency doubled'")
    with open_catalogue(settings) as catalogue:
        registry = ModelLedger(catalogue)
        current = registry.alias_target(name, alias)
        if current is None:
            raise NotFoundError(f"{name} has no alias {alias!r}", MODELS_HINT)
        previous = _rollback_target(registry, name, alias, current)
        if previous is None:
            raise InvalidInputError(f"{name}@{alias} has no earlier version to roll back to")
        registry.move_alias(name, alias, previous, reason=reason, approver=None)
    return {"name": name, "alias": alias, "version": previous, "previous": current}


def _rollback_target(registry: ModelLedger, name: str, alias: str, current: int) -> int | None:
    """The version `name@alias` pointed to before it moved to `current`, if it ever did."""
    history = registry.alias_history(name, alias)
    previous = next(
        (e.details.get("from") for e in history if e.details.get("to") == current), None
    )
    return None if previous is None else int(previous)


def audit_trail(settings: Settings, limit: int = 100) -> list[AuditEvent]:
    """The newest `limit` audit events, newest first."""
    with open_catalogue(settings) as catalogue:
        return ModelLedger(catalogue).audit_events(limit)


def _champion_gates(registry: ModelLedger, found: ModelVersion, require_image: bool) -> str | None:
    """Why `found` may not be champion, or None when every gate passes."""
    if not found.gate_passed:
        return "its evaluation gate did not pass"
    if registry.open_drift_alert(found.name, found.version):
        return "its latest drift check found drift (an open alert)"
    if require_image and not registry.image_built(found.name, found.version):
        return f"no image was built (workbench package build {found.label})"
    try:
        verify_manifest(Path(found.uri))
    except WorkbenchError as error:
        return f"its artifact failed verification: {error.message}"
    return None


def model_card(settings: Settings, text: str) -> str:
    """A Markdown model card assembled from the catalogue and the project's spec."""
    ref = ModelRef.parse(text)
    with open_catalogue(settings) as catalogue:
        registry = ModelLedger(catalogue)
        found = registry.resolve(ref)
        version = found.version
        aliases = sorted(a for a, v in registry.aliases(ref.name).items() if v == version)
        run = catalogue.get_run(found.run_id) if found.run_id else None
        drift = registry.open_drift_alert(ref.name, version)
    gate = found.gate or {}
    spec = _spec_of(run.tags.get("project_dir")) if run else None
    lines = [f"# Model card: {ref.name} v{version}", ""]
    lines += [f"- Aliases: {', '.join(aliases) or 'none'}", f"- Flavor: {found.flavor}",
              f"- Registered: {found.created_at}", f"- Artifact: `{found.uri}`",
              f"- sha256: `{found.sha256}`", ""]  # fmt: skip
    lines += ["## Intended use", "", (spec.intended_use if spec else "") or "Not recorded.", ""]
    if spec and spec.description:
        lines += ["## Description", "", spec.description, ""]
    if run is not None:
        lineage = run.lineage
        packages = lineage.environment
        dirty = " (uncommitted changes)" if lineage.git_dirty else ""
        lines += ["## Lineage", "", f"- Source run: `{run.run_id}` ({run.project}, {run.status})",
                  f"- Git commit: {lineage.git_commit or 'not a git checkout'}{dirty}",
                  f"- Data fingerprint: {lineage.data_fingerprint or 'not recorded'}",
                  f"- Cluster: {lineage.cluster_id} ({', '.join(lineage.nodes)})",
                  "- Packages: " + ", ".join(f"{k} {v}" for k, v in sorted(packages.items())),
                  ""]  # fmt: skip
        lines += _table("Parameters", run.params)
        lines += _table("Metrics", {k: f"{v:.6g}" for k, v in run.metrics.items()})
    verdict = "passed" if gate.get("passed") else "did not pass"
    lines += ["## Evaluation gate", "", f"The gate {verdict}.", ""]
    lines += [
        f"- {'✓' if c.get('passed') else '✗'} {c.get('detail')}" for c in gate.get("checks", [])
    ]
    lines += ["", "## Drift", "", "Open alert: the latest drift check found drift." if drift
              else "No open drift alert.", ""]  # fmt: skip
    return "\n".join(lines)


def _table(title: str, values: dict[str, Any]) -> list[str]:
    if not values:
        return []
    rows = [f"| {key} | {value} |" for key, value in sorted(values.items())]
    return [f"## {title}", "", "| name | value |", "|---|---|", *rows, ""]


def _spec_of(project_dir: str | None) -> Any:
    """The project spec the run came from, if its folder is still there."""
    if not project_dir:
        return None
    from workbench.core.spec import load_spec

    try:
        return load_spec(project_dir)
    except WorkbenchError:
        return None
