"""A manifest of sha256 sums for every file of an artifact, verified before it is loaded.

The manifest lives inside the artifact (`MANIFEST.sha256.json`), so a model directory
carries its own proof wherever it is copied: into an image, to another machine.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from workbench.core.errors import WorkbenchError

MANIFEST = "MANIFEST.sha256.json"


class TamperedArtifactError(WorkbenchError):
    """An artifact's files do not match its manifest: it must not be loaded."""

    exit_code = 1


def write_manifest(directory: Path) -> Path:
    """Hash every file under `directory` (except the manifest) and write the manifest."""
    files = {relative: _sha256(directory / relative) for relative in _files(directory)}
    path = directory / MANIFEST
    path.write_text(json.dumps({"algorithm": "sha256", "files": files}, indent=1, sort_keys=True))
    return path


def verify_manifest(directory: Path) -> None:
    """Refuse an artifact whose files were changed, added, removed or linked out of it."""
    path = directory / MANIFEST
    try:
        expected = json.loads(path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise TamperedArtifactError(
            f"{directory} has no readable {MANIFEST}", "re-register the model from its run"
        ) from None
    present = _files(directory)
    if set(present) != set(expected):
        extra = sorted(set(present) - set(expected))
        missing = sorted(set(expected) - set(present))
        what = f"unexpected file {extra[0]!r}" if extra else f"missing file {missing[0]!r}"
        raise TamperedArtifactError(f"{directory}: {what}", "the artifact was modified")
    for relative, digest in sorted(expected.items()):
        if _sha256(directory / relative) != digest:
            raise TamperedArtifactError(
                f"{directory}: {relative} does not match its checksum",
                "the artifact was modified after it was registered; refusing to load it",
            )


def digest_path(path: Path) -> tuple[str, int]:
    """sha256 over a file or a directory tree (names and contents), and its size in bytes."""
    digest = hashlib.sha256()
    size = 0
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        relative = file.name if file == path else file.relative_to(path).as_posix()
        digest.update(relative.encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
        digest.update(b"\0")
    return digest.hexdigest(), size


def verify_registered(directory: Path, sha256: str) -> None:
    """Refuse an artifact unless its manifest holds and its tree has the registered sha256.

    The manifest alone travels with the files, so whoever changes a file can rewrite it
    too; the sha256 the catalogue recorded at registration cannot be changed with them.
    """
    verify_manifest(directory)
    if digest_path(directory)[0] != sha256:
        raise TamperedArtifactError(
            f"{directory} does not match the checksum recorded at registration "
            f"(sha256 {sha256[:12]}...)",
            "its files or its manifest changed after it was registered; refusing to load it",
        )


def _files(directory: Path) -> list[str]:
    root = directory.resolve()
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise TamperedArtifactError(
                f"{directory}: {path.relative_to(directory)} links outside the artifact",
                "artifacts may not contain links that leave them",
            )
        if path.is_file() and path.name != MANIFEST:
            found.append(path.relative_to(directory).as_posix())
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
