"""The saved local cluster: WORKBENCH_HOME/cluster.json, written by `workbench cluster up`.

The file is mode 0600 and holds the head's address, never its token: the token stays in
Ray's token file and is never copied, printed or logged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.core.settings import Settings

PROFILE_FILE = "cluster.json"
TOKEN_FILE = Path.home() / ".ray" / "auth_token"


@dataclass(frozen=True)
class ClusterProfile:
    """A local head started by `workbench cluster up`."""

    address: str
    dashboard_url: str
    process_group: int
    cpus: int
    gpus: int
    started_at: str
    token_file: str = str(TOKEN_FILE)
    serve_port: int = 8000
    serve_ingress: str = "python"


def profile_path(settings: Settings) -> Path:
    """Where this home's cluster profile lives."""
    return settings.home / PROFILE_FILE


def read_profile(settings: Settings) -> ClusterProfile | None:
    """The saved local cluster, or None."""
    try:
        data = json.loads(profile_path(settings).read_text())
        return ClusterProfile(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_profile(settings: Settings, profile: ClusterProfile) -> None:
    """Save the profile, readable by this user only (mode 0600 before anything is written)."""
    path = profile_path(settings)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(asdict(profile), indent=2))


def forget_profile(settings: Settings) -> None:
    """Remove the saved profile (missing is fine): commands then start an embedded Ray."""
    profile_path(settings).unlink(missing_ok=True)
