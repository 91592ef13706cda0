"""`workbench mlflow export|import` against a real MLflow sqlite store: every value survives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.models import ModelLedger
from workbench.cli.main import cli
from workbench.core.entities import RunStatus
from workbench.core.settings import Settings, load_settings

pytestmark = pytest.mark.slow  # MLflow's import and sqlite migrations take seconds


@pytest.fixture
def source(settings: Settings, tmp_path: Path) -> str:
    cat = Catalogue(DuckDBBackend(settings.catalogue_path))
    run_id = cat.create_run("fraud", name="baseline", params={"lr": 0.01, "depth": 6},
                            tags={"team": "risk"})  # fmt: skip
    cat.log_metric_history(run_id, "loss", list(range(1500)), [1.0 / (s + 1) for s in range(1500)])
    cat.log_metric(run_id, "auc", 0.93, step=0)
    cat.finish_run(run_id)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    ModelLedger(cat).register("fraud", run_id=run_id, uri=str(model_dir), sha256="0" * 64,
                                flavor="sklearn", signature=None, gate={"passed": True})  # fmt: skip
    cat.close()
    return run_id


def _history(settings: Settings, run_id: str, key: str) -> list[tuple[int, float]]:
    with Catalogue(DuckDBBackend(settings.catalogue_path)) as cat:
        table = cat.metric_history(run_id, key).to_pydict()
    return list(zip(table["step"], table["value"], strict=True))


def test_export_then_import_keeps_every_value(
    source: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runner = CliRunner()
    result = runner.invoke(cli, ["mlflow", "export", "fraud:1", "--tracking-uri", uri, "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    client = mlflow.MlflowClient(tracking_uri=uri)
    exported = client.get_run(done["mlflow_run_id"])
    assert exported.data.params == {"lr": "0.01", "depth": "6"}
    assert exported.data.tags["team"] == "risk"
    assert exported.data.tags["workbench.run_id"] == source
    assert exported.info.status == "FINISHED"
    history = client.get_metric_history(done["mlflow_run_id"], "loss")
    assert len(history) == 1500
    assert sorted((m.step, m.value) for m in history) == _history(settings, source, "loss")
    version = client.get_model_version("fraud", done["mlflow_version"])
    assert version.source == str(tmp_path / "model")

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "other"))
    result = runner.invoke(cli, ["mlflow", "import", "--tracking-uri", uri, "--experiment", "fraud",
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (imported,) = json.loads(result.stdout)["imported"]
    other = load_settings(tmp_path / "other")
    with Catalogue(DuckDBBackend(other.catalogue_path)) as cat:
        run = cat.get_run(imported)
    assert run.params == {"lr": "0.01", "depth": "6"}
    assert run.tags["team"] == "risk"
    assert run.status == RunStatus.FINISHED
    assert run.metrics == {"loss": pytest.approx(1 / 1500), "auc": 0.93}
    assert _history(other, imported, "loss") == _history(settings, source, "loss")
    again = runner.invoke(cli, ["mlflow", "import", "--tracking-uri", uri, "--experiment", "fraud",
                                "--json"])  # fmt: skip
    assert json.loads(again.stdout)["imported"] == []  # already there: not duplicated


def test_unknown_experiment_and_run_are_clear_errors(source: str, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runner = CliRunner()
    result = runner.invoke(cli, ["mlflow", "import", "--tracking-uri", uri, "--experiment", "nope"])
    assert result.exit_code == 2
    assert "no experiment 'nope'" in result.stderr
    result = runner.invoke(cli, ["mlflow", "export", "ffffffff", "--tracking-uri", uri])
    assert result.exit_code == 2
    assert "no run matches" in result.stderr
