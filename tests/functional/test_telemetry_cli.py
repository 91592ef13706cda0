"""`workbench telemetry` end to end: a real sample of this machine with no cluster, history
over stored samples, and bad input as one line and a hint (exit 2)."""

from __future__ import annotations

import json
from datetime import timedelta

import psutil
import pytest
from click.testing import CliRunner

from workbench.catalogue import Catalogue
from workbench.catalogue.catalogue import utcnow
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.telemetry import TelemetryLedger
from workbench.cli.main import cli
from workbench.core.settings import Settings
from workbench.core.telemetry import NO_GPU, GpuSample, NodeSample


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _stored(settings: Settings, minutes: int) -> None:
    """One sample a second for `minutes` up to now on node-a: CPU 10/30, GPU util 50/70."""
    now = utcnow()
    samples = []
    for second in range(minutes * 60):
        high = second % 2 == 1
        samples.append(
            NodeSample(
                ts=now - timedelta(seconds=second + 1),
                node_id="node-a",
                hostname="host-a",
                cpu_percent=30.0 if high else 10.0,
                cpu_per_core=(0.0,),
                load_1m=0.5,
                load_5m=0.5,
                load_15m=0.5,
                mem_used_bytes=4 * 1024**3,
                mem_total_bytes=16 * 1024**3,
                swap_used_bytes=0,
                swap_total_bytes=0,
                gpus=(
                    GpuSample(
                        0,
                        "GPU-0",
                        "NVIDIA H200",
                        utilization_percent=70.0 if high else 50.0,
                        memory_used_bytes=10 * 1024**3,
                        memory_total_bytes=141 * 1024**3,
                    ),
                ),
            )
        )
    catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    TelemetryLedger(catalogue).append(samples)
    catalogue.close()


def test_telemetry_json_without_a_cluster_samples_this_machine(
    runner: CliRunner, settings: Settings
) -> None:
    result = runner.invoke(cli, ["telemetry", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["source"] == "local"
    (node,) = document["nodes"]
    assert node["mem_total_bytes"] == psutil.virtual_memory().total
    assert len(node["cpu_per_core"]) == psutil.cpu_count()
    assert node["gpus"] == []
    assert node["gpu_note"] == NO_GPU


def test_telemetry_draws_bars_and_says_no_gpu(runner: CliRunner, settings: Settings) -> None:
    result = runner.invoke(cli, ["telemetry"])
    assert result.exit_code == 0, result.output
    assert "CPU" in result.stdout
    assert "MEM" in result.stdout
    assert NO_GPU in result.stdout


def test_stored_samples_are_shown_live_and_as_history(
    runner: CliRunner, settings: Settings
) -> None:
    _stored(settings, minutes=5)
    live = runner.invoke(cli, ["telemetry", "--json", "--node", "host-a"])
    assert live.exit_code == 0, live.output
    assert json.loads(live.stdout)["source"] == "cluster"

    result = runner.invoke(cli, ["telemetry", "history", "--since", "1h", "--json"])
    assert result.exit_code == 0, result.output
    (node,) = json.loads(result.stdout)["nodes"]
    assert node["hostname"] == "host-a"
    assert node["samples"] == 300
    assert node["cpu_mean"] == pytest.approx(20.0)
    assert node["cpu_max"] == 30.0
    assert node["memory_used_mean"] == pytest.approx(4 * 1024**3)
    (gpu,) = node["gpus"]
    assert gpu["util_mean"] == pytest.approx(60.0)
    assert gpu["util_max"] == 70.0

    text = runner.invoke(cli, ["telemetry", "history", "--since", "30m"])
    assert text.exit_code == 0, text.output
    assert "host-a" in text.stdout
    assert "GPU0" in text.stdout
    assert "minutes ago" in text.stdout  # the chart


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["telemetry", "history", "--since", "yesterday"], "not a duration"),
        (["telemetry", "history", "--since", "-1h"], "more than zero"),
        (["telemetry", "--interval", "-1"], "more than 0"),
        (["telemetry", "--interval", "soon"], "number of seconds"),
    ],
)
def test_bad_input_is_one_line_and_a_hint(
    runner: CliRunner, settings: Settings, args: list[str], words: str
) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert words in lines[0]
    assert len(lines) == 2
    assert lines[1].startswith("hint: ")
    assert "Traceback" not in result.output


def test_help_teaches_with_examples(runner: CliRunner) -> None:
    for args in (["telemetry", "--help"], ["telemetry", "history", "--help"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0
        assert "Examples" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [("WORKBENCH_TELEMETRY_RETENTION_DAYS", "0"), ("WORKBENCH_PRICE_CPU_HOUR", "cheap")],
)
def test_cluster_up_refuses_bad_telemetry_settings_before_starting(
    runner: CliRunner,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    result = runner.invoke(cli, ["cluster", "up"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {variable} must be")
    assert "Traceback" not in result.output
    assert not settings.home.exists() or not list(settings.home.iterdir())  # nothing started
