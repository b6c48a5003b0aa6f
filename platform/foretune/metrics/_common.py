"""Shared helpers of the metric modules: float broadcasting, NaN-skipping means, checks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike


def floats(*arrays: ArrayLike) -> list[np.ndarray]:
    return np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in arrays))


def mean(values: np.ndarray) -> float:
    """Mean over non-NaN points; ``nan`` if there are none."""
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    return float(values[keep].mean()) if keep.any() else float("nan")


def series_mean(values: np.ndarray, series: np.ndarray, n: int) -> np.ndarray:
    """``mean`` of each series' points: rows of ``values`` (``[rows]`` or ``[rows, k]``) belong
    to series ``series[row]`` in ``0..n-1``; ``nan`` for a series without a non-NaN point."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2:
        series = np.repeat(series, values.shape[1])
        values = values.ravel()
    keep = ~np.isnan(values)
    total = np.bincount(series, weights=np.where(keep, values, 0.0), minlength=n)
    count = np.bincount(series, weights=keep, minlength=n)
    return np.divide(total, count, out=np.full(n, np.nan), where=count > 0)


def check_interval(lower: np.ndarray, upper: np.ndarray) -> None:
    if np.any(lower > upper):
        raise ValueError("interval bounds are crossed: lower > upper at some points")
