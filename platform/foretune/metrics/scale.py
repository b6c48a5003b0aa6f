"""The one MASE scale: the in-sample mean absolute ``season``-difference of each series.

``segment_scales(y, offsets, seasons)`` is the definition, for a panel laid out as segments
(series ``i`` is ``y[offsets[i] : offsets[i+1]]``, in time order); ``mase_scale`` (arrays with
time on the last axis) and ``series_mase_scales`` (a long frame) arrange their input as segments
and call it. Rules: NaNs (left padding) are skipped; a series with no more non-NaN points than
its season uses the one-step difference; a scale of 0 (constant history) or without any
difference is NaN, so that series' scaled errors are undefined rather than infinite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._common import ArrayLike, series_mean


def segment_scales(y: np.ndarray, offsets: np.ndarray, seasons: ArrayLike = 1) -> np.ndarray:
    """MASE scale ``[S]`` of each segment ``y[offsets[i] : offsets[i+1]]`` with its season
    (``seasons``: one int or one per segment, each >= 1)."""
    y = np.asarray(y, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    m = np.broadcast_to(np.asarray(seasons, dtype=np.int64), lengths.shape)
    if np.any(m < 1):
        raise ValueError(f"season must be >= 1, got {int(m[m < 1][0])}")
    series = np.repeat(np.arange(len(lengths)), lengths)
    starts = offsets[:-1]
    scale = _mean_abs_lag_diff(y, series, starts, m)
    if np.any(m > 1):
        valid = np.bincount(series, weights=~np.isnan(y), minlength=len(lengths))
        scale = np.where(valid <= m, _mean_abs_lag_diff(y, series, starts, np.ones_like(m)), scale)
    scale[scale == 0] = np.nan
    return scale


def _mean_abs_lag_diff(y: np.ndarray, series: np.ndarray, starts: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """Mean of ``|y[t] - y[t - lag]|`` within each segment (NaN differences skipped)."""
    lags = lag[series]
    rows = np.arange(len(y))
    has = rows - starts[series] >= lags
    diffs = np.full(len(y), np.nan)
    diffs[has] = np.abs(y[has] - y[rows[has] - lags[has]])
    return series_mean(diffs, series, len(starts))


def mase_scale(insample: ArrayLike, season: int = 1) -> np.ndarray | float:
    """MASE's scale along the last axis of ``insample``: a float for one series (``[T]``), else
    an array with the time axis kept as a unit axis (``[S, T]`` -> ``[S, 1]``)."""
    if season < 1:
        raise ValueError(f"season must be >= 1, got {season}")
    hist = np.asarray(insample, dtype=np.float64)
    if hist.ndim == 0:
        raise ValueError("insample must have a time axis")
    rows = hist.reshape(-1, hist.shape[-1])
    offsets = np.arange(len(rows) + 1) * rows.shape[1]
    scale = segment_scales(rows.ravel(), offsets, season)
    return float(scale[0]) if hist.ndim == 1 else scale.reshape(*hist.shape[:-1], 1)


def series_mase_scales(history: pd.DataFrame, season: int | Mapping[Any, int] = 1) -> dict[Any, float]:
    """``unique_id -> mase_scale`` of each series' ``y`` in ``history`` (ordered by ``ds``).

    ``season`` is one int for all series or a mapping ``unique_id -> season`` (missing ids: 1).
    """
    ordered = history.sort_values(["unique_id", "ds"], kind="stable")
    ids, _, starts = run_index(ordered["unique_id"])
    if not ids:
        return {}
    seasons = [season.get(uid, 1) for uid in ids] if isinstance(season, Mapping) else season
    offsets = np.r_[starts, len(ordered)]
    scale = segment_scales(ordered["y"].to_numpy(np.float64), offsets, seasons)
    return dict(zip(ids, scale.tolist(), strict=True))


def run_index(ids: pd.Series) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """The runs of equal values in ``ids`` (a sorted column): each run's value, each row's run
    number and each run's first row."""
    codes, names = pd.factorize(ids)
    if not len(codes):
        return [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    change = np.r_[True, codes[1:] != codes[:-1]]
    starts = np.flatnonzero(change)
    return [names[codes[a]] for a in starts], np.cumsum(change) - 1, starts
