"""A model version is verified before it loads: a tampered pickle never executes."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from workbench.artifacts.loading import load_verified
from workbench.artifacts.manifest import TamperedArtifactError, write_manifest

pytestmark = pytest.mark.slow  # MLflow import and model save take a few seconds


class _Payload:
    """Unpickling this writes a file: proof that a tampered pickle would have run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.write_text, (Path(self.path), "executed"))


def _save_model(directory: Path) -> None:
    import mlflow.pyfunc

    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]  # a lazy name mypy cannot see
        def predict(self, context: object, model_input: object, params: object = None) -> object:
            return model_input

    mlflow.pyfunc.save_model(str(directory), python_model=Doubler())
    write_manifest(directory)


def test_untampered_model_loads(tmp_path: Path) -> None:
    _save_model(tmp_path / "model")
    model = load_verified(tmp_path / "model")
    assert model.metadata is not None


def test_tampered_pickle_is_refused_before_it_runs(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    _save_model(model_dir)
    canary = tmp_path / "canary.txt"
    pickles = sorted(model_dir.rglob("*.pkl"))
    assert pickles, "the saved model should hold a pickle"
    pickles[0].write_bytes(pickle.dumps(_Payload(str(canary))))
    with pytest.raises(TamperedArtifactError, match="does not match its checksum"):
        load_verified(model_dir)
    assert not canary.exists()
