"""A run's resources (CPU-hours, GPU-hours, peaks), their cost, and its low-utilisation alerts.

Computed from the samples of the run's attributed processes (`RunResourceLedger`), stored in
`run_resources` (final once the run has ended, refreshed while it runs), and priced with
`ResourcePricing` (WORKBENCH_PRICE_CPU_HOUR, WORKBENCH_PRICE_GPU_HOUR). A GPU the run held
under WORKBENCH_GPU_IDLE_PERCENT utilisation for WORKBENCH_GPU_IDLE_MINUTES is recorded in the
`run_alerts` table (kind `gpu_idle`), one row per idle span, extended while the span grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.catalogue.catalogue import Catalogue
from workbench.catalogue.run_resources import (
    GPU_IDLE,
    ResourceUsage,
    RunAlert,
    RunResourceLedger,
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


def cost_of(usage: ResourceUsage, pricing: ResourcePricing) -> float:
    """CPU-hours and GPU-hours at the configured prices."""
    return usage.cpu_hours * pricing.cpu_hour + usage.gpu_hours * pricing.gpu_hour


def refresh(
    catalogue: Catalogue, run_id: str, pricing: ResourcePricing, *, final: bool
) -> RunResources:
    """Sum a run's samples, price them, record idle-GPU alerts, and store it all."""
    ledger = RunResourceLedger(catalogue)
    usage = ledger.usage(run_id)
    cost = cost_of(usage, pricing)
    ledger.save(run_id, usage, cost, final=final)
    minutes = pricing.gpu_idle_minutes
    spans = ledger.idle_gpu_spans(run_id, pricing.gpu_idle_percent, minutes * 60.0)
    ledger.save_alerts(
        [
            RunAlert(
                run_id=run_id,
                kind=GPU_IDLE,
                node_id=span["node_id"],
                gpu_uuid=span["gpu_uuid"],
                started_at=span["started_at"],
                ended_at=span["ended_at"],
                detail=(
                    f"GPU {span['gpu_uuid']} on {span['node_id']} at "
                    f"{span['mean_util']:.0f}% utilisation for "
                    f"{(span['ended_at'] - span['started_at']).total_seconds() / 60:.0f} min "
                    f"(under {pricing.gpu_idle_percent:g}% for {minutes:g} min)"
                ),
            )
            for span in spans
        ]
    )
    return RunResources(run_id, final, usage, cost, pricing, tuple(ledger.alerts(run_id)))


def run_resources(settings: Settings, run_id: str, ended: bool) -> RunResources:
    """A run's resources: the stored final figures of an ended run, else refreshed now (and
    stored, final when the run has ended). Bad prices in the environment: InvalidInputError."""
    pricing = load_pricing()
    with open_catalogue(settings) as catalogue:
        ledger = RunResourceLedger(catalogue)
        stored = ledger.stored(run_id)
        if stored is not None and stored.final:
            alerts = tuple(ledger.alerts(run_id))
            return RunResources(run_id, True, stored.usage, stored.cost, pricing, alerts)
        return refresh(catalogue, run_id, pricing, final=ended)
