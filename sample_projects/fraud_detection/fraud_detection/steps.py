"""The fraud pipeline's steps: prepare -> train -> evaluate (see ../workbench.toml).

The "model" output directory *is* the MLflow model (MLmodel, model.pkl, conda.yaml, ...),
so `mlflow.pyfunc.load_model(<model output dir>)` loads it directly; its pyfunc `predict`
returns `predict_proba`, an (n, 2) array whose column 1 is the probability of fraud.
"""

from __future__ import annotations

import time
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from fraud_detection.data import CATEGORICAL, FEATURES, NUMERIC, TARGET, generate_transactions
from workbench.compute.context import StepContext

HOLDOUT_SHARE = 0.2
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


def prepare(ctx: StepContext) -> None:
    """Generate transactions and split them 80/20, stratified on `is_fraud`, by a seeded split."""
    params = ctx.params
    frame = generate_transactions(
        int(params["n_rows"]), fraud_rate=float(params["fraud_rate"]), seed=int(params["seed"])
    )
    train_rows, holdout_rows = train_test_split(
        frame, test_size=HOLDOUT_SHARE, stratify=frame[TARGET], random_state=int(params["seed"])
    )
    ctx.save_table("train", train_rows.reset_index(drop=True))
    ctx.save_table("holdout", holdout_rows.reset_index(drop=True))


def build_pipeline(n_estimators: int, max_depth: int, seed: int, n_jobs: int = 1) -> Pipeline:
    """One-hot categoricals (unknown ones ignored, e.g. a new merchant category) + a forest."""
    features = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
            ("numeric", "passthrough", list(NUMERIC)),
        ]
    )
    forest = RandomForestClassifier(
        n_estimators=n_estimators,
        max_depth=max_depth,
        class_weight="balanced_subsample",  # 1% positives: reweight each bootstrap sample
        random_state=seed,
        n_jobs=n_jobs,
    )
    return Pipeline([("features", features), ("forest", forest)])


def fit_distributed(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, workers: int) -> None:
    """Fit the forest's trees on `workers` workers: Ray tasks when Ray is up, else threads.

    Inside a Workbench run on Ray the step already runs in a Ray worker, so joblib's Ray
    backend spreads the trees over the cluster; run locally (tests, no Ray) it uses
    `n_jobs=workers` threads on this machine.
    """
    import ray

    pipeline.set_params(forest__n_jobs=workers)
    if ray.is_initialized():
        import joblib
        from ray.util.joblib import register_ray

        register_ray()
        with joblib.parallel_backend("ray", n_jobs=workers):
            pipeline.fit(X, y)
    else:
        pipeline.fit(X, y)
    # Serving scores small batches: extra threads would cost more than they save.
    pipeline.set_params(forest__n_jobs=1)


def train(ctx: StepContext) -> None:
    """Fit the pipeline on `train` and save it, in MLflow format, as the output `model`."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    params = ctx.params
    frame = ctx.load_table("train")
    X, y = frame[list(FEATURES)], frame[TARGET]
    pipeline = build_pipeline(
        int(params["n_estimators"]), int(params["max_depth"]), int(params["seed"])
    )
    started = time.perf_counter()
    fit_distributed(pipeline, X, y, max(1, ctx.workers))
    fit_seconds = time.perf_counter() - started
    train_scores = pipeline.predict_proba(X)[:, 1]
    ctx.log_metrics(
        {
            "fit_seconds": fit_seconds,
            "train_auc": float(roc_auc_score(y, train_scores)),  # in-sample: an upper bound
            "train_rows": float(len(frame)),
        }
    )

    sample = X.head(100)
    with warnings.catch_warnings():
        # MLflow hints that int columns cannot carry missing values; ours never miss any.
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(sample, pipeline.predict_proba(sample))
    model_dir = ctx.fresh_output_dir("model")  # MLflow refuses a non-empty target
    mlflow.sklearn.save_model(
        pipeline,
        str(model_dir),
        signature=signature,
        input_example=X.head(5),
        pyfunc_predict_fn="predict_proba",
        # skops, not pickle: loading runs no arbitrary code. The forest's tree storage is the
        # one type skops asks us to vouch for, and we built it ourselves just above.
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        # Pinned, not inferred: inference imports the model in a subprocess (slow) and picks
        # up whatever else the environment has loaded (torch, pytest, ...).
        pip_requirements=pip_requirements(),
    )


def pip_requirements() -> list[str]:
    """What serving this model needs, pinned to the versions that trained it."""
    packages = ["mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy"]
    return [f"{name}=={version(name)}" for name in packages]


def evaluate(ctx: StepContext) -> dict[str, float]:
    """Score `holdout` with the saved model: AUC, average precision, recall at 1% FPR."""
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(str(ctx.input_dir("model")))
    holdout = ctx.load_table("holdout")
    scores = model.predict_proba(holdout[list(FEATURES)])[:, 1]
    return classification_metrics(holdout[TARGET].to_numpy(), scores)


def classification_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The metrics `[evaluation]` names, for labels `y` and fraud scores `scores`."""
    return {
        "auc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
        "recall_at_1pct_fpr": recall_at_fpr(y, scores, 0.01),
    }


def recall_at_fpr(y: np.ndarray, scores: np.ndarray, max_fpr: float) -> float:
    """Share of fraud caught when at most `max_fpr` of legitimate transactions are flagged."""
    fpr, tpr, _ = roc_curve(y, scores)
    return float(tpr[fpr <= max_fpr].max())
