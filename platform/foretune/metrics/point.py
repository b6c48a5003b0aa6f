"""Point-forecast metrics: MAE, RMSE, sMAPE, MASE (see the package docstring for the conventions)."""

from __future__ import annotations

import numpy as np

from ._common import ArrayLike, floats, mean
from .scale import mase_scale


def mae(y: ArrayLike, yhat: ArrayLike) -> float:
    """Mean absolute error."""
    y, yhat = floats(y, yhat)
    return mean(np.abs(y - yhat))


def rmse(y: ArrayLike, yhat: ArrayLike) -> float:
    """Root mean squared error (root of the mean over all points)."""
    y, yhat = floats(y, yhat)
    return float(np.sqrt(mean((y - yhat) ** 2)))


def smape(y: ArrayLike, yhat: ArrayLike) -> float:
    """M4 sMAPE in 0..200: mean of ``200 |y - yhat| / (|y| + |yhat|)``; 0 where both are 0."""
    return mean(smape_points(y, yhat))


def smape_points(y: ArrayLike, yhat: ArrayLike) -> np.ndarray:
    """sMAPE of every point (NaN where an input is NaN), before ``smape`` averages them."""
    y, yhat = floats(y, yhat)
    num = 200.0 * np.abs(y - yhat)
    den = np.abs(y) + np.abs(yhat)
    out = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    out[np.isnan(num) | np.isnan(den)] = np.nan
    return out


def mase(y: ArrayLike, yhat: ArrayLike, insample: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error.

    ``insample`` is the history with time on its last axis (``[T]`` for one series,
    ``[series, T]`` with ``y`` as ``[series, horizon]``); its ``mase_scale`` must broadcast
    against ``y``. Undefined scale -> those points are NaN.
    """
    scale = np.atleast_1d(mase_scale(insample, season))
    y, yhat, scale = floats(y, yhat, scale)
    return mean(np.abs(y - yhat) / scale)
