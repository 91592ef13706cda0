"""The model registry's tables: immutable versions, aliases and the append-only audit trail."""

from __future__ import annotations

import getpass
import json
import os
from typing import Any

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue, utcnow
from workbench.core.audit import AuditEvent
from workbench.core.errors import NotFoundError
from workbench.core.models import MODELS_HINT, ModelRef, ModelSummary, ModelVersion

_AUDIT_COLUMNS = "event_id, ts, actor, action, target, reason, details"


def current_actor() -> str:
    """Who is acting: WORKBENCH_IDENTITY if set, else the OS user."""
    return os.environ.get("WORKBENCH_IDENTITY") or getpass.getuser()


class ModelLedger:
    """Immutable model versions; every change leaves an audit event in the same transaction."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.backend = catalogue.backend

    def register(
        self,
        name: str,
        *,
        run_id: str,
        uri: str,
        sha256: str,
        flavor: str,
        signature: dict[str, Any] | None,
        gate: dict[str, Any],
    ) -> int:
        """Add the next version of `name` and audit it; returns the version number."""
        now = utcnow()
        self.backend.write(
            [
                Statement(
                    "INSERT INTO model_versions (name, version, run_id, uri, sha256, flavor, "
                    "signature, gate, created_at) "
                    "SELECT ?, coalesce(max(version), 0) + 1, ?, ?, ?, ?, ?, ?, ? "
                    "FROM model_versions WHERE name = ?",
                    (
                        name,
                        run_id,
                        uri,
                        sha256,
                        flavor,
                        json.dumps(signature),
                        json.dumps(gate),
                        now,
                        name,
                    ),
                ),  # fmt: skip
                audit_statement(
                    "model.register", name, "evaluation gate passed", {"run_id": run_id, "uri": uri}
                ),
            ]
        )
        rows = self.backend.query(
            "SELECT max(version) AS v FROM model_versions WHERE name = ? AND run_id = ?",
            (name, run_id),
        ).to_pylist()
        return int(rows[0]["v"])

    def version_with_digest(self, name: str, sha256: str) -> int | None:
        """The version of `name` whose artifact has this digest, if one is registered."""
        rows = self.backend.query(
            "SELECT min(version) AS v FROM model_versions WHERE name = ? AND sha256 = ?",
            (name, sha256),
        ).to_pylist()
        return int(rows[0]["v"]) if rows and rows[0]["v"] is not None else None

    def models(self) -> list[ModelSummary]:
        """Every model: versions, latest version and its aliases."""
        rows = self.backend.query(
            "SELECT v.name, count(*) AS versions, max(v.version) AS latest, max(v.created_at) "
            "AS updated_at, (SELECT list(a.alias || '=v' || a.version ORDER BY a.alias) "
            "FROM model_aliases a WHERE a.name = v.name) AS aliases "
            "FROM model_versions v GROUP BY v.name ORDER BY v.name"
        ).to_pylist()
        return [
            ModelSummary(r["name"], int(r["versions"]), int(r["latest"]), r["updated_at"],
                         list(r["aliases"] or []))
            for r in rows
        ]  # fmt: skip

    def version(self, name: str, version: int) -> ModelVersion | None:
        """One version, or None."""
        rows = self.backend.query(
            "SELECT * FROM model_versions WHERE name = ? AND version = ?", (name, version)
        ).to_pylist()
        return _model_version(rows[0]) if rows else None

    def resolve(self, ref: ModelRef) -> ModelVersion:
        """The version `ref` names (alias, number, or the latest); NotFoundError with a hint."""
        latest = self.latest_version(ref.name)
        if latest is None:
            raise NotFoundError(f"no model named {ref.name!r}", MODELS_HINT)
        number = latest
        if ref.alias is not None:
            target = self.alias_target(ref.name, ref.alias)
            if target is None:
                known = ", ".join(self.aliases(ref.name)) or "none yet"
                raise NotFoundError(
                    f"{ref.name} has no alias {ref.alias!r}", f"its aliases: {known}"
                )
            number = target
        elif ref.version is not None:
            number = ref.version
        found = self.version(ref.name, number)
        if found is None:
            raise NotFoundError(f"{ref.name} has no version {number}", f"latest is v{latest}")
        return found

    def latest_version(self, name: str) -> int | None:
        rows = self.backend.query(
            "SELECT max(version) AS v FROM model_versions WHERE name = ?", (name,)
        ).to_pylist()
        return int(rows[0]["v"]) if rows and rows[0]["v"] is not None else None

    def alias_target(self, name: str, alias: str) -> int | None:
        rows = self.backend.query(
            "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", (name, alias)
        ).to_pylist()
        return int(rows[0]["version"]) if rows else None

    def aliases(self, name: str) -> dict[str, int]:
        rows = self.backend.query(
            "SELECT alias, version FROM model_aliases WHERE name = ? ORDER BY alias", (name,)
        ).to_pylist()
        return {row["alias"]: int(row["version"]) for row in rows}

    def move_alias(
        self, name: str, alias: str, version: int, *, reason: str, approver: str | None
    ) -> int | None:
        """Point `name@alias` at `version`, with its audit row, atomically; the old target."""
        previous = self.alias_target(name, alias)
        details = {"alias": alias, "from": previous, "to": version, "approver": approver}
        self.backend.write(
            [
                Statement(
                    "INSERT INTO model_aliases VALUES (?, ?, ?, ?) ON CONFLICT (name, alias) "
                    "DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                    (name, alias, version, utcnow()),
                ),
                audit_statement("alias.move", f"{name}@{alias}", reason, details),
            ]
        )
        return previous

    def alias_history(self, name: str, alias: str) -> list[AuditEvent]:
        """Moves of `name@alias`, newest first, from the audit trail."""
        rows = self.backend.query(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_events "
            "WHERE action = 'alias.move' AND target = ? ORDER BY event_id DESC",
            (f"{name}@{alias}",),
        ).to_pylist()
        return [_audit_event(row) for row in rows]

    def record_refusal(self, name: str, alias: str, version: int, reason: str, why: str) -> None:
        """A refused promotion still leaves its audit row."""
        details = {"alias": alias, "to": version, "refused": why}
        self.backend.write(
            [audit_statement("alias.move.refused", f"{name}@{alias}", reason, details)]
        )

    def open_drift_alert(self, name: str, version: int) -> bool:
        """True when the newest drift check of this version found drift."""
        rows = self.backend.query(
            "SELECT drifted FROM drift_checks WHERE model_name = ? AND model_version = ? "
            "ORDER BY created_at DESC LIMIT 1",
            (name, version),
        ).to_pylist()
        return bool(rows and rows[0]["drifted"])

    def image_built(self, name: str, version: int) -> bool:
        """True when `package build` recorded an image of this version."""
        rows = self.backend.query(
            "SELECT count(*) AS n FROM audit_events WHERE action = 'package.build' AND target = ?",
            (f"{name}:{version}",),
        ).to_pylist()
        return bool(rows[0]["n"])

    def record_image_built(self, name: str, version: int, details: dict[str, Any]) -> None:
        """An image of `name:version` was built: the row `image_built` and its gate look for."""
        target = f"{name}:{version}"
        self.backend.write([audit_statement("package.build", target, "image built", details)])

    def record_build_failure(self, name: str, version: int, details: dict[str, Any]) -> None:
        """A failed build of `name:version` still leaves its audit row (not a built image)."""
        statement = audit_statement("package.build.failed", f"{name}:{version}", "failed", details)
        self.backend.write([statement])

    def audit_events(self, limit: int) -> list[AuditEvent]:
        """The audit trail, newest first."""
        rows = self.backend.query(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_events ORDER BY event_id DESC LIMIT ?",
            (limit,),
        ).to_pylist()
        return [_audit_event(row) for row in rows]

    def versions(self, run_id: str) -> list[ModelVersion]:
        """Model versions registered from a run."""
        rows = self.backend.query(
            "SELECT * FROM model_versions WHERE run_id = ? ORDER BY name, version", (run_id,)
        ).to_pylist()
        return [_model_version(row) for row in rows]

    def versions_of(self, name: str) -> list[ModelVersion]:
        """Every version of model `name`, newest first."""
        rows = self.backend.query(
            "SELECT * FROM model_versions WHERE name = ? ORDER BY version DESC", (name,)
        ).to_pylist()
        return [_model_version(row) for row in rows]

    def champion_metrics(self, name: str) -> dict[str, float] | None:
        """Latest metrics of the run behind `name@champion`, or None without a champion."""
        rows = self.backend.query(
            "SELECT m.key, m.value FROM model_aliases a "
            "JOIN model_versions v ON v.name = a.name AND v.version = a.version "
            "JOIN latest_metrics m ON m.run_id = v.run_id "
            "WHERE a.name = ? AND a.alias = 'champion'",
            (name,),
        ).to_pylist()
        return {row["key"]: float(row["value"]) for row in rows} or None


def audit_statement(action: str, target: str, reason: str, details: dict[str, Any]) -> Statement:
    """An append-only audit row; ids are max + 1 under the single writer."""
    return Statement(
        "INSERT INTO audit_events SELECT coalesce(max(event_id), 0) + 1, ?, ?, ?, ?, ?, ? "
        "FROM audit_events",
        (utcnow(), current_actor(), action, target, reason, json.dumps(details)),
    )


def _model_version(row: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=row["name"],
        version=int(row["version"]),
        uri=row["uri"],
        run_id=row["run_id"],
        sha256=row["sha256"],
        flavor=row["flavor"],
        signature=json.loads(row["signature"] or "null"),
        gate=json.loads(row["gate"] or "null"),
        description=row["description"],
        created_at=row["created_at"],
    )


def _audit_event(row: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        event_id=int(row["event_id"]),
        ts=row["ts"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        reason=row["reason"],
        details=json.loads(row["details"] or "{}"),
    )
