"""Running one pipeline step on Ray: as a task, or as a TorchTrainer over N workers.

Step code is imported from the project directory inside the Ray worker, in a
fresh process (`max_calls=1`) so an edited module is never served stale from a
reused worker.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
import traceback
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from workbench.compute.context import CHECKPOINT_META, StepContext, TrainContext
from workbench.compute.shipping import project_dir_here
from workbench.core.errors import WorkbenchError


class StepFailed(WorkbenchError):
    """User step code raised; carries the traceback for the catalogue."""

    exit_code = 1

    def __init__(self, step: str, error: str, trace: str) -> None:
        super().__init__(
            f"step {step!r} failed: {error}", "full traceback: workbench runs show RUN"
        )
        self.step = step
        self.traceback = trace


@dataclass(frozen=True)
class StepCall:
    """What a worker needs to find and call the step function."""

    function: str  # "package.module:function"
    project_dir: str
    shipped: bool = False  # the project travels in the job's runtime env (compute.shipping)


def load_function(call: StepCall) -> Any:
    """Import `module:function` with the project directory first on sys.path."""
    project_dir = project_dir_here(call.project_dir, call.shipped)
    if project_dir not in sys.path:
        sys.path.insert(0, project_dir)
    module_name, _, attribute = call.function.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def run_task(call: StepCall, context: StepContext, *, num_cpus: float, num_gpus: float) -> Any:
    """Run a "task" step as one Ray task in a fresh worker; its return value comes back."""
    import ray

    remote = ray.remote(max_calls=1, max_retries=0)(_task_entry).options(
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        # Outside any placement group: a sweep trial's tiny bundle must not capture the step.
        scheduling_strategy="DEFAULT",
    )
    try:
        return ray.get(remote.remote(call, context))
    except ray.exceptions.RayTaskError as error:
        raise _step_failed(context.step, error) from None


def _task_entry(call: StepCall, context: StepContext) -> Any:
    try:
        return load_function(call)(context)
    finally:
        context.close()


def run_torch(
    call: StepCall,
    context: TrainContext,
    *,
    workers: int,
    cpus_per_worker: float,
    gpus_per_worker: float,
    storage_dir: Path,
    max_failures: int = 3,
) -> None:
    """Run a "torch" step with Ray Train: DDP over `workers`, gloo on CPU, NCCL on GPU.

    Checkpoints land under `storage_dir`; a worker failure restarts the group from
    the latest one, and a later run with the same `storage_dir` (--resume) does too.
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    # Ray Train restores its own registered checkpoints; one written just before a driver
    # crash may not be registered yet, so the loop also gets the newest one on disk.
    resume_from = latest_checkpoint(storage_dir)
    context = replace(context, resume_from=str(resume_from) if resume_from else None)

    use_gpu = gpus_per_worker > 0
    resources: dict[str, float] = {"CPU": cpus_per_worker}
    if use_gpu:
        resources["GPU"] = gpus_per_worker
    trainer = TorchTrainer(
        train_loop_per_worker=_torch_entry,
        train_loop_config={"call": call, "context": context, "fit_id": uuid.uuid4().hex},
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=workers, use_gpu=use_gpu, resources_per_worker=resources
        ),
        run_config=RunConfig(
            name="train",
            storage_path=str(storage_dir),
            failure_config=FailureConfig(max_failures=max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )
    sigint = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit()
        return
    except Exception as error:  # Ray Train wraps worker errors in several types
        failed = _step_failed(context.step, error)
    finally:
        # fit() leaves its SIGINT handler installed, and the handler holds the train
        # controller's handle: the controller actor would outlive the step in this process.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint)
    # Raised outside the handler: Ray's error, whose frames hold that handle too, is dropped.
    raise failed


def latest_checkpoint(storage_dir: Path) -> Path | None:
    """The checkpoint with the highest step that a previous attempt of this run left."""
    best: tuple[int, Path] | None = None
    for meta in storage_dir.glob(f"*/checkpoint_*/{CHECKPOINT_META}"):
        try:
            step = int(json.loads(meta.read_text())["step"])
        except (OSError, ValueError, KeyError):
            continue  # a checkpoint cut short by the crash: not one to resume from
        if best is None or step > best[0]:
            best = (step, meta.parent)
    return best[1] if best else None


def _torch_entry(config: dict[str, Any]) -> None:
    context: TrainContext = config["context"]
    context.begin(config["fit_id"])
    try:
        load_function(config["call"])(context)
    finally:
        context.close()


def _step_failed(step: str, error: BaseException) -> StepFailed:
    failures = getattr(error, "worker_failures", None)
    if failures:  # Ray Train's WorkerGroupError: the lowest failing rank's own error
        error = failures[min(failures)]
    cause = getattr(error, "cause", None) or error
    trace = getattr(error, "traceback_str", None) or "".join(
        traceback.format_exception(type(error), error, error.__traceback__)
    )
    message = f"{type(cause).__name__}: {cause}".strip().splitlines()[0]
    return StepFailed(step, message, trace)


def context_fields(context: StepContext) -> dict[str, Any]:
    """A context as plain fields, to build a TrainContext from a StepContext."""
    fields = asdict(context)
    fields.pop("_catalogue", None)
    return fields
