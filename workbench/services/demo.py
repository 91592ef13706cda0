"""`workbench demo`: the closed loop on the embedded default, with the fraud sample project."""

from __future__ import annotations

from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.core.settings import Settings
from workbench.services.pipeline import PipelineEvents, RunRequest, RunResult, run_pipeline

# Big enough to be a real model (AUC ~0.95), small enough to finish in well under a minute.
DEMO_PARAMS = {"n_rows": "100000", "n_estimators": "100"}


def sample_project(name: str) -> Path:
    """A sample project shipped beside the package (a source checkout or editable install)."""
    root = Path(__file__).resolve().parents[2] / "sample_projects" / name
    if not (root / "workbench.toml").is_file():
        raise WorkbenchError(
            f"sample project {name!r} not found at {root}",
            "run the demo from a checkout: pip install -e . in the repository",
        )
    return root


def run_demo(settings: Settings, events: PipelineEvents) -> RunResult:
    """Generate data, train the fraud model on 2 workers, evaluate, gate and register."""
    request = RunRequest(sample_project("fraud_detection"), overrides=DEMO_PARAMS, workers=2)
    return run_pipeline(settings, request, events)
