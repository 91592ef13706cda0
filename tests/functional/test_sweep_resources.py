"""A sweep trial holds no CPU: training that needs every CPU of the cluster still gets them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workbench.compute.tuning import run_trials
from workbench.core.search_space import Distribution


@pytest.mark.slow
@pytest.mark.ray
def test_a_trial_whose_training_needs_every_cpu_is_placed(ray_cluster: Any, tmp_path: Path) -> None:
    cpus = int(ray_cluster.cluster_resources()["CPU"])

    def trial(config: dict[str, Any], *, workers: int) -> None:
        from ray.util.placement_group import placement_group, remove_placement_group

        from workbench.compute.tuning import report

        group = placement_group([{"CPU": 1}] * workers)  # as a TorchTrainer's worker group
        placed = group.wait(timeout_seconds=60)
        remove_placement_group(group)
        report({"placed": placed, "x": config["x"]})

    results = run_trials(
        trial,
        {"workers": cpus},
        {"x": Distribution("choice", (1, 2))},
        trials=2,
        concurrency=1,
        metric="x",
        mode="max",
        storage_dir=tmp_path / "tune",
    )

    assert [result.get("placed") for result in results] == [True, True], results
