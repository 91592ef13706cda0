"""What a pipeline step's code receives: params, input and output artifacts, metric logging.

User step functions take one argument, a `StepContext` (or, for `runner = "torch"`
steps, a `TrainContext` on every Ray Train worker). Contexts are plain picklable
data; the catalogue connection is opened lazily in whichever process uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.settings import load_settings

if TYPE_CHECKING:
    import pandas as pd

    from workbench.catalogue import Catalogue

TABLE_FILE = "data.parquet"


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
            from workbench.compute.owner import open_catalogue

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

    @property
    def world_rank(self) -> int:
        import ray.train

        return int(ray.train.get_context().get_world_rank())

    @property
    def world_size(self) -> int:
        import ray.train

        return int(ray.train.get_context().get_world_size())

    def latest_checkpoint(self) -> Path | None:
        """Directory of the checkpoint to resume from (after a worker failure or --resume)."""
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            return None
        return Path(checkpoint.to_directory())

    def report(
        self, metrics: dict[str, float], step: int, checkpoint_dir: Path | None = None
    ) -> None:
        """Report epoch metrics (and optionally a checkpoint) to Ray Train and the catalogue.

        Only rank 0 writes to the catalogue, so N workers never log N copies.
        """
        import ray.train

        if self.world_rank == 0:
            self.log_metrics(metrics, step)
            self.catalogue.flush()
        checkpoint = None
        if checkpoint_dir is not None:
            checkpoint = ray.train.Checkpoint.from_directory(str(checkpoint_dir))
        ray.train.report({**metrics, "step": step}, checkpoint=checkpoint)

    @property
    def device(self) -> str:
        """ "cuda:N" on a GPU worker, else "cpu"."""
        import ray.train.torch

        return str(ray.train.torch.get_device())
