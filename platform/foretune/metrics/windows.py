"""Scores of forecast windows in original units: MAE, RMSE, sMAPE, MASE, whole or batch by batch."""

from __future__ import annotations

import numpy as np

from .point import mae, rmse, smape, smape_points

NAMES = ("mae", "rmse", "smape", "mase")


def scaled_errors(future: np.ndarray, levels: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """MASE's points: absolute errors over each window's series scale ``[N]`` (``scale.segment_scales``)."""
    return np.abs(future - levels) / scale[:, None]


def score_levels(future: np.ndarray, levels: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE of forecast ``levels`` against ``future`` ``[N, H]``, all points."""
    return {
        "mae": mae(future, levels),
        "rmse": rmse(future, levels),
        "smape": smape(future, levels),
        "mase": float(np.nanmean(scaled_errors(future, levels, scale))),
    }


class ScoreSums:
    """``score_levels``' four metrics accumulated over batches: point sums and point counts.

    ``add`` each batch, optionally add the ``sums`` of other ranks (an all-reduce of the array),
    then read ``means``. Points that are NaN are skipped, as in every metric.
    """

    def __init__(self) -> None:
        self.sums = np.zeros(2 * len(NAMES))  # abs, squared, sMAPE, scaled sums; then their counts

    def add(self, future: np.ndarray, levels: np.ndarray, scale: np.ndarray) -> None:
        err = np.abs(future - levels)
        points = (err, err**2, smape_points(future, levels), scaled_errors(future, levels, scale))
        for i, values in enumerate(points):
            keep = ~np.isnan(values)
            self.sums[i] += values[keep].sum()
            self.sums[len(NAMES) + i] += keep.sum()

    def means(self) -> dict[str, float]:
        n = len(NAMES)
        means = [s / c if c else float("nan") for s, c in zip(self.sums[:n], self.sums[n:], strict=True)]
        return {"mae": means[0], "rmse": float(np.sqrt(means[1])), "smape": means[2], "mase": means[3]}
