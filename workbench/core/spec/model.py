"""The spec's types: frozen dataclasses for a validated workbench.toml, and SpecError.

Imports nothing else from the spec, so the gate (and anyone) can import these alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.core.drift.config import DEFAULT_THRESHOLDS, DriftConfig
from workbench.core.errors import WorkbenchError

ParamType = Literal["int", "float", "str", "bool"]
GateOp = Literal[">=", ">", "<=", "<"]


class SpecError(WorkbenchError):
    """A workbench.toml that cannot be accepted; the message names file, line and field."""

    def __init__(
        self, path: str, line: int | None, field_path: str, problem: str, hint: str = ""
    ) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(
            f"{where}: {field_path}: {problem}", hint or "see sample_projects/*/workbench.toml"
        )
        self.path = path
        self.line = line
        self.field_path = field_path


@dataclass(frozen=True)
class ParamSpec:
    """A pipeline parameter: typed, with a default, optionally bounded or chosen from a list."""

    name: str
    type: ParamType
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class StepSpec:
    """One pipeline step: a `module:function` with declared inputs and outputs (artifact names).

    `params` lists the parameters the step reads (they go into its cache key).
    `runner` is "task" (the function runs once, as a Ray task, and gets a StepContext) or
    "torch" (the function is a Ray Train per-worker loop run by TorchTrainer on
    `resources.workers` workers). A "task" step marked `distributed` may fan out itself
    (e.g. joblib on Ray) over `resources.workers` workers.
    """

    name: str
    function: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    runner: Literal["task", "torch"] = "task"
    distributed: bool = False
    cache: bool = True


@dataclass(frozen=True)
class Resources:
    """What a distributed step asks Ray for."""

    workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0


@dataclass(frozen=True)
class GateRule:
    """`metric op threshold`, e.g. auc >= 0.90."""

    metric: str
    op: GateOp
    threshold: float


@dataclass(frozen=True)
class EvaluationSpec:
    """Which metrics the evaluate step reports, the primary one, and the registration gate."""

    metrics: tuple[str, ...] = ()
    primary: str | None = None
    higher_is_better: bool = True
    gate: tuple[GateRule, ...] = ()
    max_regression: float | None = None  # vs the current champion, on the primary metric


@dataclass(frozen=True)
class RegisterSpec:
    """What to register when the gate passes: the model name and which output holds it."""

    model_name: str
    artifact: str
    flavor: str = "sklearn"


@dataclass(frozen=True)
class ServingSpec:
    """Defaults for `workbench serve` (used by the serving issue)."""

    route_prefix: str | None = None
    replicas: int = 1
    max_batch_size: int = 32
    batch_wait_timeout_s: float = 0.005


@dataclass(frozen=True)
class DriftSpec:
    """How this project's models are checked for drift ([drift] in workbench.toml).

    `features` limits the checked features (empty: every profiled one); `interval` runs a
    check of the last `window` of every deployment of the model that often (empty: only by
    hand); `retrain` starts this project's pipeline when a scheduled check finds drift.
    """

    features: tuple[str, ...] = ()
    psi_threshold: float = 0.2
    window: str = "1h"
    numeric_method: str = "auto"
    categorical_method: str = "auto"
    thresholds: tuple[tuple[str, float], ...] = ()
    drift_share: float = 0.5
    min_rows: int = 30
    interval: str = ""
    retrain: bool = False

    def config(self) -> DriftConfig:
        """The check rules these settings stand for."""
        thresholds = {**DEFAULT_THRESHOLDS, "psi": self.psi_threshold, **dict(self.thresholds)}
        return DriftConfig(
            numeric_method=self.numeric_method,
            categorical_method=self.categorical_method,
            thresholds=thresholds,
            drift_share=self.drift_share,
            min_rows=self.min_rows,
            features=self.features,
        )


@dataclass(frozen=True)
class ProjectSpec:
    """A validated workbench.toml; `path` is the project directory (the folder holding it)."""

    name: str
    path: str
    description: str = ""
    intended_use: str = ""
    params: dict[str, ParamSpec] = field(default_factory=dict)
    steps: tuple[StepSpec, ...] = ()
    resources: Resources = field(default_factory=Resources)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    register: RegisterSpec | None = None
    serving: ServingSpec = field(default_factory=ServingSpec)
    drift: DriftSpec = field(default_factory=DriftSpec)

    def step(self, name: str) -> StepSpec:
        """The step called `name` (KeyError if none)."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)
