"""Where a `workbench sweep` trial's time goes: each child run's wall, split by pipeline step.

One sweep (services.sweep.run_sweep) of --trials trials of predictive_maintenance on an
embedded 2-CPU Ray, as bench_training.py's sweep runs it (a warm-up trial first prepares and
caches the data); then each trial run's steps from the catalogue (pipeline_runs), and the
part of the trial outside its steps.

    PYTHONPATH=. flock /tmp/bench.lock python \
        benchmarks/results/training-2026-12-02/sweep_profile.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from bench_training import QUICK, load, workbench_sweep  # noqa: E402

from workbench.catalogue.pipelines import PipelineLedger  # noqa: E402
from workbench.core.settings import load_settings  # noqa: E402
from workbench.owner import open_catalogue, stop_owner  # noqa: E402


def trial_breakdown(home: Path, run_ids: list[str]) -> list[dict[str, Any]]:
    """Seconds per step of each trial run, and the run's wall from creation to its end."""
    rows = []
    with open_catalogue(load_settings(home)) as catalogue:
        for run_id in run_ids:
            run = catalogue.get_run(run_id)
            steps = PipelineLedger(catalogue).steps(run_id)
            seconds = {s["step"]: (s["ended_at"] - s["started_at"]).total_seconds() for s in steps}
            assert run.ended_at is not None
            wall = (run.ended_at - run.created_at).total_seconds()
            rows.append({"run_wall_s": wall, "steps_s": seconds,
                         "outside_steps_s": wall - sum(seconds.values())})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    with tempfile.TemporaryDirectory(prefix="sweep-profile-") as tmp:
        home = Path(tmp) / "home"
        ray.init(address="local", num_cpus=2, include_dashboard=False, namespace="workbench",
                 logging_level=logging.ERROR, log_to_driver=False)  # fmt: skip
        try:
            workbench_sweep(home, QUICK, 1000, 1)  # prepares and caches the data
            swept = workbench_sweep(home, QUICK, 0, args.trials)
            figures = {"sweep_wall_s": swept["wall_s"], "load": load(),
                       "trials": trial_breakdown(home, swept["trial_run_ids"])}  # fmt: skip
        finally:
            stop_owner(load_settings(home))
            ray.shutdown()
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
