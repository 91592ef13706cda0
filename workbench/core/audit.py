"""The audit trail's vocabulary: one append-only event per change a person or Workbench made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AuditEvent:
    """Who did what to which target, when and why; `details` holds the change itself."""

    event_id: int
    ts: datetime
    actor: str
    action: str
    target: str | None
    reason: str | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `audit ls --json` fields."""
        return {
            "event_id": self.event_id,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "reason": self.reason,
            "details": self.details,
        }
