"""Load a model version only after its manifest checks out: nothing in it runs before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.artifacts.manifest import verify_manifest


def load_verified(model_dir: Path) -> Any:
    """Verify every file against the manifest, then load the MLflow model as pyfunc.

    Verification comes first because loading unpickles: a tampered file must be refused
    before any of its bytes are interpreted.
    """
    verify_manifest(model_dir)
    import mlflow.pyfunc  # deferred: heavy, and only loading needs it

    return mlflow.pyfunc.load_model(str(model_dir))
