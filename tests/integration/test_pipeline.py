"""`workbench run` on a real Ray cluster: steps, caching, lineage, gate, registration, failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli
from tests.fixtures.projects import write_project
from workbench.artifacts.manifest import verify_manifest
from workbench.compute.steps import StepFailed
from workbench.core.entities import RunStatus
from workbench.core.errors import InvalidInputError, WorkbenchError
from workbench.core.settings import Settings
from workbench.core.spec import ProjectSpec, SpecError, StepSpec
from workbench.owner import open_catalogue, stop_owner
from workbench.services.models import model_card
from workbench.services.pipeline import RunRequest, RunResult, run_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.ray]

REPO = Path(__file__).resolve().parents[2]


class Recorder:
    """Collects pipeline events the way the CLI's progress printer receives them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def run_started(self, run_id: str, spec: ProjectSpec, attempt: int) -> None:
        self.events.append(("run", run_id, str(attempt)))

    def step_started(self, step: StepSpec, index: int, total: int) -> None:
        self.events.append(("start", step.name))

    def step_finished(self, step: StepSpec, status: str, seconds: float) -> None:
        self.events.append(("done", step.name, status))

    def finished(self) -> dict[str, str]:
        return {e[1]: e[2] for e in self.events if e[0] == "done"}


@pytest.fixture
def env(ray_cluster: object, settings: Settings) -> Iterator[Settings]:
    yield settings
    stop_owner(settings)


def _run(settings: Settings, project: Path, **overrides: str) -> tuple[RunResult, Recorder]:
    recorder = Recorder()
    result = run_pipeline(settings, RunRequest(project, overrides=overrides), recorder)
    return result, recorder


def _rows(settings: Settings, sql: str) -> list[dict[str, object]]:
    with open_catalogue(settings) as catalogue:
        return catalogue.sql(sql).to_pylist()


def test_run_records_steps_params_metrics_lineage_and_registers(
    env: Settings, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "proj")
    result, recorder = _run(env, project, rows="300")
    assert result.status == RunStatus.FINISHED
    assert recorder.finished() == {"prepare": "ran", "train": "ran", "evaluate": "ran"}
    assert result.metrics["score"] == pytest.approx(1.0, abs=0.05)
    assert result.gate is not None
    assert result.gate.passed
    assert result.model == ("tiny", 1)
    with open_catalogue(env) as catalogue:
        run = catalogue.get_run(result.run_id)
        history = catalogue.metric_history(result.run_id, "loss").to_pydict()
    assert run.params == {"rows": "300", "scale": "1.0", "fail_in": ""}
    assert history["step"] == [0, 1, 2]
    assert run.lineage.data_fingerprint is not None
    assert run.lineage.data_fingerprint.startswith("sha256:")
    assert run.lineage.environment["ray"]
    assert run.lineage.cluster_id is not None
    assert run.lineage.nodes
    steps = _rows(
        env,
        f"SELECT step, status, cached FROM pipeline_runs WHERE run_id = '{result.run_id}' ORDER BY started_at",
    )
    assert [(s["step"], s["status"], s["cached"]) for s in steps] == [
        ("prepare", "finished", False),
        ("train", "finished", False),
        ("evaluate", "finished", False),
    ]
    versions = _rows(env, "SELECT name, version, run_id, uri, sha256 FROM model_versions")
    assert len(versions) == 1
    assert versions[0]["run_id"] == result.run_id
    assert Path(str(versions[0]["uri"])).joinpath("weight.json").exists()
    audit = _rows(env, "SELECT action, target FROM audit_events")
    assert audit == [{"action": "model.register", "target": "tiny"}]


def test_unchanged_steps_are_cached_and_changed_ones_rerun(env: Settings, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj")
    first, _ = _run(env, project)
    again, recorder = _run(env, project)
    assert recorder.finished() == {"prepare": "cached", "train": "cached", "evaluate": "cached"}
    assert again.metrics == first.metrics
    assert again.model == first.model
    assert not again.model_is_new
    changed, recorder = _run(env, project, scale="0.9")
    assert recorder.finished() == {"prepare": "cached", "train": "ran", "evaluate": "ran"}
    assert changed.model == ("tiny", 2)
    (project / "tinyproj" / "steps.py").write_text(
        (project / "tinyproj" / "steps.py").read_text() + "\n# edited\n"
    )
    _, recorder = _run(env, project, scale="0.9")
    assert recorder.finished() == {"prepare": "ran", "train": "ran", "evaluate": "ran"}
    cached = _rows(env, "SELECT count(*) AS n FROM pipeline_runs WHERE cached")
    assert cached == [{"n": 4}]


def test_failing_step_marks_the_run_failed_with_traceback(env: Settings, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj")
    with pytest.raises(StepFailed, match="step 'train' failed: ValueError: boom in train") as info:
        _run(env, project, fail_in="train")
    assert info.value.exit_code == 1
    rows = _rows(env, "SELECT run_id, status, error, traceback FROM runs")
    assert len(rows) == 1
    assert rows[0]["status"] == "failed"
    assert "boom in train" in str(rows[0]["error"])
    assert 'raise ValueError(f"boom in {ctx.step}")' in str(rows[0]["traceback"])
    steps = _rows(env, "SELECT step, status FROM pipeline_runs ORDER BY started_at")
    assert steps == [
        {"step": "prepare", "status": "finished"},
        {"step": "train", "status": "failed"},
    ]
    assert _rows(env, "SELECT count(*) AS n FROM model_versions") == [{"n": 0}]


def test_resume_a_failed_run_continues_into_the_same_run(env: Settings, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj")
    with pytest.raises(StepFailed):
        _run(env, project, fail_in="evaluate")
    run_id = str(_rows(env, "SELECT run_id FROM runs")[0]["run_id"])
    # The fix: the step no longer fails (fail_in is read from the run's own params, so
    # the code is what changes here).
    steps_py = project / "tinyproj" / "steps.py"
    steps_py.write_text(steps_py.read_text().replace('raise ValueError(f"boom', 'print(f"boom'))
    recorder = Recorder()
    result = run_pipeline(env, RunRequest(project, resume=run_id[:8]), recorder)
    assert result.run_id == run_id
    assert result.attempt == 2
    assert recorder.finished() == {"prepare": "resumed", "train": "resumed", "evaluate": "ran"}
    rows = _rows(env, "SELECT status, attempt FROM runs")
    assert rows == [{"status": "finished", "attempt": 2}]
    with pytest.raises(InvalidInputError, match="only crashed, failed or cancelled"):
        run_pipeline(env, RunRequest(project, resume=run_id), Recorder())


def test_gate_rejection_records_why_and_registers_nothing(env: Settings, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj", threshold=0.9)
    result, _ = _run(env, project, scale="0.2")
    assert result.status == RunStatus.FINISHED
    assert result.gate is not None
    assert not result.gate.passed
    assert result.model is None
    stored = _rows(env, "SELECT gate FROM runs")[0]["gate"]
    gate = json.loads(str(stored))
    assert gate["passed"] is False
    assert any("< 0.9" in check["detail"] for check in gate["checks"])
    assert _rows(env, "SELECT count(*) AS n FROM model_versions") == [{"n": 0}]


@pytest.mark.parametrize(
    ("make", "overrides", "error", "message"),
    [
        (lambda p: p, {}, SpecError, "no such directory"),
        (lambda p: write_project(p), {"nope": "1"}, InvalidInputError, "unknown parameter 'nope'"),
        (lambda p: write_project(p), {"rows": "many"}, InvalidInputError, "expects int"),
        (lambda p: write_project(p), {"rows": "1"}, InvalidInputError, "below min 10"),
    ],
)
def test_bad_input_writes_nothing(
    env: Settings,
    tmp_path: Path,
    make: object,
    overrides: dict[str, str],
    error: type[Exception],
    message: str,
) -> None:
    project = make(tmp_path / "proj")  # type: ignore[operator]
    with pytest.raises(error, match=message):
        run_pipeline(env, RunRequest(project, overrides=overrides), Recorder())
    assert not env.catalogue_path.exists() or _rows(env, "SELECT count(*) AS n FROM runs") == [
        {"n": 0}
    ]


def test_more_workers_than_the_cluster_has_is_refused(env: Settings, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj")
    spec = project / "workbench.toml"
    spec.write_text(
        spec.read_text().replace(
            'params = ["scale", "fail_in"]', 'params = ["scale", "fail_in"]\ndistributed = true'
        )
    )
    with pytest.raises(WorkbenchError, match="need 64 CPUs .* the cluster has 2") as info:
        run_pipeline(env, RunRequest(project, workers=64), Recorder())
    assert info.value.exit_code == 2
    assert not env.catalogue_path.exists() or _rows(env, "SELECT count(*) AS n FROM runs") == [
        {"n": 0}
    ]


def test_fraud_sample_end_to_end_on_two_workers(env: Settings) -> None:
    result, recorder = _run(
        env, REPO / "sample_projects" / "fraud_detection", n_rows="20000", n_estimators="40"
    )
    assert recorder.finished() == {"prepare": "ran", "train": "ran", "evaluate": "ran"}
    assert result.metrics["auc"] >= 0.9
    assert result.model == ("fraud", 1)
    import mlflow.pyfunc

    uri = _rows(env, "SELECT uri FROM model_versions")[0]["uri"]
    verify_manifest(Path(str(uri)))  # every output carries its checksums
    model = mlflow.pyfunc.load_model(str(uri))
    assert model.metadata.signature is not None
    card = model_card(env, "fraud:1")
    assert "Ranking card transactions for manual review" in card
    assert "- Data fingerprint: sha256:" in card
    assert "| n_rows | 20000 |" in card


def test_cli_prints_a_failing_step_in_one_line_and_exits_1(home: Path, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj")
    result = run_cli(home, "run", str(project), "--param", "fail_in=train")
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: step 'train' failed: ValueError: boom in train"]
    assert "Traceback" not in result.stderr
    con = duckdb.connect(str(home / "catalogue.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT status FROM runs").fetchall() == [("failed",)]
    finally:
        con.close()
