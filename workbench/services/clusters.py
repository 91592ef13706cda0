"""Shared clusters as named profiles, like kubectl contexts: connect, use, list, forget.

`connect` checks everything before it saves: a name, a HOST:PORT address, a token file only
this user can read, and the head itself (reachable, checking tokens, taking this token, on
this machine's Ray and Python versions; `compute.remote.probe`, bounded by a timeout). A head
that checks no token is refused unless `insecure`, and then every command that uses it says
so. Tokens are never read into a profile, printed or logged: profiles hold the file's path.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.compute import profile as profiles
from workbench.compute.cluster import is_alive
from workbench.compute.errors import ClusterError
from workbench.compute.profile import LOCAL, ClusterProfile
from workbench.compute.remote import BAD_TOKEN, NO_AUTH, UNREACHABLE, dashboard_address, probe
from workbench.core.errors import InvalidInputError
from workbench.core.settings import Settings

PROBE_TIMEOUT_S = 5.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class ProfileRow:
    """One line of `cluster ls`: a saved cluster, whether it is in use and answers now."""

    name: str
    address: str
    current: bool
    up: bool
    remote: bool
    insecure: bool
    token_file: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def connect(
    settings: Settings,
    name: str,
    address: str,
    token_file: Path | None,
    *,
    insecure: bool,
    dashboard: str | None = None,
) -> ClusterProfile:
    """Check a shared cluster, save it as `name` and make it the one in use. `dashboard`
    (where its Jobs API answers) defaults to the address the head announced."""
    _check_name(name)
    _check_address(address)
    token = _read_token(token_file) if token_file is not None else None
    if token is None and not insecure:
        raise InvalidInputError(
            "--token-file is required", "the token the head was started with, in a 0600 file"
        )
    found = probe(address, token, PROBE_TIMEOUT_S)
    if found.verdict == UNREACHABLE:
        raise ClusterError(
            f"cannot reach a Ray head at {address}: {found.detail}",
            "give the head's GCS address (`ray start --head --port`), through a tunnel if "
            "it is not on this network",
        )
    if found.verdict == BAD_TOKEN:
        raise ClusterError(
            f"the cluster at {address} refused the token in {token_file}",
            "ask whoever runs the cluster for its token (its head's ~/.ray/auth_token)",
        )
    if found.verdict == NO_AUTH and not insecure:
        raise ClusterError(
            f"the cluster at {address} checks no token: anyone who reaches it can run code "
            "on it (CVE-2023-48022)",
            "start its head with RAY_AUTH_MODE=token, or add --insecure if you accept that",
        )
    problem = found.version_problem()
    if problem:
        raise ClusterError(f"cannot join the cluster at {address}: {problem}",
                           "install the cluster's Ray and Python versions here")  # fmt: skip
    if dashboard is None:
        announced = dashboard_address(address, token, PROBE_TIMEOUT_S)
        dashboard = f"http://{announced}" if announced else ""
    saved = ClusterProfile(
        address=address,
        dashboard_url=dashboard.rstrip("/"),
        process_group=0,
        cpus=0,
        gpus=0,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        token_file=str(token_file.resolve()) if token_file is not None else "",
        name=name,
        remote=True,
        insecure=found.verdict == NO_AUTH,
    )
    profiles.save_remote(settings, saved)
    return saved


def use(settings: Settings, name: str) -> ClusterProfile | None:
    """Make `name` the cluster in use; `local` is the local head (None: embedded Ray)."""
    if name != LOCAL and name not in profiles.remote_profiles(settings):
        raise InvalidInputError(f"no saved cluster named {name!r}", _known(settings))
    profiles.use(settings, name)
    return profiles.read_profile(settings)


def forget(settings: Settings, name: str) -> None:
    """Forget a shared cluster (the cluster itself is untouched)."""
    if name == LOCAL:
        raise InvalidInputError("`local` is not a saved profile", "`cluster down` stops the head")
    if not profiles.remove_remote(settings, name):
        raise InvalidInputError(f"no saved cluster named {name!r}", _known(settings))


def listing(settings: Settings) -> list[ProfileRow]:
    """The local head and every shared cluster, the one in use marked, each probed for life."""
    current = profiles.current_name(settings)
    local = profiles.read_local(settings)
    rows = [
        ProfileRow(
            name=LOCAL,
            address=local.address if local else "embedded Ray (no head up)",
            current=current == LOCAL or current not in profiles.remote_profiles(settings),
            up=local is not None and is_alive(local),
            remote=False,
            insecure=False,
            token_file=local.token_file if local else "",
        )
    ]
    for name, saved in sorted(profiles.remote_profiles(settings).items()):
        rows.append(
            ProfileRow(
                name,
                saved.address,
                name == current,
                is_alive(saved),
                True,
                saved.insecure,
                saved.token_file,
            )  # fmt: skip
        )
    return rows


def _check_name(name: str) -> None:
    if name == LOCAL or not _NAME.match(name):
        raise InvalidInputError(
            f"{name!r} cannot name a cluster",
            "lowercase letters, digits, - and _ (up to 40), and not `local`",
        )


def _check_address(address: str) -> None:
    host, _, port = address.rpartition(":")
    if address.startswith("ray://") or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInputError(
            f"{address!r} is not a head's address",
            "HOST:PORT of its GCS, as `ray start --head --port 6379` sets it",
        )


def _read_token(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        token = path.read_text().strip()
    except OSError as error:
        raise InvalidInputError(f"cannot read the token file {path}: {error.strerror}") from None
    if mode & 0o077:
        raise InvalidInputError(
            f"the token file {path} can be read by others (mode {mode & 0o777:o})",
            f"chmod 600 {path}",
        )
    if not token:
        raise InvalidInputError(f"the token file {path} is empty")
    return token


def _known(settings: Settings) -> str:
    names = [LOCAL, *sorted(profiles.remote_profiles(settings))]
    return f"saved: {', '.join(names)} (`workbench cluster ls`)"
