"""A run's resources (CPU-hours, GPU-hours, peaks), their cost, and its low-utilisation alerts.

Computed from the samples of the run's attributed processes (`RunResourceLedger`), stored in
`run_resources` (final once the run has ended and its last samples are in; refreshed while it
runs; the owner settles ended runs itself), and priced with
`ResourcePricing` (WORKBENCH_PRICE_CPU_HOUR, WORKBENCH_PRICE_GPU_HOUR). A GPU the run held
under WORKBENCH_GPU_IDLE_PERCENT utilisation for WORKBENCH_GPU_IDLE_MINUTES is recorded in the
`run_alerts` table (kind `gpu_idle`), one row per idle span, extended while the span grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workbench.catalogue.catalogue import Catalogue, utcnow
from workbench.catalogue.run_resources import (
    SETTLE_S,
    ResourceUsage,
    RunAlert,
    RunResourceLedger,
    cost_of,
)
from workbench.core.settings import ResourcePricing, Settings, load_pricing
from workbench.owner import open_catalogue


@dataclass(frozen=True)
class RunResources:
    """What a run used and cost; `final` once stored after the run ended."""

    run_id: str
    final: bool
    usage: ResourceUsage
    cost: float
    pricing: ResourcePricing
    alerts: tuple[RunAlert, ...]

    def to_json(self) -> dict[str, Any]:
        """The `resources` key of `runs show --json`."""
        return {
            "final": self.final,
            "samples": self.usage.samples,
            "cpu_hours": self.usage.cpu_hours,
            "gpu_hours": self.usage.gpu_hours,
            "peak_memory_bytes": self.usage.peak_rss_bytes,
            "peak_gpu_memory_bytes": self.usage.peak_gpu_memory_bytes,
            "cost": self.cost,
            "price_cpu_hour": self.pricing.cpu_hour,
            "price_gpu_hour": self.pricing.gpu_hour,
            "alerts": [
                {
                    "kind": a.kind,
                    "node_id": a.node_id,
                    "gpu_uuid": a.gpu_uuid,
                    "started_at": a.started_at.isoformat(),
                    "ended_at": a.ended_at.isoformat(),
                    "detail": a.detail,
                }
                for a in self.alerts
            ],  # fmt: skip
        }


def refresh(
    catalogue: Catalogue, run_id: str, pricing: ResourcePricing, *, final: bool
) -> RunResources:
    """Sum a run's samples, price them, record idle-GPU alerts, and store it all."""
    ledger = RunResourceLedger(catalogue)
    usage, cost = ledger.settle(run_id, pricing, final=final)
    return RunResources(run_id, final, usage, cost, pricing, tuple(ledger.alerts(run_id)))


def run_resources(settings: Settings, run_id: str, ended_at: datetime | None) -> RunResources:
    """A run's resources: the stored final figures of a settled run, else summed now (and
    stored, final once the run ended SETTLE_S ago so its last samples are in). Cost is at the
    prices configured now. Bad prices in the environment: InvalidInputError."""
    pricing = load_pricing()
    with open_catalogue(settings) as catalogue:
        ledger = RunResourceLedger(catalogue)
        stored = ledger.stored(run_id)
        if stored is not None and stored.final:
            alerts = tuple(ledger.alerts(run_id))
            cost = cost_of(stored.usage, pricing)
            return RunResources(run_id, True, stored.usage, cost, pricing, alerts)
        settled = ended_at is not None and ended_at < utcnow() - timedelta(seconds=SETTLE_S)
        return refresh(catalogue, run_id, pricing, final=settled)
