"""Two-sample drift statistics on sorted samples and on binned counts.

Every function equals its scipy counterpart on the same data and bins (tests hold them to
1e-6): `ks` to `scipy.stats.ks_2samp`, `wasserstein` to `scipy.stats.wasserstein_distance`,
`jensen_shannon` to `scipy.spatial.distance.jensenshannon`, `chi_square` to
`scipy.stats.chi2_contingency`. They take samples already sorted and free of NaN, so a
reference sorted once serves every check; KS costs binary searches for the smaller sample's
values, Wasserstein one linear pass over the larger, and neither merges the two.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# Shares of empty bins in PSI and Jensen-Shannon: a bin one side never saw must not make the
# statistic infinite (the convention of Evidently and most PSI write-ups).
EMPTY_BIN_SHARE = 1e-4
EXACT_KS_N = 10_000
BLOCK = 1 << 16  # values per block where a pass would otherwise allocate whole-column temporaries


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """KS statistic and p-value of two sorted samples."""
    statistic = ks_statistic(reference, current)
    return statistic, ks_p_value(statistic, reference.size, current.size)


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """Kolmogorov-Smirnov D of two sorted samples, read at the smaller one's values."""
    small, large = sorted((reference, current), key=np.size)
    return ks_at_points(small, large)


def ks_at_points(points: np.ndarray, other: np.ndarray) -> float:
    """KS D between sorted samples, in O(len(points) * log len(other)): between two of
    `points`' values their ECDF is flat and `other`'s rises, so the largest gap sits at one
    of `points`' values, just before it or at it. Pass the smaller sample as `points`."""
    first = np.flatnonzero(np.append(True, points[1:] != points[:-1]))  # each value's first
    values = points[first]
    below = first / points.size  # the points' ECDF just before each value ...
    upto = np.append(first[1:], points.size) / points.size  # ... and at it
    other_below = np.searchsorted(other, values, side="left") / other.size
    other_upto = np.searchsorted(other, values, side="right") / other.size
    return float(max(np.abs(below - other_below).max(), np.abs(upto - other_upto).max()))


def ks_p_value(statistic: float, reference_n: int, current_n: int) -> float:
    """Two-sided p-value of D for samples of these sizes: ks_2samp's asymptotic method (the
    Kolmogorov distribution of n = m*n/(m+n)); past EXACT_KS_N its limit, which differs by
    under 2e-3 there and costs microseconds instead of milliseconds."""
    from scipy.stats import kstwo, kstwobign  # ~0.3 s to import: only when checking

    effective = max(round(reference_n * current_n / (reference_n + current_n)), 1)
    if effective > EXACT_KS_N:
        return float(np.clip(kstwobign.sf(statistic * np.sqrt(effective)), 0.0, 1.0))
    return float(np.clip(kstwo.sf(statistic, effective), 0.0, 1.0))


def wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """First Wasserstein distance of two sorted samples."""
    small, large = sorted((reference, current), key=np.size)
    return wasserstein_to_points(small, large)


def wasserstein_to_points(points: np.ndarray, other: np.ndarray) -> float:
    """First Wasserstein distance between sorted samples of K <= n values, as the area
    between their quantile functions: `other`'s value i holds p in (i/n, (i+1)/n], point k
    holds (k/K, (k+1)/K]; an interval a point boundary cuts is split (each is cut at most
    once, as K <= n). Linear in n, no merge."""
    n, k = other.size, points.size
    if k > n:
        return wasserstein_to_points(other, points)
    index = _interval_points(n, k)
    total = 0.0
    for start in range(0, n, BLOCK):  # in blocks: temporaries stay small and in cache
        block = other[start : start + BLOCK] - points[index[start : start + BLOCK]]
        total += float(np.abs(block, out=block).sum())
    total /= n
    bounds = np.arange(1, k, dtype=np.int64)  # boundary b at p = b/K
    b = bounds[(bounds * n) % k != 0]  # a boundary on a grid line cuts nothing
    i = b * n // k  # the interval the boundary falls in
    x = other[i]
    before = b / k - i / n  # the share of the interval still on point b - 1
    after = (i + 1) / n - b / k
    fix = before * np.abs(x - points[b - 1]) + after * np.abs(x - points[b])
    return float(total + np.sum(fix - np.abs(x - points[b - 1]) / n))


@lru_cache(maxsize=4)
def _interval_points(n: int, k: int) -> np.ndarray:
    """For each of n quantile intervals, the one of k points holding its start (features of
    one check mostly share n and k: computed once)."""
    index = np.arange(n, dtype=np.int64) * k // n
    index.setflags(write=False)
    return index


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
