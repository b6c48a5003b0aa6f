"""Scoring a long forecast frame per series and across series (``evaluate_forecasts``).

Every metric is computed point-wise on whole columns, then averaged per series (a run of rows of
the frame sorted by ``unique_id, ds``) and over series, as the M competitions average.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._common import mean, series_mean
from .direction import direction_hits, log_loss_points
from .names import interval_pairs, level_name, quantile_columns
from .point import smape_points
from .probabilistic import (
    coverage_points,
    crps_gaussian_points,
    crps_samples_points,
    pinball_points,
    width_points,
)
from .scale import run_index, series_mase_scales

_SAMPLE_COL = re.compile(r"^sample_\d+$")
DIRECTION_COLUMNS = ("p_down", "p_flat", "p_up")


def evaluate_forecasts(
    frame: pd.DataFrame,
    history: pd.DataFrame | None = None,
    *,
    point: str = "mean",
    season: int | Mapping[Any, int] = 1,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score a long forecast frame per series and across series.

    ``frame`` has ``unique_id, ds, y`` (actuals) and the point forecast column ``point``
    (``"mean"``, or e.g. ``"Naive"`` for a baseline). Optional columns switch on more metrics:

    - quantile columns named by ``quantile_name`` (``q05``, ``q50``, ``q975``, ...):
      ``quantile_loss`` (mean pinball over the levels) and, for each symmetric pair
      ``(q, 1 - q)``, ``coverage_<level>`` and ``width_<level>`` (``q05``/``q95`` -> ``_90``);
    - ``sample_0 .. sample_{S-1}``: ``crps`` from samples; otherwise ``std``: Gaussian ``crps``
      around ``point``;
    - ``direction`` (0/1/2 labels) with ``p_down, p_flat, p_up``: ``direction_accuracy``,
      ``log_loss``.

    ``history`` (``unique_id, ds, y``, the data before the forecast) enables ``mase``, with
    ``season`` one int for all series or a mapping ``unique_id -> season`` (missing ids: 1).

    One forecast per ``(unique_id, ds)``: score backtest folds one call per fold.
    Returns ``(per_series, aggregate)``: one row per series (``unique_id``, ``n`` points with an
    actual, the metrics) and a dict with each metric's mean over series (NaN series skipped,
    so sMAPE and MASE are the M4 averages), ``n_series``, ``n_points`` and, with history,
    ``mase_n_undefined`` (series whose MASE scale is 0 or missing).
    """
    _check_frame(frame, point)
    frame = frame.sort_values(["unique_id", "ds"])
    ids, series, _ = run_index(frame["unique_id"])
    rows = _Rows(frame, series, len(ids))
    columns: dict[str, Any] = {"unique_id": ids, **_point_columns(rows, frame[point])}
    if history is not None:
        scales = series_mase_scales(history, season) if ids else {}
        scale = np.array([scales.get(uid, np.nan) for uid in ids], dtype=np.float64)
        columns["mase"] = rows.mean(np.abs(rows.y - frame[point].to_numpy(np.float64)) / scale[series])
    columns.update(_probabilistic_columns(rows, frame, point))
    columns.update(_direction_columns(rows, frame))
    per_series = pd.DataFrame(columns)
    return per_series, _aggregate(per_series, with_mase=history is not None)


class _Rows:
    """The sorted frame's actuals and its row -> series map, averaging point values per series."""

    def __init__(self, frame: pd.DataFrame, series: np.ndarray, n: int) -> None:
        self.y = frame["y"].to_numpy(np.float64)
        self.series, self.n = series, n

    def mean(self, values: np.ndarray) -> np.ndarray:
        return series_mean(values, self.series, self.n)


def _check_frame(frame: pd.DataFrame, point: str) -> None:
    missing = {"unique_id", "ds", "y", point} - set(frame.columns)
    if missing:
        raise ValueError(f"forecast frame lacks columns {sorted(missing)}")
    if frame.duplicated(["unique_id", "ds"]).any():
        raise ValueError("forecast frame has several rows per (unique_id, ds); score one fold at a time")


def _point_columns(rows: _Rows, point: pd.Series) -> dict[str, np.ndarray]:
    y, yhat = rows.y, point.to_numpy(np.float64)
    return {
        "n": np.bincount(rows.series, weights=~np.isnan(y), minlength=rows.n).astype(np.int64),
        "mae": rows.mean(np.abs(y - yhat)),
        "rmse": np.sqrt(rows.mean((y - yhat) ** 2)),
        "smape": rows.mean(smape_points(y, yhat)),
    }


def _probabilistic_columns(rows: _Rows, frame: pd.DataFrame, point: str) -> dict[str, np.ndarray]:
    """CRPS (samples, else a Gaussian ``std``), the quantile loss, coverage and width per level."""
    out: dict[str, np.ndarray] = {}
    y = rows.y
    sample_cols = [c for c in frame.columns if _SAMPLE_COL.match(str(c))]
    if sample_cols:
        out["crps"] = rows.mean(crps_samples_points(y, frame[sample_cols].to_numpy(np.float64).T))
    elif "std" in frame.columns:
        std = frame["std"].to_numpy(np.float64)
        out["crps"] = rows.mean(crps_gaussian_points(y, frame[point].to_numpy(np.float64), std))
    quantiles = quantile_columns(frame.columns)
    if quantiles:
        q_pred = frame[list(quantiles.values())].to_numpy(np.float64)
        levels = np.fromiter(quantiles, dtype=np.float64)
        out["quantile_loss"] = rows.mean(pinball_points(y[:, None], q_pred, levels))
    for level, lo, hi in interval_pairs(frame.columns)[::-1]:  # narrowest first, as the columns
        lower, upper = frame[lo].to_numpy(np.float64), frame[hi].to_numpy(np.float64)
        out[f"coverage_{level_name(level)}"] = rows.mean(coverage_points(y, lower, upper))
        out[f"width_{level_name(level)}"] = rows.mean(width_points(lower, upper))
    return out


def _direction_columns(rows: _Rows, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    if "direction" not in frame.columns or not all(c in frame.columns for c in DIRECTION_COLUMNS):
        return {}
    labels = frame["direction"].to_numpy(np.float64)
    probs = frame[list(DIRECTION_COLUMNS)].to_numpy(np.float64)
    return {
        "direction_accuracy": rows.mean(direction_hits(labels, probs)),
        "log_loss": rows.mean(log_loss_points(labels, probs)),
    }


def _aggregate(per_series: pd.DataFrame, *, with_mase: bool) -> dict[str, Any]:
    aggregate: dict[str, Any] = {
        col: mean(per_series[col].to_numpy(np.float64))
        for col in per_series.columns
        if col not in ("unique_id", "n")
    }
    aggregate["n_series"] = len(per_series)
    aggregate["n_points"] = int(per_series["n"].sum()) if len(per_series) else 0
    if with_mase:
        aggregate["mase_n_undefined"] = int(per_series["mase"].isna().sum())
    return aggregate
