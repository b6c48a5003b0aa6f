"""The backtest's second stage: a forecaster's output, checked and joined onto an origin's actuals.

    fc = forecast_frame("drift", raw, origin, direction)   # model, window, actuals, values, ...
    kept = without_samples(fc)                             # what BacktestResult.forecasts keeps

A forecaster's output that breaks the protocol of ``forecasters.Forecaster`` (not a frame, no
``unique_id, ds, mean``, several rows or none for a series' date) is a bug in that forecaster:
it raises ``TypeError`` / ``ValueError`` with the forecaster's name and the window.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from foretune.metrics import quantile_level

from .forecasters import DirectionFn
from .origins import Origin, direction_labels

__all__ = ["DIRECTION_COLS", "SAMPLE_COL", "forecast_frame", "is_value", "without_samples"]

#: A forecaster's direction probabilities.
DIRECTION_COLS = ("p_down", "p_flat", "p_up")
#: A forecaster's sample (draw) columns.
SAMPLE_COL = re.compile(r"^sample_\d+$")
_OTHER_VALUE_COL = re.compile(r"^(mean|std|std_mc|sample_\d+|p_down|p_flat|p_up)$")


def is_value(column: object) -> bool:
    """A forecast's value column: ``mean``, ``std``, ``std_mc``, a quantile, a draw or a ``p_*``."""
    return bool(_OTHER_VALUE_COL.match(str(column))) or quantile_level(str(column)) is not None


def without_samples(fc: pd.DataFrame) -> pd.DataFrame:
    """``fc`` without its ``sample_*`` columns (draws are scored, not kept)."""
    return fc[[c for c in fc.columns if not SAMPLE_COL.match(str(c))]]


def forecast_frame(
    name: str, raw: pd.DataFrame, origin: Origin, direction: DirectionFn | None
) -> pd.DataFrame:
    """A forecaster's output on the origin's actuals: ``model, window``, the actuals, its value
    columns, ``direction_pred`` (with a labeller) and ``scaled_error``."""
    fc = _align(name, raw, origin.actuals, origin.window, origin.horizon)
    extra = {}
    if direction is not None:
        extra["direction_pred"] = _direction_pred(fc, direction, origin.history_y)
    scale = fc["unique_id"].map(origin.inverse_scale)
    extra["scaled_error"] = (fc["y"] - fc["mean"]).abs() * scale
    return pd.concat(
        [
            pd.DataFrame({"model": name, "window": origin.window}, index=fc.index),
            fc,
            pd.DataFrame(extra, index=fc.index),
        ],
        axis=1,
    )


def _align(name: str, raw: pd.DataFrame, actuals: pd.DataFrame, window: int, horizon: int) -> pd.DataFrame:
    """Join a forecaster's output onto the window's actuals; raise if rows are missing."""
    fc = _values(name, raw)
    if pd.api.types.is_datetime64_any_dtype(actuals["ds"]):
        fc["ds"] = pd.to_datetime(fc["ds"]).astype(actuals["ds"].dtype)
    if fc.duplicated(["unique_id", "ds"]).any():
        row = fc[fc.duplicated(["unique_id", "ds"])].iloc[0]
        raise ValueError(
            f"forecaster {name!r} returned several rows for series {row['unique_id']!r} at "
            f"{row['ds']} (window {window})"
        )
    merged = actuals.merge(fc, on=["unique_id", "ds"], how="left", indicator=True)
    lost = merged[merged["_merge"] == "left_only"]
    if not lost.empty:
        uid, ds = lost["unique_id"].iloc[0], lost["ds"].iloc[0]
        got = fc.loc[fc["unique_id"] == uid, "ds"].tolist()
        raise ValueError(
            f"forecaster {name!r} gave no forecast for series {uid!r} at {ds} (window {window}); "
            f"it must continue each series' dates for horizon={horizon} steps, got {got[:6]}"
        )
    return merged.drop(columns="_merge")


def _values(name: str, raw: pd.DataFrame) -> pd.DataFrame:
    """``unique_id, ds`` and the value columns (as float64) of a forecaster's output frame."""
    if not isinstance(raw, pd.DataFrame):
        raise TypeError(f"forecaster {name!r} returned {type(raw).__name__}, not a DataFrame")
    missing = {"unique_id", "ds", "mean"} - set(raw.columns)
    if missing:
        raise ValueError(
            f"forecaster {name!r} returned a frame without columns {sorted(missing)} "
            f"(got {[str(c) for c in raw.columns]})"
        )
    values = [c for c in raw.columns if is_value(c)]
    return pd.concat(
        [
            pd.DataFrame({"unique_id": raw["unique_id"].astype(str), "ds": raw["ds"]}),
            raw[values].apply(pd.to_numeric, errors="coerce").astype("float64"),
        ],
        axis=1,
    )


def _direction_pred(fc: pd.DataFrame, direction: DirectionFn, hist_y: dict[str, np.ndarray]) -> np.ndarray:
    """Predicted labels: argmax of ``p_*`` if given, else the labels of the mean path."""
    if all(c in fc.columns for c in DIRECTION_COLS):
        p = fc[list(DIRECTION_COLS)].to_numpy(np.float64)
        out = np.argmax(p, axis=1).astype(np.float64)
        out[np.isnan(p).any(axis=1)] = np.nan
        return out
    return direction_labels(direction, fc, "mean", hist_y)
