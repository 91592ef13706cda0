"""Ray Tune: sample a search space, run one function per trial, keep every result."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.core.search_space import Distribution

# Tune adds its own bookkeeping to every result; ours travels under one key.
RESULT_KEY = "workbench_result"


def tune_space(space: dict[str, Distribution]) -> dict[str, Any]:
    """Our distributions as Ray Tune search-space objects."""
    from ray import tune

    converted: dict[str, Any] = {}
    for name, dist in space.items():
        if dist.kind == "uniform":
            converted[name] = tune.uniform(*dist.args)
        elif dist.kind == "loguniform":
            converted[name] = tune.loguniform(*dist.args)
        elif dist.kind == "randint":
            converted[name] = tune.randint(dist.args[0], dist.args[1] + 1)  # upper bound included
        else:
            converted[name] = tune.choice(list(dist.args))
    return converted


def run_trials(
    trial: Callable[..., None],
    constants: dict[str, Any],
    space: dict[str, Distribution],
    *,
    trials: int,
    concurrency: int,
    metric: str,
    mode: str,
    storage_dir: Path,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """Run `trials` samples, at most `concurrency` at once; each result's reported metrics."""
    # Tune's own progress tables would interleave with ours: keep it quiet (read at fit time).
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    trainable = tune.with_resources(tune.with_parameters(trial, **constants), driver_resources())
    tuner = tune.Tuner(
        trainable,
        param_space=tune_space(space),
        tune_config=tune.TuneConfig(
            num_samples=trials,
            max_concurrent_trials=concurrency,
            search_alg=BasicVariantGenerator(random_state=seed, max_concurrent=concurrency),
        ),
        run_config=tune.RunConfig(name="tune", storage_path=str(storage_dir), verbose=0),
    )
    grid = tuner.fit()
    results = []
    for index in range(len(grid)):
        result = grid[index]
        if result.error is not None:
            error = f"{type(result.error).__name__}: {result.error}".splitlines()[0]
            results.append({"config": result.config, "error": error})
        else:
            payload = (result.metrics or {}).get(RESULT_KEY)
            results.append({"config": result.config, **json.loads(payload or "{}")})
    return results


def driver_resources() -> Any:
    """What a trial holds: no CPU, since it only drives its run and its steps ask for CPUs.

    Even 0.01 CPU deadlocks a trial whose training needs every CPU (2 workers on 2 CPUs wait
    forever for the last one). Tune wants one non-empty bundle: one byte of memory it is.
    """
    from ray import tune

    return tune.PlacementGroupFactory([{}, {"memory": 1}])


def report(result: dict[str, Any]) -> None:
    """From inside a trial: hand `result` (JSON-able) back to the driver."""
    from ray import tune

    tune.report({RESULT_KEY: json.dumps(result)})
