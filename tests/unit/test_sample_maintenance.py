"""The predictive_maintenance sample project: simulator, model helpers, steps, Ray Train loop."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.fixtures.contexts import make_context
from tests.fixtures.engines import require_module
from workbench.compute.context import TrainContext
from workbench.core.spec import load_spec

torch = require_module("torch", "pip install -e '.[torch]' (.ci/run installs it)")

PROJECT = Path(__file__).resolve().parents[2] / "sample_projects" / "predictive_maintenance"


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The `predictive_maintenance` package, imported with the project dir on sys.path."""
    monkeypatch.syspath_prepend(str(PROJECT))
    for name in ("data", "model", "steps"):
        importlib.import_module(f"predictive_maintenance.{name}")
    return importlib.import_module("predictive_maintenance")


def _loader(X: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> Any:
    from torch.utils.data import DataLoader, TensorDataset

    generator = torch.Generator().manual_seed(seed)
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)


def _fit(pm: ModuleType, train: Any, epochs: int, seed: int = 0) -> Any:
    """A FailureNet trained with the project's pure helpers (no Ray)."""
    model = pm.model
    torch.manual_seed(seed)
    flat = train.X.reshape(-1, 6)
    net = model.FailureNet(flat.mean(axis=0), flat.std(axis=0))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.002)
    loader = _loader(train.X, train.y, 128, seed)
    losses = [model.train_one_epoch(net, loader, optimizer, "cpu") for _ in range(epochs)]
    assert losses[-1] < losses[0]
    return net


# -- data -------------------------------------------------------------------------------------


def test_windows_have_the_documented_shapes_and_dtypes(pm: ModuleType) -> None:
    windows = pm.data.generate_windows(n_machines=40, window=30, horizon=10, seed=1)
    n = len(windows)
    assert n > 40
    assert windows.X.shape == (n, 30, len(pm.data.SENSORS))
    assert windows.X.dtype == np.float32
    assert windows.y.shape == (n,)
    assert windows.y.dtype == np.float32
    assert set(np.unique(windows.y)) == {0.0, 1.0}
    assert windows.machine.dtype == np.int64
    assert np.isfinite(windows.X).all()
    # No window reaches past a machine's observed life (those steps are all-zero padding).
    assert (windows.X != 0).any(axis=2).all()


def test_default_size_has_a_sensible_share_of_positives(pm: ModuleType) -> None:
    windows = pm.data.generate_windows()  # 400 machines, window 50, horizon 20
    assert 5_000 < len(windows) < 20_000
    assert 0.10 <= windows.y.mean() <= 0.30
    assert len(np.unique(windows.machine)) == 400


def test_same_seed_same_windows(pm: ModuleType) -> None:
    first = pm.data.generate_windows(n_machines=30, seed=4)
    again = pm.data.generate_windows(n_machines=30, seed=4)
    other = pm.data.generate_windows(n_machines=30, seed=5)
    np.testing.assert_array_equal(first.X, again.X)
    np.testing.assert_array_equal(first.y, again.y)
    assert first.X.shape != other.X.shape or not np.array_equal(first.X, other.X)


def test_positives_are_the_last_windows_before_failure_and_look_degraded(pm: ModuleType) -> None:
    horizon, stride = 20, 5
    windows = pm.data.generate_windows(n_machines=200, horizon=horizon, stride=stride, seed=2)
    per_machine = np.bincount(windows.machine.astype(np.int64))
    positives = np.bincount(windows.machine, weights=windows.y, minlength=len(per_machine))
    # A machine that fails has exactly horizon/stride + 1 positive windows; a censored one 0.
    assert set(np.unique(positives)) <= {0.0, horizon // stride + 1}
    assert (positives > 0).mean() > 0.7
    vibration = windows.X[:, -10:, pm.data.SENSORS.index("vibration")].mean(axis=1)
    temperature = windows.X[:, -10:, pm.data.SENSORS.index("temperature")].mean(axis=1)
    assert vibration[windows.y == 1].mean() > 1.3 * vibration[windows.y == 0].mean()
    assert temperature[windows.y == 1].mean() > temperature[windows.y == 0].mean() + 3


def test_split_by_machine_never_shares_a_machine(pm: ModuleType) -> None:
    windows = pm.data.generate_windows(n_machines=100, seed=3)
    train, holdout = pm.data.split_by_machine(windows, holdout_share=0.2, seed=3)
    train_machines, holdout_machines = set(train.machine), set(holdout.machine)
    assert not train_machines & holdout_machines
    assert train_machines | holdout_machines == set(windows.machine)
    assert len(holdout_machines) == 20
    assert len(train) + len(holdout) == len(windows)


# -- model ------------------------------------------------------------------------------------


def test_model_is_small_and_maps_windows_to_one_logit(pm: ModuleType) -> None:
    net = pm.model.FailureNet(np.zeros(6), np.ones(6), hidden=64)
    assert 20_000 <= pm.model.count_parameters(net) <= 50_000
    out = net(torch.zeros(7, 50, 6))
    assert out.shape == (7,)
    probabilities = pm.model.FailureScorer(net).eval()(torch.zeros(3, 50, 6))
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_training_with_the_pure_helpers_beats_chance_on_unseen_machines(pm: ModuleType) -> None:
    from sklearn.metrics import roc_auc_score

    windows = pm.data.generate_windows(n_machines=150, seed=11)
    train, holdout = pm.data.split_by_machine(windows, holdout_share=0.25, seed=11)
    net = _fit(pm, train, epochs=5)
    scores = pm.model.evaluate_scores(net, holdout.X, "cpu")
    assert scores.shape == holdout.y.shape
    assert ((scores >= 0) & (scores <= 1)).all()
    auc = roc_auc_score(holdout.y, scores)
    assert auc > 0.75, auc
    loss = pm.model.evaluate_loss(net, holdout.X, holdout.y, "cpu")
    assert loss < pm.model.binary_cross_entropy(holdout.y, np.full(len(holdout), 0.5))


# -- steps ------------------------------------------------------------------------------------


PARAMS: dict[str, object] = {
    "n_machines": 120,
    "window": 50,
    "horizon": 20,
    "seed": 7,
    "epochs": 3,
    "batch_size": 128,
    "lr": 0.002,
    "hidden": 32,
}


@pytest.mark.slow
def test_prepare_then_saved_mlflow_model_evaluates_like_the_net(
    pm: ModuleType, tmp_path: Path
) -> None:
    import mlflow.pyfunc

    steps = pm.steps
    steps.prepare(make_context(tmp_path, "prepare", PARAMS, [], ["train", "holdout"]))
    train = steps.load_windows(tmp_path / "artifacts" / "train")
    holdout = steps.load_windows(tmp_path / "artifacts" / "holdout")
    assert not set(train.machine) & set(holdout.machine)
    np.testing.assert_array_equal(train.mean, holdout.mean)  # holdout carries train's stats
    np.testing.assert_allclose(train.mean, train.X.reshape(-1, 6).mean(axis=0), rtol=1e-4)

    net = _fit(pm, train, epochs=3)
    model_dir = tmp_path / "artifacts" / "model"
    model_dir.mkdir()
    (model_dir / "stale").write_text("left by a failed attempt")
    fresh = make_context(tmp_path, "train", PARAMS, [], ["model"]).fresh_output_dir("model")
    steps.save_model(net, fresh, holdout.X[:5])
    assert (model_dir / "MLmodel").is_file()
    assert not (model_dir / "stale").exists()

    metrics = steps.evaluate(make_context(tmp_path, "evaluate", PARAMS, ["model", "holdout"], []))
    assert set(metrics) == set(load_spec(PROJECT).evaluation.metrics)
    expected = pm.model.evaluate_scores(net, holdout.X, "cpu")
    from sklearn.metrics import roc_auc_score

    assert metrics["auc"] == pytest.approx(roc_auc_score(holdout.y, expected), abs=1e-6)

    # Served through pyfunc: raw windows in, probabilities out, any batch size.
    model = mlflow.pyfunc.load_model(str(model_dir))
    probabilities = np.asarray(model.predict(holdout.X[:7]))
    np.testing.assert_allclose(probabilities, expected[:7], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.ray
def test_train_loop_on_ray_train_reports_checkpoints_and_resumes(
    ray_cluster: object, pm: ModuleType, tmp_path: Path
) -> None:
    """The per-worker loop under a real TorchTrainer (2 workers, gloo), then resumed."""
    import ray.cloudpickle
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from workbench.core.settings import load_settings
    from workbench.owner import open_catalogue, stop_owner

    steps = pm.steps
    steps.prepare(make_context(tmp_path, "prepare", PARAMS, [], ["train", "holdout"]))
    context = make_context(
        tmp_path, "train", dict(PARAMS), ["train", "holdout"], ["model"], TrainContext
    )

    def loop(config: dict[str, Any]) -> None:
        config["train"](config["context"])  # what Workbench's torch runner does, in short

    def fit(epochs: int) -> Any:
        context.params["epochs"] = epochs
        trainer = TorchTrainer(
            loop,
            train_loop_config={"context": context, "train": steps.train},
            scaling_config=ScalingConfig(num_workers=2, use_gpu=False),
            run_config=RunConfig(
                name="maintenance",
                storage_path=str(tmp_path / "ray"),
                failure_config=FailureConfig(max_failures=1),
                checkpoint_config=CheckpointConfig(num_to_keep=2),
            ),
        )
        return trainer.fit()

    # The session cluster has no working_dir: ship the project's code to workers by value.
    ray.cloudpickle.register_pickle_by_value(pm)
    try:
        first = fit(epochs=2)
        assert first.metrics["step"] == 1
        assert {"loss", "val_loss", "val_auc"} <= set(first.metrics)
        state = torch.load(Path(first.checkpoint.path) / steps.CHECKPOINT_FILE)
        assert state["epoch"] == 1
        assert {"model", "optimizer"} <= set(state)

        resumed = fit(epochs=3)  # same run name: Ray Train hands the loop the last checkpoint
        assert resumed.metrics["step"] == 2
    finally:
        ray.cloudpickle.unregister_pickle_by_value(pm)

    settings = load_settings(tmp_path / "home")
    with open_catalogue(settings) as catalogue:
        history = catalogue.sql(
            "SELECT step, count(*) AS n FROM metrics WHERE run_id = 't' AND key = 'val_auc' "
            "GROUP BY step ORDER BY step"
        ).to_pylist()
    stop_owner(settings)
    # Epochs 0-1, then 2 after resuming (not 0-2 again); one point per epoch, not per worker.
    assert history == [{"step": 0, "n": 1}, {"step": 1, "n": 1}, {"step": 2, "n": 1}]

    metrics = steps.evaluate(make_context(tmp_path, "evaluate", PARAMS, ["model", "holdout"], []))
    assert metrics["auc"] == pytest.approx(resumed.metrics["val_auc"], abs=1e-5)
    assert metrics["auc"] > 0.6


def test_spec_parses_and_names_importable_steps(pm: ModuleType) -> None:
    spec = load_spec(PROJECT)
    assert spec.name == "predictive_maintenance"
    assert spec.step("train").runner == "torch"
    assert spec.resources.workers == 2
    for step in spec.steps:
        module, function = step.function.split(":")
        assert callable(getattr(importlib.import_module(module), function)), step.function
    assert {"epochs", "batch_size", "lr", "hidden", "seed"} <= set(spec.step("train").params)
