"""`workbench run`: a project's pipeline on Ray, every step recorded in the catalogue.

The driver (this process, or a Ray job with --detach) walks the steps in order.
Each step runs on Ray (a task, or TorchTrainer over N workers), reuses an earlier
identical result when its cache key matches, and leaves its outputs as artifacts.
A heartbeat thread tells the catalogue owner the driver is alive; when it stops,
the run is swept to `crashed` and `--resume` continues it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn, Protocol

from workbench.artifacts.manifest import digest_path, write_manifest
from workbench.artifacts.safe_paths import safe_join
from workbench.catalogue import Catalogue
from workbench.catalogue.models import ModelLedger
from workbench.catalogue.pipelines import Artifact, PipelineLedger, StepOutcome
from workbench.compute import cluster
from workbench.compute.context import StepContext, TrainContext
from workbench.compute.shipping import ships_project
from workbench.compute.steps import StepCall, StepFailed, context_fields, run_task, run_torch
from workbench.core.entities import RunStatus
from workbench.core.errors import InvalidInputError, WorkbenchError
from workbench.core.gate import GateResult, evaluate_gate
from workbench.core.models import ModelRef
from workbench.core.settings import Settings
from workbench.core.spec import ProjectSpec, Resources, StepSpec, load_spec, resolve_params
from workbench.core.version import __version__
from workbench.owner import open_catalogue
from workbench.services.drift import store_reference
from workbench.services.driver import driver_info, heartbeat
from workbench.services.lineage import code_digest, collect_lineage

RESUMABLE = {RunStatus.CRASHED, RunStatus.FAILED, RunStatus.CANCELLED}


class RunCancelled(WorkbenchError):
    """The driver was told to stop (runs cancel, SIGTERM, Ctrl-C)."""

    exit_code = 130


class GateRejected(WorkbenchError):
    """The registration gate rejected a finished run's model: the run worked, the model did not."""

    exit_code = 1


class PipelineEvents(Protocol):
    """What a front end hears while a pipeline runs (progress bars, logs)."""

    def run_started(self, run_id: str, spec: ProjectSpec, attempt: int) -> None: ...
    def step_started(self, step: StepSpec, index: int, total: int) -> None: ...
    def step_finished(self, step: StepSpec, status: str, seconds: float) -> None: ...


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for on the command line."""

    project_dir: Path
    overrides: Mapping[str, str] = field(default_factory=dict)
    workers: int | None = None
    gpus_per_worker: float | None = None
    resume: str | None = None
    adopt_run_id: str | None = None  # a queued run created by `run --detach`
    parent_run_id: str | None = None  # a sweep's trials are children of the sweep run
    register: bool = True  # trials are compared, not registered one by one
    alias: str | None = None  # pointed at the version this run registers (e.g. challenger)


@dataclass
class RunResult:
    """How a run ended: what `workbench run` prints and returns."""

    run_id: str
    project: str
    status: RunStatus
    attempt: int
    metrics: dict[str, float] = field(default_factory=dict)
    gate: GateResult | None = None
    model: tuple[str, int] | None = None
    model_is_new: bool = True
    steps: dict[str, str] = field(default_factory=dict)  # step -> ran | cached | resumed

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "project": self.project,
            "status": str(self.status),
            "attempt": self.attempt,
            "metrics": self.metrics,
            "gate": self.gate.to_json() if self.gate else None,
            "model": {"name": self.model[0], "version": self.model[1], "new": self.model_is_new}
            if self.model
            else None,
            "steps": self.steps,
        }

    def gate_rejection(self) -> GateRejected | None:
        """The error a front end ends with when the gate rejected the model (after showing it)."""
        if self.gate is None or self.gate.passed:
            return None
        reasons = "; ".join(self.gate.reasons())
        return GateRejected(
            f"the registration gate rejected run {self.run_id[:12]}: {reasons}",
            "see the gate in `workbench runs show RUN`",
        )


def prepare(
    settings: Settings, request: RunRequest
) -> tuple[ProjectSpec, dict[str, Any], Resources]:
    """Everything checkable before touching Ray or the catalogue: spec, params, resources."""
    spec = load_spec(request.project_dir)
    params = resolve_params(spec, request.overrides)
    resources = spec.resources
    if request.workers is not None:
        if request.workers < 1:
            raise InvalidInputError(f"--workers must be at least 1, got {request.workers}")
        resources = replace(resources, workers=request.workers)
    if request.gpus_per_worker is not None:
        if request.gpus_per_worker < 0:
            raise InvalidInputError("--gpus-per-worker cannot be negative")
        resources = replace(resources, gpus_per_worker=request.gpus_per_worker)
    return spec, params, resources


def run_pipeline(settings: Settings, request: RunRequest, events: PipelineEvents) -> RunResult:
    """Run (or resume) a project's pipeline to the end; raises StepFailed or RunCancelled."""
    try:
        spec, params, resources = prepare(settings, request)
        connection = cluster.connect(settings, ship=request.project_dir.resolve())
        if any(s.distributed for s in spec.steps):
            cluster.require_resources(
                resources.workers, resources.cpus_per_worker, resources.gpus_per_worker
            )
    except Exception as error:
        if request.adopt_run_id:  # a queued run must not wait for a driver that gave up
            _fail_queued(settings, request.adopt_run_id, error)
        raise
    catalogue = open_catalogue(settings)
    try:
        ledger = PipelineLedger(catalogue)
        run_id, attempt = _open_run(catalogue, ledger, spec, params, request, connection)
        with _cancellable():  # before the driver is on record: a cancel may follow at once
            ledger.set_driver(run_id, driver_info())
            events.run_started(run_id, spec, attempt)
            driver = _Driver(settings, catalogue, ledger, spec, params, resources, run_id, attempt)
            with heartbeat(settings, run_id):
                return driver.run(request, events)
    finally:
        catalogue.close()


def _fail_queued(settings: Settings, run_id: str, error: Exception) -> None:
    message = (
        error.message if isinstance(error, WorkbenchError) else f"{type(error).__name__}: {error}"
    )
    with open_catalogue(settings) as catalogue:
        if catalogue.get_run(run_id).status == RunStatus.QUEUED:
            catalogue.set_status(
                run_id, RunStatus.FAILED, error=f"the driver could not start: {message}"
            )


def _open_run(
    catalogue: Catalogue,
    ledger: PipelineLedger,
    spec: ProjectSpec,
    params: dict[str, Any],
    request: RunRequest,
    connection: cluster.Connection,
) -> tuple[str, int]:
    if request.resume:
        run = catalogue.get_run(request.resume)
        if run.status not in RESUMABLE:
            raise InvalidInputError(
                f"run {run.run_id[:12]} is {run.status}; only crashed, failed or cancelled runs "
                "can be resumed"
            )
        if run.project != spec.name:
            raise InvalidInputError(f"run {run.run_id[:12]} belongs to project {run.project!r}")
        return run.run_id, ledger.begin_attempt(run.run_id)
    if request.adopt_run_id:
        ledger.mark_running(request.adopt_run_id)
        return request.adopt_run_id, ledger.attempt(request.adopt_run_id)
    lineage = collect_lineage(request.project_dir, connection)
    run_id = catalogue.create_run(
        spec.name,
        params=params,
        lineage=lineage,
        parent_run_id=request.parent_run_id,
        kind="trial" if request.parent_run_id else "run",
        tags={"project_dir": str(request.project_dir.resolve())},
    )
    return run_id, 1


class _Driver:
    """Walks the steps of one run."""

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        ledger: PipelineLedger,
        spec: ProjectSpec,
        params: dict[str, Any],
        resources: Resources,
        run_id: str,
        attempt: int,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.ledger = ledger
        self.spec = spec
        self.params = params
        self.resources = resources
        self.run_id = run_id
        self.attempt = attempt
        self.result = RunResult(run_id, spec.name, RunStatus.RUNNING, attempt)

    def run(self, request: RunRequest, events: PipelineEvents) -> RunResult:
        project_dir = request.project_dir.resolve()
        if request.resume:
            self.params = {**self.params, **_stored_params(self.ledger, self.run_id, self.spec)}
        done = self.ledger.finished_steps(self.run_id)
        outputs: dict[str, dict[str, str]] = {}
        try:
            for index, step in enumerate(self.spec.steps):
                events.step_started(step, index, len(self.spec.steps))
                started = time.monotonic()
                key = self._cache_key(project_dir, step, outputs)
                outcome = done.get(step.name)
                how = "resumed"
                if outcome is None and step.cache:
                    outcome = self._reusable(key, step)
                    how = "cached"
                if outcome is None:
                    outcome = self._execute(project_dir, step, key, outputs)
                    how = "ran"
                elif how == "cached":
                    self._record_reuse(step, key, outcome)
                outputs.update(outcome.outputs)
                self._log_evaluation(outcome.metrics, already_logged=how == "resumed")
                if step.outputs and not step.inputs and index == 0:
                    self._fingerprint(step, outputs)
                self.result.steps[step.name] = how
                events.step_finished(step, how, time.monotonic() - started)
                if _CancelSignal.requested:  # a SIGTERM whose exception something swallowed
                    raise RunCancelled("cancelled by SIGTERM", exit_code=130)
            self._gate_and_register(outputs, allow_register=request.register, alias=request.alias)
        except (RunCancelled, KeyboardInterrupt):
            self._cancelled()
        except StepFailed as failure:
            if _CancelSignal.requested:
                self._cancelled()
            self.catalogue.set_status(
                self.run_id, RunStatus.FAILED, error=failure.message, traceback=failure.traceback
            )
            raise
        except Exception as error:  # Workbench's own failure: the run must not stay "running"
            if _CancelSignal.requested:
                self._cancelled()
            self.ledger.close_open_steps(self.run_id, "failed")
            self.catalogue.set_status(self.run_id, RunStatus.FAILED,
                                      error=f"{type(error).__name__}: {error}",
                                      traceback=traceback.format_exc())  # fmt: skip
            raise
        self.catalogue.finish_run(self.run_id)
        self.result.status = RunStatus.FINISHED
        return self.result

    def _cancelled(self) -> NoReturn:
        self.ledger.close_open_steps(self.run_id, "cancelled")
        self.catalogue.set_status(self.run_id, RunStatus.CANCELLED, error="cancelled")
        raise RunCancelled(f"run {self.run_id[:12]} cancelled", exit_code=130) from None

    def _execute(
        self, project_dir: Path, step: StepSpec, key: str, outputs: dict[str, dict[str, str]]
    ) -> StepOutcome:
        run_dir = self.settings.run_dir(self.run_id)
        store = run_dir / "artifacts"
        step_outputs = {name: safe_join(store, name) for name in step.outputs}
        for path in step_outputs.values():
            shutil.rmtree(path, ignore_errors=True)  # a failed earlier attempt's leftovers
        context = StepContext(
            run_id=self.run_id,
            step=step.name,
            params=dict(self.params),
            inputs={name: Path(outputs[name]["uri"]) for name in step.inputs},
            outputs=step_outputs,
            home=str(self.settings.home),
            workers=self.resources.workers if step.distributed else 1,
            cpus_per_worker=self.resources.cpus_per_worker,
            gpus_per_worker=self.resources.gpus_per_worker,
        )
        call = StepCall(step.function, str(project_dir), shipped=ships_project())
        self.ledger.step_started(self.run_id, step.name, self.attempt, key)
        self.catalogue.flush()
        try:
            if step.runner == "torch":
                run_torch(
                    call,
                    TrainContext(**context_fields(context)),
                    workers=self.resources.workers,
                    cpus_per_worker=self.resources.cpus_per_worker,
                    gpus_per_worker=self.resources.gpus_per_worker,
                    storage_dir=run_dir / "train",
                )
                returned = None
            else:
                # A distributed task only coordinates (joblib on Ray): its workers hold the CPUs.
                cpus = 0.0 if step.distributed else self.resources.cpus_per_worker
                returned = run_task(call, context, num_cpus=cpus, num_gpus=0)
        except StepFailed as failure:
            self.ledger.step_finished(self.run_id, step.name, self.attempt, status="failed",
                                      cache_key=key, error=failure.message)  # fmt: skip
            raise
        produced = {}
        artifacts = []
        for name, path in step_outputs.items():
            if not path.exists():
                missing = StepFailed(step.name, f"declared output {name!r} was not written", "")
                self.ledger.step_finished(self.run_id, step.name, self.attempt, status="failed",
                                          cache_key=key, error=missing.message)  # fmt: skip
                raise missing
            if path.is_dir():
                write_manifest(path)  # verified before anything loads this artifact
            sha, size = digest_path(path)
            artifacts.append(Artifact(name, str(path), sha, size))
            produced[name] = {"uri": str(path), "sha256": sha}
        metrics = _returned_metrics(returned)
        self.ledger.step_finished(self.run_id, step.name, self.attempt, status="finished",
                                  cache_key=key, artifacts=artifacts, metrics=metrics)  # fmt: skip
        return StepOutcome(produced, metrics)

    def _record_reuse(self, step: StepSpec, key: str, outcome: StepOutcome) -> None:
        artifacts = [Artifact(n, o["uri"], o["sha256"], 0) for n, o in outcome.outputs.items()]
        self.ledger.step_finished(self.run_id, step.name, self.attempt, status="finished",
                                  cache_key=key, cached=True, artifacts=artifacts,
                                  metrics=outcome.metrics)  # fmt: skip

    def _log_evaluation(self, metrics: dict[str, float], *, already_logged: bool) -> None:
        for key, value in metrics.items():
            if not already_logged:
                self.catalogue.log_metric(self.run_id, key, value, step=0)
            self.result.metrics[key] = value

    def _cache_key(
        self, project_dir: Path, step: StepSpec, outputs: dict[str, dict[str, str]]
    ) -> str:
        names = step.params or tuple(sorted(self.params))
        material = {
            "workbench": __version__,
            "function": step.function,
            "runner": step.runner,
            "code": code_digest(project_dir, step.function),
            "params": {name: self.params[name] for name in names},
            "inputs": {name: outputs[name]["sha256"] for name in step.inputs},
            "resources": [self.resources.workers, self.resources.gpus_per_worker]
            if step.distributed
            else None,
        }
        return hashlib.sha256(
            json.dumps(material, sort_keys=True, default=str).encode()
        ).hexdigest()

    def _reusable(self, key: str, step: StepSpec) -> StepOutcome | None:
        cached = self.ledger.cached_outcome(key)
        if cached is None or set(cached.outputs) != set(step.outputs):
            return None
        for entry in cached.outputs.values():
            path = Path(entry["uri"])
            if not path.exists() or digest_path(path)[0] != entry["sha256"]:
                return None  # deleted or changed since: run the step again
        return cached

    def _fingerprint(self, step: StepSpec, outputs: dict[str, dict[str, str]]) -> None:
        combined = hashlib.sha256(
            "".join(f"{n}={outputs[n]['sha256']};" for n in sorted(step.outputs)).encode()
        ).hexdigest()
        self.ledger.set_data_fingerprint(self.run_id, f"sha256:{combined}")

    def _gate_and_register(
        self, outputs: dict[str, dict[str, str]], *, allow_register: bool, alias: str | None
    ) -> None:
        evaluation = self.spec.evaluation
        if not evaluation.gate and evaluation.max_regression is None:
            return
        metrics = {**self.catalogue.get_run(self.run_id).metrics, **self.result.metrics}
        registry = ModelLedger(self.catalogue)
        champion = None
        if self.spec.register is not None:
            champion = registry.champion_metrics(self.spec.register.model_name)
        gate = evaluate_gate(evaluation, metrics, champion)
        self.result.gate = gate
        self.ledger.set_gate(self.run_id, gate.to_json())
        if not gate.passed or self.spec.register is None or not allow_register:
            return
        register = self.spec.register
        artifact = outputs[register.artifact]
        existing = registry.version_with_digest(register.model_name, artifact["sha256"])
        if existing is not None:  # the same bytes (a fully cached run): no new version
            self.result.model = (register.model_name, existing)
            self.result.model_is_new = False
            return
        version = registry.register(
            register.model_name,
            run_id=self.run_id,
            uri=artifact["uri"],
            sha256=artifact["sha256"],
            flavor=register.flavor,
            signature=_signature(Path(artifact["uri"])),
            gate=gate.to_json(),
        )
        self.result.model = (register.model_name, version)
        registered = registry.resolve(ModelRef(register.model_name, version))
        store_reference(self.catalogue, self.spec, outputs, registered)
        if alias is not None:
            reason = f"registered by run {self.run_id}"
            registry.move_alias(register.model_name, alias, version, reason=reason, approver=None)


def _returned_metrics(returned: object) -> dict[str, float]:
    """The numeric entries of what a step returned (an evaluate step's metrics)."""
    if not isinstance(returned, Mapping):
        return {}
    return {
        str(k): float(v)
        for k, v in returned.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _stored_params(ledger: PipelineLedger, run_id: str, spec: ProjectSpec) -> dict[str, Any]:
    """The resumed run's own params, typed by the spec (they were stored as text)."""
    stored = ledger.params(run_id)
    known = {k: v for k, v in stored.items() if k in spec.params}
    return resolve_params(spec, known)


def _signature(model_dir: Path) -> dict[str, Any] | None:
    """The `signature` block of an MLflow model's MLmodel file, if there is one."""
    mlmodel = model_dir / "MLmodel"
    if not mlmodel.exists():
        return None
    import yaml  # PyYAML comes with MLflow; only needed when a model is registered

    document = yaml.safe_load(mlmodel.read_text())
    signature = document.get("signature") if isinstance(document, dict) else None
    return signature if isinstance(signature, dict) else None


class _CancelSignal:
    """Set by SIGTERM; checked wherever the interrupted step's exception surfaces.

    Raising from a signal handler can interrupt a C call and come out as another
    exception type (SystemError, a Ray error); the flag keeps the verdict honest.
    """

    requested = False


@contextmanager
def _cancellable() -> Iterator[None]:
    """SIGTERM (runs cancel, Ray job stop) cancels the run from the driver's main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        _CancelSignal.requested = True
        raise RunCancelled("cancelled by SIGTERM", exit_code=130)

    _CancelSignal.requested = False
    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
