"""A model version ready to score columns: verified, loaded once, called directly."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.serving.signature import Columns, InputSchema


@dataclass
class ServedModel:
    """One loaded model version: its schema, metadata and a direct predict function."""

    name: str
    version: int
    schema: InputSchema
    metadata: dict[str, Any]
    _predict: Any = field(repr=False)

    @classmethod
    def load(cls, model_dir: Path, info: dict[str, Any]) -> ServedModel:
        """Verify the manifest, load the pyfunc, and pick the fastest faithful predict path.

        For the sklearn flavor the raw estimator's predict function (the one the pyfunc
        would call) is used directly: MLflow's pyfunc wrapper re-checks the schema with
        pandas on every call, which we have already done on numpy.
        """
        from workbench.artifacts.loading import load_verified

        pyfunc = load_verified(model_dir)
        signature = pyfunc.metadata.signature
        signature_dict = signature.to_dict() if signature is not None else None
        flavors = pyfunc.metadata.flavors
        predict = _direct_predict(pyfunc, flavors)
        name, version = str(info.get("name", model_dir.name)), int(info.get("version", 0))
        metadata = {
            "name": name,
            "version": version,
            "flavor": next((f for f in flavors if f != "python_function"), "python_function"),
            "signature": _decoded(signature_dict),
            **{k: v for k, v in info.items() if k in ("run_id", "sha256", "metrics")},
        }
        return cls(name, version, InputSchema.from_signature(signature_dict), metadata, predict)

    def predict(self, columns: Columns) -> list[Any]:
        """Predictions for validated columns, one JSON-ready entry per row."""
        import pandas as pd  # deferred: the models we serve take DataFrames; parsing does not

        return _to_list(self._predict(pd.DataFrame(columns, copy=False)))


def _decoded(signature: dict[str, Any] | None) -> dict[str, Any] | None:
    """MLmodel stores each side of a signature as a JSON string; metadata shows it parsed."""
    if signature is None:
        return None
    return {k: json.loads(v) if isinstance(v, str) else v for k, v in signature.items()}


def _direct_predict(pyfunc: Any, flavors: dict[str, Any]) -> Any:
    if "sklearn" in flavors:
        method = flavors["python_function"].get("predict_fn", "predict")
        return getattr(pyfunc.get_raw_model(), method)
    return pyfunc.predict


def _to_list(result: Any) -> list[Any]:
    if isinstance(result, np.ndarray):
        return result.tolist()
    if hasattr(result, "to_dict") and hasattr(result, "columns"):  # a DataFrame
        return list(result.to_dict(orient="records"))
    if hasattr(result, "tolist"):
        return list(result.tolist())
    return list(result)


def read_info(path: Path | None) -> dict[str, Any]:
    """The model-info.json written beside a packaged model (empty without one)."""
    return json.loads(path.read_text()) if path is not None and path.exists() else {}
