"""A model brought in by `catalogue import` whose files no longer match what was registered
is refused by `workbench serve` and by `workbench package build`, in one line naming the
checksum, before any cluster or engine is involved."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.models import register_fraud, train_fraud_model
from workbench.artifacts.manifest import write_manifest
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.settings import load_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """fraud v1 registered in one home, exported, and imported into another: (home, model).

    A `serve` that wrongly accepts a model starts a cluster: it is taken down afterwards."""
    root = tmp_path_factory.mktemp("imported")
    model_dir = train_fraud_model(root / "train")
    source = root / "source"
    with Catalogue(DuckDBBackend(load_settings(source).catalogue_path)) as catalogue:
        register_fraud(catalogue, model_dir)
    exported = run_cli(source, "catalogue", "export", str(root / "dump"))
    assert exported.returncode == 0, exported.stderr[-2000:]
    home = root / "home"
    brought = run_cli(home, "catalogue", "import", str(root / "dump"))
    assert brought.returncode == 0, brought.stderr[-2000:]
    shown = json.loads(run_cli(home, "models", "show", "fraud:1", "--json").stdout)
    assert shown["uri"] == str(model_dir)
    yield home, model_dir
    if (home / "cluster.json").exists():
        down = run_cli(home, "cluster", "down")
        assert down.returncode == 0, down.stderr[-2000:]


def _tamper_weights(model_dir: Path) -> None:
    """Append a byte to the saved model: what a swapped or corrupted file looks like."""
    with (model_dir / "model.skops").open("ab") as weights:
        weights.write(b"\0")


def _tamper_and_rewrite_manifest(model_dir: Path) -> None:
    """Swap the weights and make the artifact's own manifest agree: only the sha256 the
    catalogue recorded at registration can tell."""
    _tamper_weights(model_dir)
    write_manifest(model_dir)


def _refusals(home: Path, tmp_path: Path) -> dict[str, str]:
    """stderr of `serve` and `package build --context-only`, each asserted to exit non-zero."""
    refused = {}
    for what, args in {
        "serve": ("serve", "fraud:1", "--name", "fraud-tampered"),
        "package": ("package", "build", "fraud:1", "--context-only", str(tmp_path / "context")),
    }.items():
        result = run_cli(home, *args)
        assert result.returncode != 0, f"{what} accepted a tampered model: {result.stdout[-2000:]}"
        refused[what] = result.stderr
    assert not (tmp_path / "context" / "model").exists()  # nothing of it was copied out
    return refused


@pytest.mark.parametrize(
    "tamper",
    [
        _tamper_weights,
        _tamper_and_rewrite_manifest,
    ],
)
def test_a_tampered_imported_model_is_refused_at_serve_and_package(
    imported: tuple[Path, Path], tmp_path: Path, tamper: Callable[[Path], None]
) -> None:
    home, model_dir = imported
    kept = {path: path.read_bytes() for path in model_dir.rglob("*") if path.is_file()}
    tamper(model_dir)
    try:
        refused = _refusals(home, tmp_path)
    finally:
        for path, content in kept.items():
            path.write_bytes(content)
    assert {path for path in model_dir.rglob("*") if path.is_file()} == set(kept)
    for what, stderr in refused.items():
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, f"{what}: {stderr[-2000:]}"  # progress lines may come before
        assert "checksum" in errors[0], f"{what}: {errors[0]}"
        assert "Traceback" not in stderr
