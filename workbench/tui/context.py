"""What the app is built from: settings, a clock, refresh periods and remembered choices.

The TUI reaches data only through services called with `Workspace.settings`; this class
holds what tests fix (the clock, the refresh period) so the same app runs in both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.core.settings import Settings

PREFS_FILE = "tui.json"


def utcnow() -> datetime:
    """Naive UTC, the catalogue's convention for every timestamp."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Workspace:
    """Settings plus the app's own knobs; `now` and `live` are fixed in tests."""

    settings: Settings
    now: Callable[[], datetime] = utcnow
    """Naive UTC; shown in the header, and the end of every time window a screen reads."""
    refresh_s: float = 2.0
    """How often a visible live screen reloads (hidden screens never do)."""
    live: bool = True
    """False in snapshot tests: screens load once and never poll."""
    prefetch_runs: bool = True
    """Read the Runs screen's first page once the first screen has loaded (see prefetch)."""
    project_roots: tuple[Path, ...] = field(default_factory=lambda: (Path.cwd(),))
    """Where the Pipelines screen looks for projects."""

    def __post_init__(self) -> None:
        # The app outlives clusters, so it never becomes a Ray driver (see Settings).
        self.settings = replace(self.settings, may_join_ray=False)

    @property
    def prefs_path(self) -> Path:
        """Choices the app remembers across restarts (the runs columns, the theme)."""
        return self.settings.home / PREFS_FILE

    def prefs(self) -> dict[str, Any]:
        """The remembered choices; an unreadable file counts as none."""
        try:
            loaded = json.loads(self.prefs_path.read_text())
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def remember(self, key: str, value: Any) -> None:
        """Save one choice; written atomically so a crash never leaves half a file."""
        prefs = {**self.prefs(), key: value}
        self.prefs_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.prefs_path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(prefs, indent=2, sort_keys=True))
        temporary.replace(self.prefs_path)
