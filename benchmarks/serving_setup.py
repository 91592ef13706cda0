"""Shared by the serving benchmarks: models registered in a fresh home, the CLI, probes.

Two models on the fraud sample project's data: the project's own forest pipeline
(registered as `fraud`, ~2.5 ms a call whatever the batch) and a LogisticRegression on the
numeric columns (registered as `fraud_lr`, ~0.3 ms a call: what is left is the ingress and
protocol). Both are registered the way the serving tests register models
(`ModelLedger.register` with the manifest's sha256 and the MLflow signature).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class BenchModel:
    """A registered model: its name, MLflow directory, a one-row body and a probe body."""

    name: str
    model_dir: Path
    body: bytes
    probe_body: bytes
    probe_expected: list[list[float]]


def split_body(frame: pd.DataFrame) -> bytes:
    """`frame` as an MLflow `dataframe_split` JSON body."""
    split = json.loads(frame.to_json(orient="split", index=False))
    return json.dumps({"dataframe_split": split}).encode()


def own_predictions(model_dir: Path, frame: pd.DataFrame) -> list[list[float]]:
    """What the model itself predicts for `frame` (pyfunc, in this process)."""
    import mlflow.pyfunc

    return np.asarray(mlflow.pyfunc.load_model(str(model_dir)).predict(frame)).tolist()


def bench_model(name: str, model_dir: Path, rows: pd.DataFrame) -> BenchModel:
    """Bodies for `model_dir`: the first row for load, all `rows` for the correctness probe."""
    return BenchModel(name, model_dir, split_body(rows.head(1)), split_body(rows),
                      own_predictions(model_dir, rows))  # fmt: skip


def train_models(home: Path, work: Path, trees: int, *, second_forest: bool = False
                 ) -> dict[str, BenchModel]:  # fmt: skip
    """Train the forest (and a second forest, seed 9, as fraud:2) and the LR; register them."""
    from tests.fixtures.models import holdout_rows, register_fraud, train_fraud_model
    from workbench.catalogue import Catalogue
    from workbench.catalogue.duckdb_backend import DuckDBBackend
    from workbench.core.settings import load_settings

    forest_dir = train_fraud_model(work / "forest", n_estimators=trees)
    second_dir = (
        train_fraud_model(work / "forest2", seed=9, n_estimators=trees) if second_forest else None
    )
    lr_dir = _train_lr(work / "forest", work / "lr")
    settings = load_settings(home)
    settings.home.mkdir(parents=True, exist_ok=True)
    catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    register_fraud(catalogue, forest_dir)
    if second_dir is not None:
        register_fraud(catalogue, second_dir)
    _register(catalogue, "fraud_lr", lr_dir)
    catalogue.close()
    rows = holdout_rows(work / "forest", 20)
    from fraud_detection.data import NUMERIC

    models = {"forest": bench_model("fraud", forest_dir, rows),
              "lr": bench_model("fraud_lr", lr_dir, rows[list(NUMERIC)])}  # fmt: skip
    if second_dir is not None:
        models["forest2"] = bench_model("fraud", second_dir, rows)
    return models


def _train_lr(forest_work: Path, target: Path) -> Path:
    """A LogisticRegression on the forest's training table, numeric columns only (~0.3 ms)."""
    import mlflow.sklearn
    from fraud_detection.data import NUMERIC, TARGET
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from workbench.artifacts.manifest import write_manifest

    frame = pd.read_parquet(next((forest_work / "artifacts" / "train").glob("*.parquet")))
    X, y = frame[list(NUMERIC)], frame[TARGET]
    model = LogisticRegression(max_iter=2000).fit(X, y)
    signature = infer_signature(X.head(100), model.predict_proba(X.head(100)))
    mlflow.sklearn.save_model(model, str(target), signature=signature,
                              pyfunc_predict_fn="predict_proba",
                              serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                              pip_requirements=["mlflow", "scikit-learn", "skops"])  # fmt: skip
    write_manifest(target)
    return target


def _register(catalogue: Any, name: str, model_dir: Path) -> int:
    """Register `model_dir` as the next version of `name` whose gate passed."""
    from workbench.artifacts.manifest import digest_path
    from workbench.catalogue.models import ModelLedger
    from workbench.services.pipeline import _signature

    run_id = catalogue.create_run(name)
    catalogue.finish_run(run_id)
    return int(ModelLedger(catalogue).register(
        name, run_id=run_id, uri=str(model_dir), sha256=digest_path(model_dir)[0],
        flavor="sklearn", signature=_signature(model_dir), gate={"passed": True, "checks": []},
    ))  # fmt: skip


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a `workbench` command on `home`, with no inherited Ray variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["WORKBENCH_HOME"] = str(home)
    return env


def cli(home: Path, *args: str) -> str:
    """`workbench ARGS` on `home`; its stdout, or exit with its stderr when it fails."""
    result = subprocess.run([sys.executable, "-m", "workbench.cli", *args], env=cli_env(home),
                            capture_output=True, text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"workbench {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def deploy(home: Path, model: str, *options: str) -> tuple[str, dict[str, str]]:
    """`workbench serve MODEL OPTIONS`: the invocations URL and the headers with its token."""
    summary = json.loads(cli(home, "serve", model, *options, "--json"))
    token = (home / "tokens" / f"{summary['name']}.token").read_text().strip()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return f"{summary['url']}/invocations", headers


def probe(url: str, model: BenchModel, headers: dict[str, str]) -> bytes:
    """Check the server's predictions for the probe rows against the model's own; returns
    the server's exact body for the one-row load request (for the load's body check)."""
    import requests

    response = requests.post(url, data=model.probe_body, headers=headers, timeout=30)
    if response.status_code != 200:
        raise ProbeFailed(f"{url}: probe answered {response.status_code}: {response.text[:200]}")
    got = np.asarray(response.json()["predictions"], dtype=float)
    if got.shape != np.shape(model.probe_expected) or not np.allclose(
        got, model.probe_expected, rtol=1e-9, atol=1e-12
    ):
        raise ProbeFailed(f"{url}: predictions differ from the model's own")
    one = requests.post(url, data=model.body, headers=headers, timeout=30)
    if one.status_code != 200 or not np.allclose(
        np.asarray(one.json()["predictions"], dtype=float), model.probe_expected[:1]
    ):
        raise ProbeFailed(f"{url}: the one-row request answered {one.status_code} or wrongly")
    return one.content


class ProbeFailed(Exception):
    """A server answered an error or predictions that are not the model's."""


def wait_ready(url: str, body: bytes, headers: dict[str, str], timeout: float = 180) -> None:
    """Poll `url` with `body` until it answers 200."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.post(url, data=body, headers=headers, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer 200 within {timeout:g} s")


def load_average() -> str:
    """`uptime`'s load averages, recorded with every run (the machine is shared)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
