"""Saved clusters: the local head (`cluster.json`, written by `workbench cluster up`) and
shared ones (`clusters.json`, written by `workbench cluster connect`), like kubectl contexts.

`clusters.json` names the one in use (`current`; `local` is the local head or, with none up,
an embedded Ray) and holds each shared cluster's address and the path of its token file.
Both files are mode 0600 and hold no token: tokens stay in their own files and are never
copied, printed or logged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.core.settings import Settings

PROFILE_FILE = "cluster.json"
PROFILES_FILE = "clusters.json"
TOKEN_FILE = Path.home() / ".ray" / "auth_token"
LOCAL = "local"
"""The name of the local head (or embedded Ray): `workbench cluster use local`."""


@dataclass(frozen=True)
class ClusterProfile:
    """A local head started by `workbench cluster up`, or a shared cluster (`remote`) saved by
    `workbench cluster connect` (no process group: Workbench never starts or stops it)."""

    address: str
    dashboard_url: str
    process_group: int
    cpus: int
    gpus: int
    started_at: str
    token_file: str = str(TOKEN_FILE)
    serve_port: int = 8000
    serve_ingress: str = "python"
    name: str = LOCAL
    remote: bool = False
    insecure: bool = False


def profile_path(settings: Settings) -> Path:
    """Where this home's cluster profile lives."""
    return settings.home / PROFILE_FILE


def read_profile(settings: Settings) -> ClusterProfile | None:
    """The cluster in use: the current shared one, else the local head (None: embedded)."""
    current = current_name(settings)
    if current != LOCAL:
        found = remote_profiles(settings).get(current)
        if found is not None:
            return found
    return read_local(settings)


def read_local(settings: Settings) -> ClusterProfile | None:
    """The saved local head, or None."""
    try:
        data = json.loads(profile_path(settings).read_text())
        return ClusterProfile(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_profile(settings: Settings, profile: ClusterProfile) -> None:
    """Save the local head's profile, readable by this user only."""
    _write_private(profile_path(settings), json.dumps(asdict(profile), indent=2))


def forget_profile(settings: Settings) -> None:
    """Remove the saved profile (missing is fine): commands then start an embedded Ray."""
    profile_path(settings).unlink(missing_ok=True)


def current_name(settings: Settings) -> str:
    """The name of the cluster in use (`local` unless `cluster use` chose a shared one)."""
    return str(_store(settings).get("current") or LOCAL)


def remote_profiles(settings: Settings) -> dict[str, ClusterProfile]:
    """Every saved shared cluster, by name."""
    found = {}
    for name, data in (_store(settings).get("profiles") or {}).items():
        try:
            found[name] = ClusterProfile(**data)
        except TypeError:  # written by a newer Workbench: skip it rather than fail
            continue
    return found


def save_remote(settings: Settings, profile: ClusterProfile) -> None:
    """Save (or replace) a shared cluster and make it the one in use."""
    store = _store(settings)
    store.setdefault("profiles", {})[profile.name] = asdict(profile)
    store["current"] = profile.name
    _write_store(settings, store)


def use(settings: Settings, name: str) -> None:
    """Make `name` (a saved shared cluster, or `local`) the cluster in use."""
    store = _store(settings)
    store["current"] = name
    _write_store(settings, store)


def remove_remote(settings: Settings, name: str) -> bool:
    """Forget a shared cluster (back to `local` if it was in use); False if none was saved."""
    store = _store(settings)
    if store.get("profiles", {}).pop(name, None) is None:
        return False
    if store.get("current") == name:
        store["current"] = LOCAL
    _write_store(settings, store)
    return True


def _store(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads((settings.home / PROFILES_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_store(settings: Settings, store: dict[str, Any]) -> None:
    _write_private(settings.home / PROFILES_FILE, json.dumps(store, indent=2))


def _write_private(path: Path, text: str) -> None:
    """Write `text` to a file only this user can read (mode 0600 before anything is in it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
