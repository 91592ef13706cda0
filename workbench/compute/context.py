"""What a pipeline step's code receives: params, input and output artifacts, metric logging.

User step functions take one argument, a `StepContext` (or, for `runner = "torch"`
steps, a `TrainContext` on every Ray Train worker). Contexts are plain picklable
data; the catalogue connection is opened lazily in whichever process uses it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.settings import load_settings

if TYPE_CHECKING:
    import pandas as pd

    from workbench.catalogue import Catalogue

TABLE_FILE = "data.parquet"
STATE_FILE = "train-state.json"
CHECKPOINT_META = "workbench-checkpoint.json"


@dataclass
class StepContext:
    """Everything one step of one run may touch."""

    run_id: str
    step: str
    params: dict[str, Any]
    inputs: dict[str, Path]
    outputs: dict[str, Path]
    home: str
    workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    _catalogue: Catalogue | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_catalogue"] = None  # a connection never crosses processes
        return state

    # -- artifacts ------------------------------------------------------------------------

    def input_dir(self, name: str) -> Path:
        """Directory of a declared input artifact (written by an earlier step)."""
        if name not in self.inputs:
            raise KeyError(f"step {self.step!r} declares no input {name!r}: {sorted(self.inputs)}")
        return self.inputs[name]

    def output_dir(self, name: str) -> Path:
        """Directory to write a declared output artifact into (created on first use)."""
        if name not in self.outputs:
            raise KeyError(
                f"step {self.step!r} declares no output {name!r}: {sorted(self.outputs)}"
            )
        path = self.outputs[name]
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fresh_output_dir(self, name: str) -> Path:
        """The output directory `name`, emptied first: for writers (MLflow's save_model) that
        refuse a non-empty target, and for a step retried inside one attempt."""
        path = self.output_dir(name)
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        return path

    def save_table(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a DataFrame as the output artifact `name` (Parquet)."""
        path = self.output_dir(name) / TABLE_FILE
        frame.to_parquet(path, index=False)
        return path

    def load_table(self, name: str) -> pd.DataFrame:
        """Read the input artifact `name` written by `save_table`."""
        import pandas as pd

        return pd.read_parquet(self.input_dir(name) / TABLE_FILE)

    # -- metrics --------------------------------------------------------------------------

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record a metric on the run; buffered, returns at once."""
        self.catalogue.log_metric(self.run_id, key, value, step)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Record several metrics at the same step."""
        for key, value in metrics.items():
            self.catalogue.log_metric(self.run_id, key, value, step)

    @property
    def catalogue(self) -> Catalogue:
        """This process's connection to the catalogue (through the owner when on Ray)."""
        if self._catalogue is None:
            from workbench.owner import open_catalogue

            self._catalogue = open_catalogue(load_settings(self.home))
        return self._catalogue

    def close(self) -> None:
        """Flush metrics and release the connection."""
        if self._catalogue is not None:
            self._catalogue.close()
            self._catalogue = None


@dataclass
class TrainContext(StepContext):
    """A StepContext on one Ray Train worker: rank, world size, checkpoints, reporting."""

    resume_from: str | None = None  # newest checkpoint on disk when this fit started

    @property
    def world_rank(self) -> int:
        import ray.train

        return int(ray.train.get_context().get_world_rank())

    @property
    def world_size(self) -> int:
        import ray.train

        return int(ray.train.get_context().get_world_size())

    @property
    def device(self) -> str:
        """ "cuda:N" on a GPU worker, else "cpu"."""
        import ray.train.torch

        return str(ray.train.torch.get_device())

    def latest_checkpoint(self) -> Path | None:
        """Directory of the checkpoint to resume from (after a worker failure or --resume)."""
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is not None:
            return Path(checkpoint.to_directory())
        return Path(self.resume_from) if self.resume_from else None

    def report(
        self, metrics: dict[str, float], step: int, checkpoint_dir: Path | None = None
    ) -> None:
        """Report epoch metrics (and rank 0's checkpoint) to Ray Train and the catalogue.

        Call it on every rank; only rank 0 writes to the catalogue, so N workers never
        log N copies. Metrics reach the catalogue before the checkpoint is reported.
        """
        import ray.train

        checkpoint = None
        if self.world_rank == 0:
            self.log_metrics(metrics, step)
            self.catalogue.flush()
            self._remember_keys(metrics)
            if checkpoint_dir is not None:
                (checkpoint_dir / CHECKPOINT_META).write_text(json.dumps({"step": step}))
                checkpoint = ray.train.Checkpoint.from_directory(str(checkpoint_dir))
        ray.train.report({**metrics, "step": step}, checkpoint=checkpoint)

    def begin(self, fit_id: str) -> None:
        """On each (re)start of the loop: count the attempt and drop points to be re-logged.

        A restart inside the same fit (a worker died) is a new attempt; the first start
        after --resume was already counted by the driver. Either way, points logged past
        the checkpoint being resumed are logged again, so they are removed first: the
        catalogue never holds two rows for one (run, key, step).
        """
        if self.world_rank != 0:
            return
        from workbench.catalogue.pipelines import PipelineLedger

        state = self._state()
        ledger = PipelineLedger(self.catalogue)
        if state is not None:
            if state["fit_id"] == fit_id:
                ledger.begin_attempt(self.run_id)
            ledger.truncate_metrics(self.run_id, state["keys"], after_step=self._checkpoint_step())
        self._write_state({"fit_id": fit_id, "keys": state["keys"] if state else []})

    def _checkpoint_step(self) -> int:
        checkpoint = self.latest_checkpoint()
        if checkpoint is None or not (checkpoint / CHECKPOINT_META).exists():
            return -1
        return int(json.loads((checkpoint / CHECKPOINT_META).read_text())["step"])

    def _remember_keys(self, metrics: dict[str, float]) -> None:
        state = self._state() or {"fit_id": "", "keys": []}
        if not set(metrics) <= set(state["keys"]):
            state["keys"] = sorted(set(state["keys"]) | set(metrics))
            self._write_state(state)

    def _state_path(self) -> Path:
        return Path(self.home) / "runs" / self.run_id / STATE_FILE

    def _state(self) -> dict[str, Any] | None:
        path = self._state_path()
        return json.loads(path.read_text()) if path.exists() else None

    def _write_state(self, state: dict[str, Any]) -> None:
        path = self._state_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        temporary.replace(path)
