"""Robust per-series moments of concatenated values (the transform's statistics), vectorised:
values of many series lie one after the other, ``seg`` naming each value's series."""

from __future__ import annotations

import numpy as np

#: Changes further than this many robust standard deviations from their series' median are
#: clipped to that distance before the mean and standard deviation are taken (see above).
OUTLIER_MADS = 8.0


def std_floored(values: np.ndarray) -> float:
    """Standard deviation with a floor, so a constant series standardises to zeros, not NaN."""
    s = float(np.std(values)) if np.size(values) else 0.0
    return s if s > 1e-12 else 1.0


def series_pairs(y: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive levels ``[K, 2]`` of the same series in concatenated levels ``y`` (``seg``: the
    series of each level), and the series of each pair: ``changes(pairs)[:, 0]`` are the series'
    changes, never one across two series."""
    same = seg[1:] == seg[:-1]
    return np.stack([y[:-1][same], y[1:][same]], axis=1), seg[:-1][same]


def clip_outliers(values: np.ndarray, seg: np.ndarray, n_series: int) -> np.ndarray:
    """``values`` clipped per series (``seg``) to ``OUTLIER_MADS`` robust standard deviations
    (1.4826 x MAD) around the series' median; a series whose MAD is 0 is left as it is."""
    values = np.asarray(values, dtype=np.float64)
    if not values.size:
        return values
    centre = _segment_median(values, seg, n_series)
    spread = 1.4826 * _segment_median(np.abs(values - centre[seg]), seg, n_series)
    bound = np.where(spread > 0, OUTLIER_MADS * spread, np.inf)[seg]
    return np.clip(values, centre[seg] - bound, centre[seg] + bound)


def _segment_median(values: np.ndarray, seg: np.ndarray, n_series: int) -> np.ndarray:
    """Per-series median of ``values`` grouped by ``seg`` (0 for a series without values)."""
    order = np.lexsort((values, seg))
    ordered = values[order]
    count = np.bincount(seg, minlength=n_series)
    start = np.cumsum(count) - count
    low = ordered[np.minimum(start + (count - 1) // 2, len(values) - 1)]
    high = ordered[np.minimum(start + count // 2, len(values) - 1)]
    return np.where(count > 0, (low + high) / 2, 0.0)


def segment_moments(values: np.ndarray, seg: np.ndarray, n_series: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-series mean and floored standard deviation (as ``std_floored``) of ``values`` grouped by
    ``seg``; a series without values gets 0 and 1."""
    count = np.bincount(seg, minlength=n_series)
    total = np.bincount(seg, weights=values, minlength=n_series)
    mean = np.divide(total, count, out=np.zeros(n_series), where=count > 0)
    square = np.bincount(seg, weights=(values - mean[seg]) ** 2, minlength=n_series)
    std = np.sqrt(np.divide(square, count, out=np.zeros(n_series), where=count > 0))
    return mean, np.where(std > 1e-12, std, 1.0)
