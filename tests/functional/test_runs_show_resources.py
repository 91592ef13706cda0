"""`runs show` resources: CPU/GPU-hours, peaks, cost and the GPU-idle alert from stored
samples of a run's processes; bad prices exit 2 with one line and a hint."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import psutil
import pytest
from click.testing import CliRunner

from workbench.catalogue import Catalogue, Statement
from workbench.catalogue.catalogue import utcnow
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.run_resources import RunResourceLedger
from workbench.cli.main import cli
from workbench.core.settings import Settings
from workbench.core.telemetry import GpuProcess, GpuSample, NodeSample, ProcessUsage

RSS = psutil.Process().memory_info().rss


def _sample(run_id: str, now: datetime, seconds_ago: int, util: float) -> NodeSample:
    gpu = GpuSample(0, "GPU-0", "H100", utilization_percent=util,
                    processes=(GpuProcess(7, 2**30, run_id=run_id),))  # fmt: skip
    return NodeSample(
        ts=now - timedelta(seconds=seconds_ago),
        node_id="node-a",
        hostname="host-a",
        cpu_percent=25.0,
        cpu_per_core=(25.0,),
        load_1m=0.0,
        load_5m=0.0,
        load_15m=0.0,
        mem_used_bytes=1,
        mem_total_bytes=2,
        swap_used_bytes=0,
        swap_total_bytes=0,
        gpus=(gpu,),
        processes=(ProcessUsage(7, 100.0, RSS, run_id=run_id),),
    )


@pytest.fixture
def finished_run(settings: Settings) -> str:
    """A run that held a GPU for 10 minutes, idle (2%) for the last 6, and finished a minute
    ago (its figures are final: its samplers' last batches are in)."""
    cat = Catalogue(DuckDBBackend(settings.catalogue_path))
    run_id = cat.create_run("fraud")
    now = utcnow() - timedelta(seconds=60)
    samples = [_sample(run_id, now, s, 2.0 if s <= 360 else 90.0) for s in range(600, 0, -10)]
    RunResourceLedger(cat).append(samples)
    cat.finish_run(run_id)
    cat.backend.write([Statement("UPDATE runs SET ended_at = ? WHERE run_id = ?", (now, run_id))])
    cat.close()
    return run_id


def test_runs_show_resources_text_and_json(
    finished_run: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_PRICE_GPU_HOUR", "3")
    runner = CliRunner()
    result = runner.invoke(cli, ["runs", "show", finished_run])
    assert result.exit_code == 0, result.output
    assert "resources" in result.output
    assert "gpu-hours" in result.output
    assert "gpu_idle" in result.output
    shown = json.loads(runner.invoke(cli, ["runs", "show", finished_run, "--json"]).stdout)
    resources = shown["resources"]
    assert resources["final"] is True
    assert resources["cpu_hours"] == pytest.approx(590 / 3600)  # one core for 590 s
    assert resources["gpu_hours"] == pytest.approx(590 / 3600)
    assert resources["cost"] == pytest.approx(3 * 590 / 3600)
    assert resources["peak_memory_bytes"] == RSS
    assert resources["peak_gpu_memory_bytes"] == 2**30
    assert [a["kind"] for a in resources["alerts"]] == ["gpu_idle"]


def test_runs_show_without_samples_says_so(finished_run: str, settings: Settings) -> None:
    cat = Catalogue(DuckDBBackend(settings.catalogue_path))
    other = cat.create_run("fraud")
    cat.close()
    result = CliRunner().invoke(cli, ["runs", "show", other])
    assert result.exit_code == 0, result.output
    assert "no attributed telemetry samples" in result.output


@pytest.mark.parametrize("value", ["cheap", "-2"])
def test_bad_price_is_one_line_and_exit_2(
    finished_run: str, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("WORKBENCH_PRICE_CPU_HOUR", value)
    result = CliRunner().invoke(cli, ["runs", "show", finished_run])
    assert result.exit_code == 2
    assert "WORKBENCH_PRICE_CPU_HOUR" in result.output
    assert "Traceback" not in result.output
    assert "e.g. export" in result.output
