"""Path-traversal guards for artifact names, archive members and artifact URIs.

Refuses what MLflow's advisories list: `..` segments, absolute paths, backslashes,
percent-encoded and double-encoded traversal, `file://` and other schemes, NUL bytes,
and symlinks that leave the artifact store.
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from workbench.core.errors import InvalidInputError

_HINT = "artifact names are relative paths inside the store, like model/MLmodel"


def check_relative(name: str) -> PurePosixPath:
    """A clean relative path for `name`, or InvalidInputError naming the problem."""
    decoded = name
    for _ in range(3):  # %252e%252e -> %2e%2e -> ..
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    if decoded != name:
        raise InvalidInputError(f"artifact name {name!r} is percent-encoded", _HINT)
    if not name or "\x00" in name:
        raise InvalidInputError(f"artifact name {name!r} is empty or has a NUL byte", _HINT)
    if "\\" in name:
        raise InvalidInputError(f"artifact name {name!r} has a backslash", _HINT)
    if "://" in name or name.startswith(("file:", "http:", "https:", "s3:")):
        raise InvalidInputError(f"artifact name {name!r} is a URI, not a path", _HINT)
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("~"):
        raise InvalidInputError(f"artifact name {name!r} is absolute", _HINT)
    if any(part == ".." for part in path.parts):
        raise InvalidInputError(f"artifact name {name!r} climbs out with '..'", _HINT)
    return path


def safe_join(root: Path, name: str) -> Path:
    """`root / name`, refused unless it stays inside `root` after following links."""
    candidate = root / check_relative(name)
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise InvalidInputError(f"artifact name {name!r} resolves outside the store", _HINT)
    return candidate


def safe_extract(archive: Path, destination: Path) -> list[Path]:
    """Extract a tar archive, refusing any member that would land outside `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            safe_join(destination, member.name)
            if member.issym() or member.islnk() or not (member.isfile() or member.isdir()):
                raise InvalidInputError(
                    f"archive member {member.name!r} is a link or device", "archives hold files"
                )
        tar.extractall(destination, members=members, filter="data")
    return [destination / m.name for m in members if m.isfile()]
