"""Scoring validation forecasts: predicted standardised changes back to levels, then point metrics.

The pure half of scoring a trained model on its validation windows (``train.predict`` runs the
model and calls these). ``to_levels`` inverts predicted change paths ``z [N, H]`` with the
per-series statistics of a transform; ``to_levels_rowwise`` does the same with statistics that
travel with each window (streamed rows carry ``mu`` and ``sigma``). ``score_levels`` gives MAE,
RMSE, sMAPE and MASE over whole arrays; ``ScoreSums`` adds up the same four batch by batch, so
that streamed windows never sit in memory at once and the sums of several ranks can be added.
Usage: ``score_levels(future, to_levels(transform, ids, series, last, z), scale)``.
The formulas are ``evaluate.metrics``' (NaN points skipped); this module only arranges them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from foretune.data.transform import RatioTransform, RowTransform
from foretune.evaluate import metrics as M

#: The metric names, in the order ``ScoreSums`` keeps them.
NAMES = ("mae", "rmse", "smape", "mase")


def to_levels(
    transform: RatioTransform, series_ids: Sequence[str], series: np.ndarray, last: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """Levels ``[N, H]`` of change paths ``z`` of windows of ``series`` (indices into ``series_ids``)
    that start from levels ``last``; each row is inverted with its series' own statistics, all
    rows at once (``RowTransform``)."""
    rows = RowTransform(transform, np.asarray(series_ids, dtype=object)[np.asarray(series)])
    return rows.levels(np.asarray(last, dtype=np.float64), rows.changes(z))


def to_levels_rowwise(
    integrate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    last: np.ndarray,
    z: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
) -> np.ndarray:
    """Levels ``[N, H]`` of change paths ``z`` whose windows carry their own ``mu``/``sigma`` ``[N]``."""
    r = np.asarray(z, dtype=np.float64) * sigma[:, None] + mu[:, None]
    return integrate(last, r)


def scaled_errors(future: np.ndarray, levels: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """MASE's points: absolute errors over each window's series scale ``[N]`` (``metrics.mase_scale``)."""
    return np.abs(future - levels) / scale[:, None]


def score_levels(future: np.ndarray, levels: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE of forecast ``levels`` against ``future`` ``[N, H]``, all points."""
    return {
        "mae": M.mae(future, levels),
        "rmse": M.rmse(future, levels),
        "smape": M.smape(future, levels),
        "mase": float(np.nanmean(scaled_errors(future, levels, scale))),
    }


class ScoreSums:
    """``score_levels``' four metrics accumulated over batches: point sums and point counts.

    ``add`` each batch, optionally add the ``sums`` of other ranks (an all-reduce of the array),
    then read ``means``. Points that are NaN are skipped, as in ``evaluate.metrics``.
    """

    def __init__(self) -> None:
        self.sums = np.zeros(2 * len(NAMES))  # abs, squared, sMAPE, scaled sums; then their counts

    def add(self, future: np.ndarray, levels: np.ndarray, scale: np.ndarray) -> None:
        err = np.abs(future - levels)
        points = (err, err**2, M.smape_points(future, levels), scaled_errors(future, levels, scale))
        for i, values in enumerate(points):
            keep = ~np.isnan(values)
            self.sums[i] += values[keep].sum()
            self.sums[len(NAMES) + i] += keep.sum()

    def means(self) -> dict[str, float]:
        n = len(NAMES)
        means = [s / c if c else float("nan") for s, c in zip(self.sums[:n], self.sums[n:], strict=True)]
        return {"mae": means[0], "rmse": float(np.sqrt(means[1])), "smape": means[2], "mase": means[3]}
