"""The per-series metrics utilsforecast computes as foretune defines them, taken from it.

    columns = library_scores(frame, "mean", quantiles, pairs, ids)
    # {"mae": [S], "rmse": [S], "smape": [S], "quantile_loss": [S], "coverage_90": [S], ...}

``utilsforecast.losses`` (Nixtla's, also what ``utilsforecast.evaluation.evaluate`` applies)
averages each series' points with these formulas, so ``evaluate_forecasts`` takes them from it:
MAE, RMSE (the root of each series' mean squared error), sMAPE (utilsforecast's 0..1 value times
200, the M4 scale; 0 where actual and forecast are both 0), the quantile loss (``mqloss``: the
mean over the levels of each level's mean pinball loss, no factor 2) and interval coverage
(``lower <= y <= upper``). Rows without an actual are left out first, and a coverage point only
counts where both bounds are there, so every metric follows the package's NaN rule. What
utilsforecast does not compute the same way stays in foretune: MASE (one scale rule shared with
training: NaN, not infinite, for a constant history, the one-step difference for a short one, a
season per series), interval width, CRPS from samples or a normal, and the direction metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._common import check_interval
from .names import level_name

_MODEL = "forecast"  # the one model column of the frames handed to utilsforecast
#: Per-point metrics: name, utilsforecast's loss, the factor to foretune's scale.
_PER_POINT = (("mae", "mae", 1.0), ("rmse", "rmse", 1.0), ("smape", "smape", 200.0))


def library_scores(
    frame: pd.DataFrame,
    point: str,
    quantiles: Mapping[float, str],
    pairs: Sequence[tuple[float, str, str]],
    ids: Sequence[Any],
) -> dict[str, np.ndarray]:
    """Per series (in the order of ``ids``): ``mae, rmse, smape``, ``quantile_loss`` over the
    ``quantiles`` columns (level -> column) and ``coverage_<level>`` of each ``pairs`` interval
    (``(level, lower, upper)``), from utilsforecast; NaN for a series without a point."""
    from utilsforecast import losses  # imported when scoring, not by every user of the metrics

    observed = frame[frame["y"].notna()]
    base = pd.DataFrame(
        {"unique_id": observed["unique_id"].to_numpy(), "y": observed["y"].to_numpy(np.float64)}
    )
    out = {}
    with_point = base.assign(**{_MODEL: observed[point].to_numpy(np.float64)})
    for name, loss, scale in _PER_POINT:
        out[name] = scale * _per_series(getattr(losses, loss)(with_point, [_MODEL]), ids)
    if quantiles:
        columns = {f"q{i}": observed[c].to_numpy(np.float64) for i, c in enumerate(quantiles.values())}
        scored = losses.mqloss(
            base.assign(**columns), {_MODEL: list(columns)}, np.fromiter(quantiles, dtype=np.float64)
        )
        out["quantile_loss"] = _per_series(scored, ids)
    for level, lower, upper in pairs:
        out[f"coverage_{level_name(level)}"] = _coverage(base, observed, level, lower, upper, ids)
    return out


def _coverage(
    base: pd.DataFrame, observed: pd.DataFrame, level: float, lower: str, upper: str, ids: Sequence[Any]
) -> np.ndarray:
    """Each series' share of points inside ``[lower, upper]`` (utilsforecast's ``coverage``)."""
    from utilsforecast import losses

    lo, hi = observed[lower].to_numpy(np.float64), observed[upper].to_numpy(np.float64)
    check_interval(lo, hi)
    name = level_name(level)
    bounds = base.assign(**{f"{_MODEL}-lo-{name}": lo, f"{_MODEL}-hi-{name}": hi})
    bounds = bounds[~(np.isnan(lo) | np.isnan(hi))]
    return _per_series(losses.coverage(bounds, [_MODEL], name), ids)


def _per_series(scores: pd.DataFrame, ids: Sequence[Any]) -> np.ndarray:
    """A utilsforecast score frame (``unique_id``, the model column) as an array over ``ids``."""
    values = pd.Series(scores[_MODEL].to_numpy(np.float64), index=scores["unique_id"].to_numpy())
    return values.reindex(list(ids)).to_numpy(np.float64)
