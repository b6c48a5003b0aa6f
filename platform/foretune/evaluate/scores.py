"""The backtest's third stage: one model's forecasts at one origin, scored per series.

    scores = score("drift", fc, origin, seasons, has_direction=True)

``fc`` is a ``forecast_frames.forecast_frame``; the scores are ``metrics.evaluate_forecasts``'
columns plus ``crps``/``crps_scaled`` (see ``crps_from``) and, for a point forecaster with a
direction labeller, the ``direction_accuracy`` of its mean path.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from foretune.metrics import direction_hits, evaluate_forecasts, quantile_level

from .forecast_frames import DIRECTION_COLS, SAMPLE_COL, is_value
from .origins import Origin

__all__ = ["crps_from", "score"]


def crps_from(columns: Collection[str]) -> str:
    """How a forecast's CRPS is computed from its ``columns``: ``samples``, ``gaussian`` (from
    ``mean``/``std``), ``quantiles`` or ``point``."""
    if any(SAMPLE_COL.match(str(c)) for c in columns):
        return "samples"
    if "std" in columns:
        return "gaussian"
    if any(quantile_level(c) is not None for c in columns):
        return "quantiles"
    return "point"


def score(
    name: str, fc: pd.DataFrame, origin: Origin, seasons: Mapping[str, int], has_direction: bool
) -> pd.DataFrame:
    """Per-series metrics of one model's forecasts at one origin: ``model, window, cutoff``, the
    ``evaluate_forecasts`` columns, ``crps``/``crps_scaled``, extra intervals, ``crps_from``."""
    value_cols = [c for c in fc.columns if is_value(c)]
    probabilistic = all(c in fc.columns for c in DIRECTION_COLS)
    cols = ["unique_id", "ds", "y", *value_cols]
    if has_direction and probabilistic:
        cols.append("direction")
    history = origin.history[["unique_id", "ds", "y"]]
    per_series, _ = evaluate_forecasts(fc[cols], history, season=seasons)
    method = crps_from(value_cols)
    # the quantile approximation of the CRPS integral (coarse with few levels); a point
    # forecast's predictive distribution is a point mass, whose CRPS is the absolute error
    if method == "quantiles":
        per_series["crps"] = 2.0 * per_series["quantile_loss"]
    elif method == "point":
        per_series["crps"] = per_series["mae"]
    per_series["crps_scaled"] = per_series["crps"] * per_series["unique_id"].map(origin.inverse_scale)
    if has_direction and not probabilistic:
        per_series["direction_accuracy"] = per_series["unique_id"].map(_label_accuracy(fc))
    per_series.insert(0, "cutoff", per_series["unique_id"].map(origin.cutoffs))
    per_series.insert(0, "window", origin.window)
    per_series.insert(0, "model", name)
    per_series["crps_from"] = crps_from(fc.columns)
    return per_series


def _label_accuracy(fc: pd.DataFrame) -> pd.Series:
    """Each series' direction accuracy of the predicted labels (``direction_pred``), scored as
    one-hot probabilities; NaN points skipped."""
    pred = fc["direction_pred"].to_numpy(np.float64)
    onehot = np.full((len(fc), 3), np.nan)
    ok = ~np.isnan(pred)
    onehot[ok] = np.eye(3)[pred[ok].astype(int)]
    hits = pd.Series(direction_hits(fc["direction"].to_numpy(np.float64), onehot))
    return hits.groupby(fc["unique_id"].to_numpy(), sort=False).mean()
