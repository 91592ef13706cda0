"""Whether the catalogue may have changed, without opening it: for live screens."""

from __future__ import annotations

from workbench.core.settings import Settings


def catalogue_version(settings: Settings) -> tuple[int, ...]:
    """Changes whenever the catalogue may have: size and mtime of the file, its WAL and the
    owner file. A stat, no open: live screens skip a read when it has not moved."""
    version: list[int] = []
    for path in (
        settings.catalogue_path,
        settings.catalogue_path.with_name(settings.catalogue_path.name + ".wal"),
        settings.owner_file,
    ):
        try:
            status = path.stat()
        except OSError:
            version += [-1, -1]
            continue
        version += [status.st_size, status.st_mtime_ns]
    return tuple(version)
