"""Two-sample drift statistics on sorted samples and on binned counts.

Every function equals its scipy counterpart on the same data and bins (tests hold them to
1e-6): `ks` to `scipy.stats.ks_2samp`, `wasserstein` to `scipy.stats.wasserstein_distance`,
`jensen_shannon` to `scipy.spatial.distance.jensenshannon`, `chi_square` to
`scipy.stats.chi2_contingency`. They take samples already sorted and free of NaN, so a
reference sorted once serves every check, and the two-sample work is one linear merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Shares of empty bins in PSI and Jensen-Shannon: a bin one side never saw must not make the
# statistic infinite (the convention of Evidently and most PSI write-ups).
EMPTY_BIN_SHARE = 1e-4
EXACT_KS_N = 10_000


@dataclass(frozen=True)
class Merged:
    """Two sorted samples merged: the values in order and, at each, the gap between the two
    ECDFs scaled by the product of the sizes (exact integers: m * n * (F_ref - F_cur))."""

    values: np.ndarray
    gaps: np.ndarray
    scale: int


def merge(reference: np.ndarray, current: np.ndarray) -> Merged:
    """Merge two sorted samples in O(n) (a stable sort of two runs is a single merge)."""
    m, n = reference.size, current.size
    both = np.concatenate([reference, current])
    order = np.argsort(both, kind="stable")
    reference_count = np.cumsum(order < m)
    current_count = np.arange(1, m + n + 1) - reference_count
    return Merged(both[order], reference_count * n - current_count * m, m * n)


def ks_statistic(merged: Merged) -> float:
    """Kolmogorov-Smirnov D: the largest gap between the ECDFs, read after each run of ties."""
    values = merged.values
    last_of_run = np.append(values[1:] != values[:-1], True)
    return float(np.abs(merged.gaps[last_of_run]).max() / merged.scale)


def ks_p_value(statistic: float, reference_n: int, current_n: int) -> float:
    """Two-sided p-value of D for samples of these sizes: ks_2samp's asymptotic method (the
    Kolmogorov distribution of n = m*n/(m+n)); past EXACT_KS_N its limit, which differs by
    under 2e-3 there and costs microseconds instead of milliseconds."""
    from scipy.stats import kstwo, kstwobign  # ~0.3 s to import: only when checking

    effective = max(round(reference_n * current_n / (reference_n + current_n)), 1)
    if effective > EXACT_KS_N:
        return float(np.clip(kstwobign.sf(statistic * np.sqrt(effective)), 0.0, 1.0))
    return float(np.clip(kstwo.sf(statistic, effective), 0.0, 1.0))


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """KS statistic and p-value of two sorted samples."""
    statistic = ks_statistic(merge(reference, current))
    return statistic, ks_p_value(statistic, reference.size, current.size)


def wasserstein_of(merged: Merged) -> float:
    """First Wasserstein distance: the area between the two ECDFs."""
    widths = np.diff(merged.values)
    # A plain product and sum, not np.dot: BLAS would start its own threads inside each
    # feature's thread and, oversubscribed, run several times slower.
    return float(np.sum(np.abs(merged.gaps[:-1]) * widths) / merged.scale)


def wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """First Wasserstein distance of two sorted samples."""
    return wasserstein_of(merge(reference, current))


def ks_at_points(points: np.ndarray, current: np.ndarray) -> float:
    """KS D between a small sorted sample `points` and a large sorted `current`, in
    O(len(points) * log n): between two points the points' ECDF is flat and the current's
    rises, so the largest gap sits at a point, just before it or at it."""
    ref_left = np.searchsorted(points, points, side="left") / points.size
    ref_right = np.searchsorted(points, points, side="right") / points.size
    cur_left = np.searchsorted(current, points, side="left") / current.size
    cur_right = np.searchsorted(current, points, side="right") / current.size
    return float(max(np.abs(ref_left - cur_left).max(), np.abs(ref_right - cur_right).max()))


def wasserstein_to_points(points: np.ndarray, current: np.ndarray) -> float:
    """First Wasserstein distance between a sorted sample of K points and a sorted `current`
    of n >= K values, as the area between their quantile functions: current value i holds
    p in (i/n, (i+1)/n], point k holds (k/K, (k+1)/K]; an interval a point boundary cuts is
    split. Linear in n, no merge."""
    n, k = current.size, points.size
    if n < k:
        return wasserstein(points, current)
    index = np.arange(n, dtype=np.int64) * k // n  # the point holding each interval's start
    total = np.sum(np.abs(current - points[index])) / n
    bounds = np.arange(1, k, dtype=np.int64)  # boundary b at p = b/K
    cut = (bounds * n) % k != 0  # a boundary on a grid line cuts nothing
    b = bounds[cut]
    i = b * n // k  # the current interval the boundary falls in
    x = current[i]
    before = b / k - i / n  # share of the interval still on point b - 1
    after = (i + 1) / n - b / k
    fix = before * np.abs(x - points[b - 1]) + after * np.abs(x - points[b])
    return float(total + np.sum(fix - np.abs(x - points[b - 1]) / n))


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total, empty bins raised to EMPTY_BIN_SHARE."""
    total = counts.sum()
    share = counts / total if total else np.zeros(counts.size)
    return np.where(share == 0, EMPTY_BIN_SHARE, share)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index over the same bins."""
    expected, actual = shares(reference_counts), shares(current_counts)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log, scipy's default) over the same bins."""
    p, q = shares(reference_counts), shares(current_counts)
    p, q = p / p.sum(), q / q.sum()
    mean = (p + q) / 2
    divergence = np.sum(p * np.log(p / mean)) + np.sum(q * np.log(q / mean))
    return float(np.sqrt(max(divergence / 2, 0.0)))


def chi_square(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity of the 2 x k table of counts (bins both sides left
    empty are dropped); (statistic, p-value), Yates-corrected at one degree of freedom."""
    from scipy.stats import chi2_contingency

    table = np.vstack([reference_counts, current_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:  # one category on both sides: nothing can differ
        return 0.0, 1.0
    result = chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)
