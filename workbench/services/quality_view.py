"""Model quality as the Models screen shows it: one model version's labelled quality over time.

Quality is computed per deployment (services.quality); this finds the deployments that serve
a model (any version of it, now or as the version they replaced), asks each for its report
and keeps the selected version's buckets. Windows end at the caller's `now` (naive UTC), so
a frozen clock gives the same screen every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from workbench.catalogue.deployments import DeploymentLedger
from workbench.core.deployments import Deployment
from workbench.core.errors import NotFoundError
from workbench.core.quality import QualityMetrics
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.quality import QualityReport, quality

__all__ = [
    "BUCKET",
    "WINDOW",
    "DeploymentQuality",
    "QualityPoint",
    "VersionQuality",
    "model_quality",
    "serving_deployments",
    "version_quality",
]

WINDOW = timedelta(hours=24)
"""How far back the panel looks."""
BUCKET = timedelta(hours=1)
"""The width of one point of the panel's trend."""


@dataclass(frozen=True)
class QualityPoint:
    """One time bucket of a version's quality; `metrics` is None where it has no labelled rows."""

    start: datetime
    end: datetime
    metrics: QualityMetrics | None


@dataclass(frozen=True)
class DeploymentQuality:
    """One deployment's quality of one model version, bucket by bucket (oldest first)."""

    deployment: str
    kind: str
    """`classifier`, `regressor`, or `unknown` while the deployment has no labelled rows."""
    points: tuple[QualityPoint, ...]

    @property
    def rows(self) -> int:
        """Labelled rows of the version over the whole window."""
        return sum(point.metrics.rows for point in self.points if point.metrics is not None)

    @property
    def latest(self) -> QualityPoint | None:
        """The newest bucket with labelled rows, or None."""
        return next((p for p in reversed(self.points) if p.metrics is not None), None)


@dataclass(frozen=True)
class VersionQuality:
    """A model version's labelled quality over [start, end) on each deployment serving the
    model, the one with the most labelled rows first."""

    model: str
    version: int
    start: datetime
    end: datetime
    every: timedelta
    deployments: tuple[DeploymentQuality, ...]

    @property
    def rows(self) -> int:
        """Labelled rows of the version over the window, on all deployments together."""
        return sum(found.rows for found in self.deployments)


def serving_deployments(settings: Settings, name: str) -> list[str]:
    """Names of the deployments that serve model `name` (any version, or held as the version
    to roll back to), by name."""
    with open_catalogue(settings) as catalogue:
        found = DeploymentLedger(catalogue).all()
    return [deployment.name for deployment in found if _serves(deployment, name)]


def model_quality(
    settings: Settings,
    name: str,
    versions: Sequence[int],
    *,
    now: datetime,
    since: timedelta = WINDOW,
    every: timedelta = BUCKET,
) -> dict[int, VersionQuality]:
    """The quality of each of `versions` of model `name` over the `since` before `now`, in
    buckets of `every`: one report per serving deployment, split by version."""
    reports = []
    for deployment in serving_deployments(settings, name):
        try:
            reports.append(quality(settings, deployment, now=now, since=since, every=every))
        except NotFoundError:
            continue  # removed since it was listed
    return {
        version: VersionQuality(
            name, version, now - since, now, every, _busiest_first(reports, version)
        )
        for version in versions
    }


def version_quality(
    settings: Settings, name: str, version: int, *, now: datetime
) -> VersionQuality:
    """Model `name` version `version`'s quality over the last 24 hours, hour by hour."""
    return model_quality(settings, name, [version], now=now)[version]


def _serves(deployment: Deployment, name: str) -> bool:
    spec = deployment.spec
    entries = (*spec.versions, *((spec.previous,) if spec.previous else ()))
    return any(entry.model == name for entry in entries)


def _busiest_first(reports: Sequence[QualityReport], version: int) -> tuple[DeploymentQuality, ...]:
    """Each report narrowed to `version`, the most labelled rows first, then by name."""
    narrowed = (_of_version(report, version) for report in reports)
    return tuple(sorted(narrowed, key=lambda found: (-found.rows, found.deployment)))


def _of_version(report: QualityReport, version: int) -> DeploymentQuality:
    """The report's buckets narrowed to `version`: every bucket once, in time order."""
    points: dict[datetime, QualityPoint] = {}
    for row in report.buckets:
        point = points.setdefault(row.start, QualityPoint(row.start, row.end, None))
        if row.model_version == version and row.metrics.rows:
            points[row.start] = QualityPoint(point.start, point.end, row.metrics)
    return DeploymentQuality(report.deployment, report.kind, tuple(points.values()))
