"""Per-run resources, cost and GPU-idle alerts from attributed samples in a real catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psutil
import pytest

from workbench.catalogue.catalogue import Catalogue
from workbench.catalogue.run_resources import GPU_IDLE, RunResourceLedger
from workbench.core.errors import InvalidInputError
from workbench.core.settings import ResourcePricing, load_pricing
from workbench.core.telemetry import GpuProcess, GpuSample, NodeSample, ProcessUsage
from workbench.services.run_resources import refresh

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
RSS = psutil.Process().memory_info().rss  # a real process's resident memory


def _sample(
    second: int, cpu: float, util: float | None, run_id: str = "run-a", gpu_mem: int = 2**30
) -> NodeSample:
    gpu = GpuSample(
        index=0,
        uuid="GPU-0",
        name="H100",
        utilization_percent=util,
        processes=(GpuProcess(101, gpu_mem, run_id=run_id),),
    )
    return NodeSample(
        ts=START + timedelta(seconds=second),
        node_id="node-a",
        hostname="host-a",
        cpu_percent=cpu,
        cpu_per_core=(cpu,),
        load_1m=0.0,
        load_5m=0.0,
        load_15m=0.0,
        mem_used_bytes=1,
        mem_total_bytes=2,
        swap_used_bytes=0,
        swap_total_bytes=0,
        gpus=(gpu,),
        processes=(
            ProcessUsage(101, cpu, RSS, run_id=run_id),
            ProcessUsage(102, cpu, RSS, run_id=run_id),
            ProcessUsage(103, 100.0, RSS),  # unattributed: not stored
        ),
    )


def _write(catalogue: Catalogue, samples: list[NodeSample]) -> RunResourceLedger:
    ledger = RunResourceLedger(catalogue)
    ledger.append(samples)
    catalogue.backend.sync()
    return ledger


def test_cpu_and_gpu_hours_peaks_and_cost(catalogue: Catalogue) -> None:
    # One hour at 1 sample a minute: two processes at 50% of a core each, one GPU held.
    samples = [_sample(60 * i, 50.0, 80.0) for i in range(61)]
    ledger = _write(catalogue, samples)
    usage = ledger.usage("run-a")
    assert usage.samples == 61 * 3
    assert usage.cpu_hours == pytest.approx(1.0)  # 2 x 0.5 core x 1 h
    assert usage.gpu_hours == pytest.approx(1.0)
    assert usage.peak_rss_bytes == 2 * RSS
    assert usage.peak_gpu_memory_bytes == 2**30
    pricing = ResourcePricing(cpu_hour=0.05, gpu_hour=2.5)
    found = refresh(catalogue, "run-a", pricing, final=True)
    assert found.cost == pytest.approx(0.05 + 2.5)
    assert found.alerts == ()  # 80% is not idle
    stored = ledger.stored("run-a")
    assert stored is not None
    assert stored.final
    assert stored.cost == pytest.approx(2.55)
    assert ledger.usage("other").samples == 0


def test_a_gap_in_the_samples_is_not_counted_as_use(catalogue: Catalogue) -> None:
    samples = [_sample(0, 100.0, 50.0), _sample(30, 100.0, 50.0), _sample(3600, 100.0, 50.0)]
    usage = _write(catalogue, samples).usage("run-a")
    assert usage.cpu_hours == pytest.approx(2 * 30 / 3600)
    assert usage.gpu_hours == pytest.approx(30 / 3600)


def test_a_gpu_held_idle_for_five_minutes_raises_one_alert(catalogue: Catalogue) -> None:
    busy = [_sample(s, 10.0, 90.0) for s in range(0, 60, 10)]
    idle = [_sample(s, 10.0, 3.0) for s in range(60, 60 + 6 * 60, 10)]  # 350 s under 10%
    short_idle = [_sample(s, 10.0, 90.0 if s < 600 else 5.0) for s in range(420, 700, 10)]
    _write(catalogue, busy + idle + short_idle)
    found = refresh(catalogue, "run-a", ResourcePricing(), final=False)
    assert [a.kind for a in found.alerts] == [GPU_IDLE]
    alert = found.alerts[0]
    assert alert.started_at == (START + timedelta(seconds=60)).replace(tzinfo=None)
    assert "GPU-0" in alert.detail
    assert "3%" in alert.detail
    # Refreshing again (the run went on) extends the same alert instead of adding one.
    _write(catalogue, [_sample(s, 10.0, 3.0) for s in range(700, 1100, 10)])
    again = refresh(catalogue, "run-a", ResourcePricing(), final=False)
    assert len(again.alerts) == 2  # the 600 s..1090 s span is a second one
    assert again.alerts[0].ended_at == alert.ended_at


def test_thresholds_are_configurable(catalogue: Catalogue) -> None:
    _write(catalogue, [_sample(s, 10.0, 30.0) for s in range(0, 130, 10)])
    assert refresh(catalogue, "run-a", ResourcePricing(), final=False).alerts == ()
    loose = ResourcePricing(gpu_idle_percent=50.0, gpu_idle_minutes=2.0)
    assert len(refresh(catalogue, "run-a", loose, final=False).alerts) == 1


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf"])
def test_bad_prices_are_bad_input_naming_the_variable(value: str) -> None:
    with pytest.raises(InvalidInputError, match="WORKBENCH_PRICE_GPU_HOUR") as raised:
        load_pricing({"WORKBENCH_PRICE_GPU_HOUR": value})
    assert raised.value.exit_code == 2
    assert raised.value.hint


def test_pricing_defaults_and_values() -> None:
    assert load_pricing({}) == ResourcePricing(0.0, 0.0, 10.0, 5.0)
    found = load_pricing({"WORKBENCH_PRICE_CPU_HOUR": "0.04", "WORKBENCH_GPU_IDLE_MINUTES": "2"})
    assert found.cpu_hour == 0.04
    assert found.gpu_idle_minutes == 2.0
