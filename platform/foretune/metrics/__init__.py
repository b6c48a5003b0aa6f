"""Forecast metrics, pure functions at the bottom of foretune: every stage scores with these.

Modules: ``point`` (MAE, RMSE, sMAPE, MASE), ``scale`` (the one MASE scale), ``probabilistic``
(pinball, CRPS, coverage, width), ``direction`` (accuracy, log-loss, climatology), ``names``
(quantile and level column names), ``frame`` (``evaluate_forecasts`` over a long frame) and
``windows`` (window scores in original units). They import numpy, pandas and scipy only.
Usage: ``from foretune import metrics as M; M.mase(y, yhat, history, season=12)``.

Array metrics take array-likes of any broadcastable shape (e.g. ``[series, horizon]``) and
return one ``float``: the mean over all points.

NaN rule (every metric): a point whose value is NaN -- because one of its inputs is NaN -- is
skipped; the mean is over the remaining points, and a metric with no points left is ``nan``.
Infinite inputs are not skipped and propagate. Shape and range errors (a quantile level outside
[0, 1], crossed intervals, labels outside the classes) raise ``ValueError``.

Conventions chosen here:
- ``smape``: M4 definition on 0..200; a point where actual and forecast are both 0 scores 0.
- ``mase``: scale (``mase_scale``) is the in-sample mean absolute ``season``-difference, taken
  along the last axis of ``insample`` (one scale per series; NaN-pad shorter histories on the
  left); a history not longer than ``season`` uses the one-step difference. A scale of 0
  (constant history) or with no differences at all is *undefined*: that series' points become
  NaN, so ``mase`` of a single such series is ``nan`` (not ``inf``, which would swamp every
  average it enters) and a multi-series mean skips it.
- ``pinball``: ``max(q * (y - p), (q - 1) * (y - p))``, no factor 2 (so q=0.5 is MAE / 2).
- ``crps_from_samples``: CRPS of the empirical distribution of the samples (``fair=False``,
  as ``properscoring.crps_ensemble``), or the unbiased "fair" estimator (``fair=True``).
- ``coverage``: bounds inclusive, ``lower <= y <= upper``.
- ``climatology``: the class frequencies of labels, the reference for direction probabilities.
- ``direction_accuracy`` / ``log_loss``: labels 0 down, 1 flat, 2 up; ``probs`` has the classes
  on its last axis; ties in ``argmax`` go to the lower class.

``evaluate_forecasts`` applies these to a long forecast frame, per series, and averages the
per-series values over series as the M competitions do.

Column names (every writer and reader of forecast frames uses these, so that they round-trip):
``quantile_name(q)`` is ``q`` followed by the digits of the decimal fraction of ``q``, at least
two (0.05 -> ``q05``, 0.5 -> ``q50``, 0.025 -> ``q025``, 0.975 -> ``q975``, 0.005 -> ``q005``);
reading the digits back as ``0.<digits>`` is unambiguous (``q05`` is 0.05, ``q005`` 0.005) and
``quantile_level`` accepts only the canonical spelling (not ``q5`` or ``q500``).
``level_name(L)`` names a central interval level in percent (0.9 -> ``90``, 0.975 -> ``97.5``),
as in ``coverage_90`` and Nixtla's ``-lo-90``.
"""

from __future__ import annotations

from .direction import climatology, direction_accuracy, direction_hits, log_loss
from .frame import DIRECTION_COLUMNS, evaluate_forecasts
from .names import (
    central_interval,
    interval_pairs,
    level_name,
    quantile_columns,
    quantile_level,
    quantile_name,
)
from .point import mae, mase, rmse, smape, smape_points
from .probabilistic import coverage, crps_from_samples, crps_gaussian, interval_width, pinball
from .scale import mase_scale, segment_scales, series_mase_scales
from .windows import ScoreSums, scaled_errors, score_levels

__all__ = [
    "DIRECTION_COLUMNS",
    "ScoreSums",
    "central_interval",
    "climatology",
    "coverage",
    "crps_from_samples",
    "crps_gaussian",
    "direction_accuracy",
    "direction_hits",
    "evaluate_forecasts",
    "interval_pairs",
    "interval_width",
    "level_name",
    "log_loss",
    "mae",
    "mase",
    "mase_scale",
    "pinball",
    "quantile_columns",
    "quantile_level",
    "quantile_name",
    "rmse",
    "scaled_errors",
    "score_levels",
    "segment_scales",
    "series_mase_scales",
    "smape",
    "smape_points",
]
