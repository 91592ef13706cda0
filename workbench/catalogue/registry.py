"""Model versions and the audit trail (the registry issue builds on this)."""

from __future__ import annotations

import getpass
import json
import os
from typing import Any

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue, utcnow


def current_actor() -> str:
    """Who is acting: WORKBENCH_IDENTITY if set, else the OS user."""
    return os.environ.get("WORKBENCH_IDENTITY") or getpass.getuser()


class ModelRegistry:
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
                _audit(
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

    def versions(self, run_id: str) -> list[dict[str, Any]]:
        """Model versions registered from a run."""
        return self.backend.query(
            "SELECT name, version, uri, sha256, created_at FROM model_versions WHERE run_id = ? "
            "ORDER BY name, version",
            (run_id,),
        ).to_pylist()

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


def _audit(action: str, target: str, reason: str, details: dict[str, Any]) -> Statement:
    """An append-only audit row; ids are max + 1 under the single writer."""
    return Statement(
        "INSERT INTO audit_events SELECT coalesce(max(event_id), 0) + 1, ?, ?, ?, ?, ?, ? "
        "FROM audit_events",
        (utcnow(), current_actor(), action, target, reason, json.dumps(details)),
    )
