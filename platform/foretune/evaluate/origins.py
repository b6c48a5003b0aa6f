"""The backtest's first stage: rolling origins, and the direction labels of a path.

    for origin in rolling_origins(frame, horizon=4, windows=3, seasons={"a": 4}):
        origin.history   # what a forecaster sees
        origin.actuals   # what it is scored on

``rolling_origins`` cuts a validated long frame into ``windows`` origins, oldest first;
``direction_labels`` labels each series' path with a ``forecasters.DirectionFn``, for the
actuals here and for a point forecast's mean path in ``forecast_frames``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from foretune.metrics import series_mase_scales

from .forecasters import DirectionFn

__all__ = ["Origin", "direction_labels", "rolling_origins"]


@dataclass(frozen=True)
class Origin:
    """One rolling-origin cut of every series: what a forecaster sees and what it is scored on.

    ``history`` holds all columns up to each series' cutoff; ``actuals`` is ``unique_id,
    cutoff, ds, step, y`` (and ``direction`` labels when a labeller is given) for the next
    ``horizon`` steps; ``inverse_scale`` is one over each series' MASE scale on ``history``.
    """

    window: int
    horizon: int
    history: pd.DataFrame
    actuals: pd.DataFrame
    cutoffs: pd.Series
    history_y: dict[str, np.ndarray]
    inverse_scale: dict[str, float]


def rolling_origins(
    frame: pd.DataFrame,
    horizon: int,
    windows: int,
    seasons: Mapping[str, int],
    direction: DirectionFn | None = None,
) -> Iterator[Origin]:
    """The ``windows`` origins of a validated long ``frame``, oldest first.

    Window ``w = 1..K`` of a series of length ``n`` forecasts its observations
    ``n - (K-w+1)H .. n - (K-w)H - 1`` from everything before them. Origins count from each
    series' own end, so series ending on different dates are fine; ``cutoff`` is each series'
    last history time stamp. ``seasons`` (``unique_id -> season``) sets the MASE scale.
    """
    groups = frame.groupby("unique_id", sort=False)
    pos = groups.cumcount().to_numpy()
    size = groups["y"].transform("size").to_numpy()
    for w in range(1, windows + 1):
        yield _origin(frame, pos, size - (windows - w + 1) * horizon, w, horizon, seasons, direction)


def _origin(
    frame: pd.DataFrame,
    pos: np.ndarray,
    cut: np.ndarray,
    window: int,
    horizon: int,
    seasons: Mapping[str, int],
    direction: DirectionFn | None,
) -> Origin:
    """The origin of window ``window``: rows before each series' ``cut`` are its history."""
    history = frame[pos < cut].reset_index(drop=True)
    inside = (pos >= cut) & (pos < cut + horizon)
    actuals = frame.loc[inside, ["unique_id", "ds", "y"]].reset_index(drop=True)
    actuals.insert(2, "step", (pos - cut + 1)[inside])
    cutoffs = history.groupby("unique_id", sort=False)["ds"].last()
    actuals.insert(1, "cutoff", actuals["unique_id"].map(cutoffs))
    y = history["y"].to_numpy(np.float64)
    hist_y = {uid: y[idx] for uid, idx in history.groupby("unique_id", sort=False).indices.items()}
    if direction is not None:
        actuals["direction"] = direction_labels(direction, actuals, "y", hist_y)
    return Origin(
        window=window,
        horizon=horizon,
        history=history,
        actuals=actuals,
        cutoffs=cutoffs,
        history_y=hist_y,
        inverse_scale={uid: 1.0 / scale for uid, scale in series_mase_scales(history, seasons).items()},
    )


def direction_labels(
    direction: DirectionFn, frame: pd.DataFrame, column: str, hist_y: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Direction labels of each series' path ``column`` (rows ordered by ``step``), per row of
    ``frame``; all series at once through ``direction.panel`` when every path is as long."""
    values = frame[column].to_numpy(np.float64)
    steps = frame["step"].to_numpy()
    out = np.full(len(frame), np.nan)
    codes, ids = pd.factorize(frame["unique_id"])
    sizes = np.bincount(codes[codes >= 0])
    panel = getattr(direction, "panel", None)
    if panel is not None and len(sizes) and (codes >= 0).all() and (sizes == sizes[0]).all():
        order = np.lexsort((steps, codes)).reshape(len(ids), sizes[0])  # one row per series
        out[order] = panel(list(ids), hist_y, values[order])
        return out
    for uid, idx in frame.groupby("unique_id", sort=False).indices.items():
        order = idx[np.argsort(steps[idx])]
        out[order] = direction(uid, hist_y[uid], values[order])
    return out
