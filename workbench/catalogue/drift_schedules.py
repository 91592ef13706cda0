"""When each deployment's traffic is checked for drift, and what the scheduler did about it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue, utcnow
from workbench.catalogue.models import audit_statement


class DriftScheduleLedger:
    """Rows of drift_schedules; the newest check per deployment and version from drift_checks."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.backend = catalogue.backend

    def set(self, deployment: str, *, interval_s: int, window_s: int, retrain: bool) -> None:
        """Check `deployment` every `interval_s` over the last `window_s` (audited)."""
        details = {"interval_s": interval_s, "window_s": window_s, "retrain": retrain}
        self.backend.write(
            [
                Statement(
                    "INSERT OR REPLACE INTO drift_schedules VALUES (?, ?, ?, ?, ?)",
                    (deployment, interval_s, window_s, retrain, utcnow()),
                ),
                audit_statement("drift.schedule", f"deployment/{deployment}", "", details),
            ]
        )

    def clear(self, deployment: str) -> bool:
        """Stop checking `deployment` on a schedule (audited); False when none was set."""
        found = self.backend.query(
            "SELECT count(*) AS n FROM drift_schedules WHERE deployment = ?", (deployment,)
        ).to_pylist()[0]["n"]
        if not found:
            return False
        self.backend.write(
            [
                Statement("DELETE FROM drift_schedules WHERE deployment = ?", (deployment,)),
                audit_statement("drift.unschedule", f"deployment/{deployment}", "", {}),
            ]
        )
        return True

    def all(self) -> dict[str, dict[str, Any]]:
        """Every explicit schedule by deployment."""
        rows = self.backend.query("SELECT * FROM drift_schedules ORDER BY deployment").to_pylist()
        return {row["deployment"]: row for row in rows}

    def last_check(self, deployment: str, model_name: str, model_version: int) -> datetime | None:
        """The end of the newest checked window of this deployment and version, or None."""
        rows = self.backend.query(
            "SELECT max(coalesce(window_end, created_at)) AS at FROM drift_checks "
            "WHERE deployment = ? "
            "AND model_name = ? AND model_version = ?",
            (deployment, model_name, model_version),
        ).to_pylist()
        return rows[0]["at"] if rows else None

    def record_retrain(self, target: str, check_id: str, project_root: str, log: str) -> None:
        """Audit a retrain started because check `check_id` found drift."""
        details = {"check_id": check_id, "project": project_root, "log": log}
        self.backend.write(
            [audit_statement("drift.retrain", target, "drift alert opened", details)]
        )
