"""The fraud_detection sample project: its data generator, its steps end to end, its spec."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.contexts import make_context
from workbench.core.settings import load_settings
from workbench.core.spec import load_spec
from workbench.owner import open_catalogue

PROJECT = Path(__file__).resolve().parents[2] / "sample_projects" / "fraud_detection"


@pytest.fixture
def data(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """`fraud_detection.data`, imported the way Workbench does: project dir on sys.path."""
    monkeypatch.syspath_prepend(str(PROJECT))
    return importlib.import_module("fraud_detection.data")


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(PROJECT))
    return importlib.import_module("fraud_detection.steps")


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in process even if an earlier test left a Ray cluster connected."""
    import ray  # a required dependency: its absence is an error, never a skip

    monkeypatch.setattr(ray, "is_initialized", lambda: False)


# -- data -------------------------------------------------------------------------------------


def test_same_seed_same_frame_other_seed_other_frame(data: ModuleType) -> None:
    first = data.generate_transactions(5_000, seed=3)
    pd.testing.assert_frame_equal(first, data.generate_transactions(5_000, seed=3))
    other = data.generate_transactions(5_000, seed=4)
    assert not first["amount"].equals(other["amount"])


@pytest.mark.parametrize("rate", [0.005, 0.01, 0.05, 0.2])
def test_fraud_rate_is_the_requested_share(data: ModuleType, rate: float) -> None:
    frame = data.generate_transactions(20_000, fraud_rate=rate, seed=1)
    assert frame["is_fraud"].mean() == pytest.approx(rate, abs=0.001)


def test_columns_and_dtypes(data: ModuleType) -> None:
    frame = data.generate_transactions(2_000)
    assert list(frame.columns) == list(data.SCHEMA)
    assert set(data.FEATURES) | {data.TARGET} == set(frame.columns)
    for column, kind in data.SCHEMA.items():
        dtype = frame[column].dtype
        if kind == "float":
            assert dtype == np.float64, column
        elif kind == "int":
            assert dtype == np.int64, column
        else:
            assert pd.api.types.is_string_dtype(dtype), column
    assert not frame.isna().any().any()
    assert set(frame["is_fraud"].unique()) == {0, 1}
    assert set(frame["new_device"].unique()) <= {0, 1}


def test_structure_is_realistic(data: ModuleType) -> None:
    frame = data.generate_transactions(100_000, seed=2)
    shares = frame["merchant_category"].value_counts(normalize=True)
    assert set(shares.index) == set(data.MERCHANT_CATEGORIES)  # never the unseen one
    for name, (share, *_rest) in data.MERCHANT_CATEGORIES.items():
        assert shares[name] == pytest.approx(share, abs=0.01), name
    median = frame.groupby("merchant_category")["amount"].median()
    assert median["luxury_goods"] > 5 * median["grocery"]  # tickets differ by category
    assert (frame["amount"] > 0).all()
    assert frame["hour"].between(0, 23).all()
    hourly = frame["hour"].value_counts(normalize=True)
    assert hourly[3] < hourly[12] / 4  # quiet nights, busy middays
    assert (frame["country"] == data.HOME_COUNTRY).mean() > 0.9
    in_shop = frame["merchant_category"] == "grocery"
    assert (frame.loc[in_shop, "device"] == "pos").mean() > 0.6
    assert (
        frame.loc[frame["merchant_category"] == "online_retail", "device"] != "pos"
    ).mean() > 0.9

    fraud, legit = frame[frame["is_fraud"] == 1], frame[frame["is_fraud"] == 0]
    assert (fraud["hour"] <= 5).mean() > 2 * (legit["hour"] <= 5).mean()
    assert (fraud["country"] != "US").mean() > 3 * (legit["country"] != "US").mean()
    assert fraud["new_device"].mean() > 2 * legit["new_device"].mean()
    assert fraud["amount"].median() > legit["amount"].median()


def test_inflation_scales_amounts_and_nothing_else(data: ModuleType) -> None:
    base = data.generate_transactions(20_000, seed=5)
    inflated = data.generate_transactions(20_000, seed=5, drift=data.Drift(inflation=1.5))
    assert inflated["amount"].mean() / base["amount"].mean() == pytest.approx(1.5, rel=1e-3)
    ratio = inflated["customer_avg_amount_30d"].mean() / base["customer_avg_amount_30d"].mean()
    assert ratio == pytest.approx(1.5, rel=1e-3)
    untouched = ["merchant_category", "hour", "country", "device", "is_fraud"]
    pd.testing.assert_frame_equal(inflated[untouched], base[untouched])


def test_new_merchant_category_appears_with_its_share(data: ModuleType) -> None:
    base = data.generate_transactions(20_000, seed=5)
    drifted = data.generate_transactions(
        20_000, seed=5, drift=data.Drift(new_merchant_category=0.1)
    )
    assert (base["merchant_category"] == data.UNSEEN_CATEGORY).sum() == 0
    moved = drifted["merchant_category"] == data.UNSEEN_CATEGORY
    assert moved.mean() == pytest.approx(0.1, abs=1e-4)
    # Only the moved rows change category; the rest of the rows are the same transactions.
    assert (drifted.loc[~moved, "merchant_category"] == base.loc[~moved, "merchant_category"]).all()
    assert drifted["is_fraud"].mean() == pytest.approx(base["is_fraud"].mean(), abs=1e-4)


def test_fraud_shift_moves_fraud_to_daytime_domestic_high_amounts(data: ModuleType) -> None:
    base = data.generate_transactions(100_000, seed=5)
    shifted = data.generate_transactions(100_000, seed=5, drift=data.Drift(fraud_shift=1.0))

    def profile(frame: pd.DataFrame) -> dict[str, float]:
        fraud = frame[frame["is_fraud"] == 1]
        return {
            "night": float((fraud["hour"] <= 5).mean()),
            "day": float(fraud["hour"].between(9, 17).mean()),
            "foreign": float((fraud["country"] != "US").mean()),
        }

    before, after = profile(base), profile(shifted)
    assert after["night"] < before["night"] / 3
    assert after["foreign"] < before["foreign"] / 3
    assert after["day"] > before["day"] + 0.2
    # Same features: only the labels moved.
    pd.testing.assert_series_equal(shifted["amount"], base["amount"])
    assert shifted["is_fraud"].mean() == base["is_fraud"].mean()


def test_drift_knobs_are_validated(data: ModuleType) -> None:
    with pytest.raises(ValueError, match="inflation"):
        data.Drift(inflation=0.0)
    with pytest.raises(ValueError, match="new_merchant_category"):
        data.Drift(new_merchant_category=1.5)
    with pytest.raises(ValueError, match="fraud_shift"):
        data.Drift(fraud_shift=-0.1)


# -- steps ------------------------------------------------------------------------------------


def test_recall_at_fpr_reads_the_roc_curve(steps: ModuleType) -> None:
    y = np.array([0] * 100 + [1] * 10)
    scores = np.concatenate([np.linspace(0.0, 0.5, 100), np.linspace(0.3, 0.9, 10)])
    # At <= 1% FPR exactly one negative (0.5) may rank above the threshold: positives > 0.5.
    expected = float((scores[100:] >= 0.5).mean())
    assert steps.recall_at_fpr(y, scores, 0.01) == pytest.approx(expected)
    assert steps.recall_at_fpr(y, np.r_[np.zeros(100), np.ones(10)], 0.01) == 1.0


@pytest.mark.slow
@pytest.mark.usefixtures("no_ray")
def test_prepare_train_evaluate_in_process(steps: ModuleType, tmp_path: Path) -> None:
    import mlflow.pyfunc

    params: dict[str, object] = {
        "n_rows": 30_000,
        "fraud_rate": 0.01,
        "seed": 7,
        "n_estimators": 100,
        "max_depth": 12,
    }
    prepare = make_context(tmp_path, "prepare", params, [], ["train", "holdout"])
    assert steps.prepare(prepare) is None
    train_rows = pd.read_parquet(tmp_path / "artifacts" / "train" / "data.parquet")
    holdout = pd.read_parquet(tmp_path / "artifacts" / "holdout" / "data.parquet")
    assert (len(train_rows), len(holdout)) == (24_000, 6_000)
    assert (train_rows["is_fraud"].sum(), holdout["is_fraud"].sum()) == (240, 60)  # stratified

    train = make_context(tmp_path, "train", params, ["train"], ["model"])
    steps.train(train)
    steps.train(train)  # a retried step overwrites its own output instead of failing
    train.close()
    model_dir = tmp_path / "artifacts" / "model"
    assert (model_dir / "MLmodel").is_file()

    evaluate = make_context(tmp_path, "evaluate", params, ["model", "holdout"], [])
    metrics = steps.evaluate(evaluate)
    assert set(metrics) == set(load_spec(PROJECT).evaluation.metrics)
    assert all(isinstance(value, float) for value in metrics.values())
    assert metrics["auc"] >= 0.90
    assert metrics["auc"] < 0.999  # noisy labels: a perfect score would mean a leak
    assert 0.0 < metrics["recall_at_1pct_fpr"] <= 1.0

    model = mlflow.pyfunc.load_model(str(model_dir))
    probabilities = np.asarray(model.predict(holdout.drop(columns="is_fraud").head(5)))
    assert probabilities.shape == (5, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()

    with open_catalogue(load_settings(tmp_path / "home")) as catalogue:
        assert catalogue.metric_keys("t") == ["fit_seconds", "train_auc", "train_rows"]


@pytest.mark.slow
@pytest.mark.ray
def test_forest_fit_on_ray_matches_local_fit(
    ray_cluster: object, steps: ModuleType, data: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    assert ray.is_initialized()
    frame = data.generate_transactions(5_000, fraud_rate=0.05, seed=3)
    X, y = frame[list(data.FEATURES)], frame[data.TARGET]
    on_ray = steps.build_pipeline(20, 6, seed=3)
    steps.fit_distributed(on_ray, X, y, workers=2)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    local = steps.build_pipeline(20, 6, seed=3)
    steps.fit_distributed(local, X, y, workers=2)
    np.testing.assert_allclose(on_ray.predict_proba(X), local.predict_proba(X))
    assert on_ray.named_steps["forest"].n_jobs == 1  # serving: no thread pool per request


def test_spec_parses_and_names_importable_steps(steps: ModuleType) -> None:
    spec = load_spec(PROJECT)
    assert spec.name == "fraud_detection"
    assert spec.register is not None
    assert spec.register.artifact == "model"
    for step in spec.steps:
        module, function = step.function.split(":")
        assert callable(getattr(importlib.import_module(module), function)), step.function
    assert set(spec.params) >= {"n_rows", "fraud_rate", "n_estimators", "max_depth", "seed"}
