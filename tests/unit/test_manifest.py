"""Artifacts carry a manifest of sha256 sums; any change is refused before loading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.artifacts.manifest import (
    MANIFEST,
    TamperedArtifactError,
    verify_manifest,
    write_manifest,
)


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "data").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "data" / "model.bin").write_bytes(bytes(range(256)) * 10)
    write_manifest(root)
    return root


def test_untouched_artifact_verifies(artifact: Path) -> None:
    verify_manifest(artifact)
    assert (artifact / MANIFEST).exists()


def test_one_flipped_byte_is_refused(artifact: Path) -> None:
    path = artifact / "data" / "model.bin"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(TamperedArtifactError, match="data/model.bin does not match its checksum"):
        verify_manifest(artifact)


def test_added_removed_and_linked_files_are_refused(artifact: Path, tmp_path: Path) -> None:
    (artifact / "extra.py").write_text("import os")
    with pytest.raises(TamperedArtifactError, match="unexpected file 'extra.py'"):
        verify_manifest(artifact)
    (artifact / "extra.py").unlink()
    (artifact / "MLmodel").unlink()
    with pytest.raises(TamperedArtifactError, match="missing file 'MLmodel'"):
        verify_manifest(artifact)
    (artifact / "MLmodel").write_text("flavors: {}\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("canary")
    os.symlink(outside, artifact / "data" / "link")
    with pytest.raises(TamperedArtifactError, match="links outside the artifact"):
        verify_manifest(artifact)
    assert outside.read_text() == "canary"


def test_missing_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    with pytest.raises(TamperedArtifactError, match="no readable"):
        verify_manifest(tmp_path / "m")
