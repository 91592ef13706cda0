"""MLflow's published path-traversal vectors are refused; a canary outside keeps its bytes."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from workbench.artifacts.safe_paths import check_relative, safe_extract, safe_join
from workbench.core.errors import InvalidInputError

VECTORS = [
    "../canary.txt",
    "model/../../canary.txt",
    "/etc/passwd",
    "..\\canary.txt",
    "model\\..\\..\\canary.txt",
    "%2e%2e%2fcanary.txt",
    "%2e%2e/canary.txt",
    "..%2fcanary.txt",
    "%252e%252e%252fcanary.txt",
    "file:///etc/passwd",
    "file://../canary.txt",
    "s3://bucket/key",
    "~/.ssh/id_rsa",
    "model/\x00.txt",
    "",
]


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path, str]:
    root = tmp_path / "store"
    (root / "model").mkdir(parents=True)
    canary = tmp_path / "canary.txt"
    canary.write_text("do not touch")
    return root, canary, hashlib.sha256(canary.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", VECTORS)
def test_traversal_vectors_are_refused(store: tuple[Path, Path, str], name: str) -> None:
    root, canary, digest = store
    with pytest.raises(InvalidInputError):
        safe_join(root, name)
    assert hashlib.sha256(canary.read_bytes()).hexdigest() == digest


def test_symlink_pointing_out_is_refused(store: tuple[Path, Path, str]) -> None:
    root, canary, _ = store
    os.symlink(canary, root / "model" / "link.txt")
    with pytest.raises(InvalidInputError, match="resolves outside"):
        safe_join(root, "model/link.txt")


def test_plain_names_pass(store: tuple[Path, Path, str]) -> None:
    root, _, _ = store
    assert safe_join(root, "model/MLmodel") == root / "model" / "MLmodel"
    assert str(check_relative("data/part-0.parquet")) == "data/part-0.parquet"


def _tar(path: Path, members: dict[str, bytes], link: tuple[str, str] | None = None) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type = tarfile.SYMTYPE
            info.linkname = link[1]
            tar.addfile(info)
    return path


def test_archive_members_are_checked(store: tuple[Path, Path, str], tmp_path: Path) -> None:
    root, canary, digest = store
    good = _tar(tmp_path / "good.tar", {"model/MLmodel": b"x"})
    assert safe_extract(good, root / "a") == [root / "a" / "model" / "MLmodel"]
    for name, archive in [
        ("../canary.txt", _tar(tmp_path / "b1.tar", {"../canary.txt": b"owned"})),
        ("/abs", _tar(tmp_path / "b2.tar", {str(canary): b"owned"})),
        ("link", _tar(tmp_path / "b3.tar", {}, link=("model/l", str(canary)))),
    ]:
        with pytest.raises(InvalidInputError):
            safe_extract(archive, root / "b")
        assert hashlib.sha256(canary.read_bytes()).hexdigest() == digest, name
