"""Forecast metrics: one formula per function, shared by search, ensemble and benchmarks.

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

import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr

__all__ = [
    "central_interval",
    "level_name",
    "quantile_columns",
    "quantile_level",
    "quantile_name",
    "coverage",
    "crps_from_samples",
    "crps_gaussian",
    "direction_accuracy",
    "direction_hits",
    "evaluate_forecasts",
    "interval_pairs",
    "interval_width",
    "log_loss",
    "mae",
    "mase",
    "mase_scale",
    "pinball",
    "rmse",
    "series_mase_scales",
    "smape",
]

ArrayLike = npt.ArrayLike

_INV_SQRT_PI = 1.0 / np.sqrt(np.pi)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _floats(*arrays: ArrayLike) -> list[np.ndarray]:
    return np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in arrays))


def _mean(values: np.ndarray) -> float:
    """Mean over non-NaN points; ``nan`` if there are none."""
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    return float(values[keep].mean()) if keep.any() else float("nan")


def _series_mean(values: np.ndarray, series: np.ndarray, n: int) -> np.ndarray:
    """``_mean`` of each series' points: rows of ``values`` (``[rows]`` or ``[rows, k]``) belong
    to series ``series[row]`` in ``0..n-1``; ``nan`` for a series without a non-NaN point."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2:
        series = np.repeat(series, values.shape[1])
        values = values.ravel()
    keep = ~np.isnan(values)
    total = np.bincount(series, weights=np.where(keep, values, 0.0), minlength=n)
    count = np.bincount(series, weights=keep, minlength=n)
    return np.divide(total, count, out=np.full(n, np.nan), where=count > 0)


def _check_interval(lower: np.ndarray, upper: np.ndarray) -> None:
    if np.any(lower > upper):
        raise ValueError("interval bounds are crossed: lower > upper at some points")


# --------------------------------------------------------------------------- point forecasts
def mae(y: ArrayLike, yhat: ArrayLike) -> float:
    """Mean absolute error."""
    y, yhat = _floats(y, yhat)
    return _mean(np.abs(y - yhat))


def rmse(y: ArrayLike, yhat: ArrayLike) -> float:
    """Root mean squared error (root of the mean over all points)."""
    y, yhat = _floats(y, yhat)
    return float(np.sqrt(_mean((y - yhat) ** 2)))


def smape(y: ArrayLike, yhat: ArrayLike) -> float:
    """M4 sMAPE in 0..200: mean of ``200 |y - yhat| / (|y| + |yhat|)``; 0 where both are 0."""
    return _mean(smape_points(y, yhat))


def smape_points(y: ArrayLike, yhat: ArrayLike) -> np.ndarray:
    """sMAPE of every point (NaN where an input is NaN), before ``smape`` averages them."""
    y, yhat = _floats(y, yhat)
    num = 200.0 * np.abs(y - yhat)
    den = np.abs(y) + np.abs(yhat)
    out = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    out[np.isnan(num) | np.isnan(den)] = np.nan
    return out


def mase_scale(insample: ArrayLike, season: int = 1) -> np.ndarray | float:
    """MASE's scale: mean absolute ``season``-difference along the last axis of ``insample``.

    NaNs (left padding) are skipped; a history not longer than ``season`` (counting its
    non-NaN points) uses ``season`` 1; a scale of 0 or with no differences is NaN. Returns a
    float for one series (``[T]``), else an array with the time axis kept as a unit axis.
    """
    if season < 1:
        raise ValueError(f"season must be >= 1, got {season}")
    hist = np.asarray(insample, dtype=np.float64)
    if hist.ndim == 0:
        raise ValueError("insample must have a time axis")
    scale = _seasonal_mad(hist, season)
    if season > 1:
        short = np.count_nonzero(~np.isnan(hist), axis=-1, keepdims=True) <= season
        scale = np.where(short, _seasonal_mad(hist, 1), scale)
    scale[scale == 0] = np.nan
    return float(scale[0]) if hist.ndim == 1 else scale


def series_mase_scales(history: pd.DataFrame, season: int | Mapping[Any, int] = 1) -> dict[Any, float]:
    """``unique_id -> mase_scale`` of each series' ``y`` in ``history`` (ordered by ``ds``), the
    same values as ``mase_scale`` per series, computed for the whole panel at once.

    ``season`` is one int for all series or a mapping ``unique_id -> season`` (missing ids: 1).
    """
    ordered = history.sort_values(["unique_id", "ds"], kind="stable")
    ids, series, starts = _run_index(ordered["unique_id"])
    if not ids:
        return {}
    m = np.array(
        [season.get(uid, 1) for uid in ids] if isinstance(season, Mapping) else [season] * len(ids),
        dtype=np.int64,
    )
    if np.any(m < 1):
        raise ValueError(f"season must be >= 1, got {int(m[m < 1][0])}")
    y = ordered["y"].to_numpy(np.float64)
    scale = _panel_seasonal_mad(y, series, starts, m)
    if np.any(m > 1):
        valid = np.bincount(series, weights=~np.isnan(y), minlength=len(ids))
        short = valid <= m
        scale = np.where(short, _panel_seasonal_mad(y, series, starts, np.ones_like(m)), scale)
    scale[scale == 0] = np.nan
    return dict(zip(ids, scale.tolist(), strict=True))


def _panel_seasonal_mad(y: np.ndarray, series: np.ndarray, starts: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``_seasonal_mad`` of every series of a panel (rows ``series``-grouped, in time order)."""
    lag = m[series]
    rows = np.arange(len(y))
    has = rows - starts[series] >= lag
    diffs = np.full(len(y), np.nan)
    diffs[has] = np.abs(y[has] - y[rows[has] - lag[has]])
    return _series_mean(diffs, series, len(starts))


def _seasonal_mad(hist: np.ndarray, season: int) -> np.ndarray:
    diffs = np.abs(hist[..., season:] - hist[..., :-season])
    valid = ~np.isnan(diffs)
    count = valid.sum(axis=-1, keepdims=True)
    total = np.where(valid, diffs, 0.0).sum(axis=-1, keepdims=True)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def mase(y: ArrayLike, yhat: ArrayLike, insample: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error.

    ``insample`` is the history with time on its last axis (``[T]`` for one series,
    ``[series, T]`` with ``y`` as ``[series, horizon]``); its ``mase_scale`` must broadcast
    against ``y``. Undefined scale -> those points are NaN.
    """
    scale = np.atleast_1d(mase_scale(insample, season))
    y, yhat, scale = _floats(y, yhat, scale)
    return _mean(np.abs(y - yhat) / scale)


def central_interval(level: float) -> tuple[float, float]:
    """The quantile levels bounding a central interval: ``0.9 -> (0.05, 0.95)``.

    Rounded to 12 digits so that they match the configured quantiles as dictionary keys.
    """
    return round((1.0 - level) / 2.0, 12), round((1.0 + level) / 2.0, 12)


# ------------------------------------------------------------------------------ column names
_QUANTILE_COL = re.compile(r"^q(\d{2,})$")
_DIGITS = 12  # quantile levels are rounded to 12 decimals, as ``central_interval`` rounds them


def quantile_name(q: float) -> str:
    """Column name of the quantile level ``q`` in (0, 1): ``q`` + its decimal digits, at least
    two: 0.05 -> ``q05``, 0.5 -> ``q50``, 0.025 -> ``q025``, 0.975 -> ``q975``, 0.005 -> ``q005``.
    """
    value = round(float(q), _DIGITS)
    if not 0.0 < value < 1.0:
        raise ValueError(f"a quantile level must lie strictly between 0 and 1, got {q}")
    digits = f"{value:.{_DIGITS}f}"[2:].rstrip("0")
    return "q" + digits.ljust(2, "0")


def quantile_level(name: str) -> float | None:
    """The quantile level a column ``name`` spells (``quantile_name``'s inverse), else None.

    Only canonical names count: ``q05`` is 0.05 and ``q005`` 0.005, while ``q5``, ``q500`` (0.5
    is ``q50``) and ``q00`` are not quantile columns.
    """
    match = _QUANTILE_COL.match(str(name))
    if not match:
        return None
    level = float("0." + match.group(1))
    if not 0.0 < level < 1.0 or quantile_name(level) != name:
        return None
    return level


def quantile_columns(columns: Iterable[str]) -> dict[float, str]:
    """The quantile columns among ``columns`` by level, ascending: ``{0.05: "q05", ...}``."""
    out = {}
    for col in columns:
        level = quantile_level(col)
        if level is not None:
            out[level] = col
    return dict(sorted(out.items()))


def interval_pairs(columns: Iterable[str]) -> list[tuple[float, str, str]]:
    """Central intervals among ``columns``: ``(level, lower, upper)`` for every pair of quantile
    columns ``(q, 1 - q)``, widest first: ``["q05", "q50", "q95", "q25", "q75"]`` ->
    ``[(0.9, "q05", "q95"), (0.5, "q25", "q75")]``."""
    quantiles = quantile_columns(columns)
    pairs = []
    for lo, col in quantiles.items():
        level = round(1.0 - 2.0 * lo, 12)
        hi = central_interval(level)[1]
        if lo < 0.5 and hi in quantiles:
            pairs.append((level, col, quantiles[hi]))
    return sorted(pairs, reverse=True)


def level_name(level: float) -> str:
    """Name of a central interval level in percent: 0.9 -> ``90``, 0.975 -> ``97.5``."""
    return f"{round(float(level) * 100, 6):g}"


# --------------------------------------------------------------------- probabilistic forecasts
def pinball(y: ArrayLike, q_pred: ArrayLike, q: ArrayLike) -> float:
    """Mean pinball (quantile) loss of quantile forecasts ``q_pred`` at level(s) ``q`` in [0, 1].

    For several levels at once put them on a trailing axis: ``pinball(y[..., None], Q, qs)``
    with ``Q`` of shape ``[..., len(qs)]``.
    """
    return _mean(_pinball_points(y, q_pred, q))


def _pinball_points(y: ArrayLike, q_pred: ArrayLike, q: ArrayLike) -> np.ndarray:
    qa = np.asarray(q, dtype=np.float64)
    if np.any((qa < 0) | (qa > 1)):
        raise ValueError(f"quantile levels must be in [0, 1], got {qa}")
    y, q_pred, qa = _floats(y, q_pred, qa)
    diff = y - q_pred
    return np.maximum(qa * diff, (qa - 1.0) * diff)


def crps_from_samples(y: ArrayLike, samples: ArrayLike, fair: bool = False) -> float:
    """Mean CRPS of sample forecasts; ``samples`` has the draws on axis 0.

    Energy form ``E|X - y| - 0.5 E|X - X'|`` over the empirical distribution, with the second
    term from sorted samples in O(S log S): ``sum_i (2i - S - 1) x_(i) / S**2``
    (``/ (S (S - 1))`` when ``fair``). A point with any NaN draw is skipped.
    """
    return _mean(_crps_samples_points(y, samples, fair))


def _crps_samples_points(y: ArrayLike, samples: ArrayLike, fair: bool = False) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("samples must have a sample axis 0")
    n = x.shape[0]
    if n == 0 or (fair and n < 2):
        raise ValueError(f"need at least {2 if fair else 1} samples, got {n}")
    y = np.asarray(y, dtype=np.float64)
    shape = np.broadcast_shapes(y.shape, x.shape[1:])
    x = np.sort(np.broadcast_to(x, (n, *shape)), axis=0)
    y = np.broadcast_to(y, shape)
    spread_weight = (2.0 * np.arange(1, n + 1) - n - 1).reshape((n,) + (1,) * len(shape))
    half_spread = (spread_weight * x).sum(axis=0) / (n * (n - 1) if fair else n * n)
    return np.abs(x - y).mean(axis=0) - half_spread


def crps_gaussian(y: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> float:
    """Mean CRPS of Normal(mu, sigma) forecasts (closed form); sigma = 0 gives ``|y - mu|``."""
    return _mean(_crps_gaussian_points(y, mu, sigma))


def _crps_gaussian_points(y: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    y, mu, sigma = _floats(y, mu, sigma)
    if np.any(sigma < 0):
        raise ValueError("sigma must be >= 0")
    err = y - mu
    positive = sigma > 0
    safe = np.where(positive, sigma, 1.0)
    z = err / safe
    crps = safe * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * _INV_SQRT_2PI * np.exp(-0.5 * z * z) - _INV_SQRT_PI)
    return np.where(positive, crps, np.abs(err))


def coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Fraction of points with ``lower <= y <= upper`` (0..1)."""
    return _mean(_coverage_points(y, lower, upper))


def _coverage_points(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> np.ndarray:
    y, lower, upper = _floats(y, lower, upper)
    _check_interval(lower, upper)
    inside = ((y >= lower) & (y <= upper)).astype(np.float64)
    inside[np.isnan(y) | np.isnan(lower) | np.isnan(upper)] = np.nan
    return inside


def interval_width(lower: ArrayLike, upper: ArrayLike) -> float:
    """Mean width ``upper - lower`` of prediction intervals."""
    return _mean(_width_points(lower, upper))


def _width_points(lower: ArrayLike, upper: ArrayLike) -> np.ndarray:
    lower, upper = _floats(lower, upper)
    _check_interval(lower, upper)
    return upper - lower


# ------------------------------------------------------------------------------------ direction
def _labels_probs(labels: ArrayLike, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast labels ``[...]`` against probs ``[..., K]``; return int labels, probs, skip mask."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 0:
        raise ValueError("probs must have the classes on a last axis")
    lab = np.asarray(labels, dtype=np.float64)
    shape = np.broadcast_shapes(lab.shape, p.shape[:-1])
    lab = np.broadcast_to(lab, shape)
    p = np.broadcast_to(p, (*shape, p.shape[-1]))
    skip = np.isnan(lab) | np.isnan(p).any(axis=-1)
    k = p.shape[-1]
    ok = lab[~skip]
    if np.any((ok != np.round(ok)) | (ok < 0) | (ok >= k)):
        raise ValueError(f"labels must be integers in 0..{k - 1}")
    return np.where(skip, 0, lab).astype(np.int64), p, skip


def direction_accuracy(labels: ArrayLike, probs: ArrayLike) -> float:
    """Fraction of points whose most probable class (``argmax`` of ``probs``) equals the label."""
    return _mean(direction_hits(labels, probs))


def direction_hits(labels: ArrayLike, probs: ArrayLike) -> np.ndarray:
    """Per point, 1.0 where the most probable class is the label, else 0.0; NaN where skipped
    (``direction_accuracy`` is their mean)."""
    lab, p, skip = _labels_probs(labels, probs)
    hit = (np.argmax(p, axis=-1) == lab).astype(np.float64)
    hit[skip] = np.nan
    return hit


def log_loss(labels: ArrayLike, probs: ArrayLike, eps: float = 1e-15) -> float:
    """Mean negative log-probability of the true class; probabilities are clipped to [eps, 1].

    Rows of ``probs`` must sum to 1 (within 1e-3); they are not renormalised.
    """
    return _mean(_log_loss_points(labels, probs, eps))


def _log_loss_points(labels: ArrayLike, probs: ArrayLike, eps: float = 1e-15) -> np.ndarray:
    lab, p, skip = _labels_probs(labels, probs)
    sums = p.sum(axis=-1)
    if np.any(np.abs(sums[~skip] - 1.0) > 1e-3):
        raise ValueError("probabilities must sum to 1 over the last axis")
    true_p = np.take_along_axis(p, lab[..., None], axis=-1)[..., 0]
    loss = -np.log(np.clip(true_p, eps, 1.0))
    loss[skip] = np.nan
    return loss


def climatology(labels: ArrayLike, classes: int = 3) -> np.ndarray:
    """The climatological class frequencies ``[classes]`` of ``labels`` (NaN skipped): the
    constant direction forecast that a model's probabilities must beat on the same points."""
    lab = np.asarray(labels, dtype=np.float64)
    lab = lab[~np.isnan(lab)].astype(np.int64)
    if not len(lab):
        return np.full(classes, np.nan)
    return np.bincount(lab, minlength=classes)[:classes] / len(lab)


# ------------------------------------------------------------------------- frame-level scoring
_SAMPLE_COL = re.compile(r"^sample_\d+$")
_DIRECTION_COLS = ("p_down", "p_flat", "p_up")


def _run_index(ids: pd.Series) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """The runs of equal values in ``ids`` (a sorted column): each run's value, each row's run
    number and each run's first row."""
    codes, names = pd.factorize(ids)
    if not len(codes):
        return [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    change = np.r_[True, codes[1:] != codes[:-1]]
    starts = np.flatnonzero(change)
    return [names[codes[a]] for a in starts], np.cumsum(change) - 1, starts


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
    missing = {"unique_id", "ds", "y", point} - set(frame.columns)
    if missing:
        raise ValueError(f"forecast frame lacks columns {sorted(missing)}")
    if frame.duplicated(["unique_id", "ds"]).any():
        raise ValueError("forecast frame has several rows per (unique_id, ds); score one fold at a time")
    quantiles = quantile_columns(frame.columns)
    pairs = interval_pairs(frame.columns)[::-1]  # narrowest first, as the columns were
    sample_cols = [c for c in frame.columns if _SAMPLE_COL.match(str(c))]
    has_direction = "direction" in frame.columns and all(c in frame.columns for c in _DIRECTION_COLS)
    # every metric point-wise on whole columns, then averaged per series (a run of rows)
    frame = frame.sort_values(["unique_id", "ds"])
    ids, series, _ = _run_index(frame["unique_id"])
    n = len(ids)
    y = frame["y"].to_numpy(np.float64)
    yhat = frame[point].to_numpy(np.float64)
    err = np.abs(y - yhat)
    columns: dict[str, Any] = {
        "unique_id": ids,
        "n": np.bincount(series, weights=~np.isnan(y), minlength=n).astype(np.int64),
        "mae": _series_mean(err, series, n),
        "rmse": np.sqrt(_series_mean((y - yhat) ** 2, series, n)),
        "smape": _series_mean(smape_points(y, yhat), series, n),
    }
    if history is not None:
        scales = series_mase_scales(history, season) if n else {}
        scale = np.array([scales.get(uid, np.nan) for uid in ids], dtype=np.float64)
        columns["mase"] = _series_mean(err / scale[series], series, n)
    if sample_cols:
        crps = _crps_samples_points(y, frame[sample_cols].to_numpy(np.float64).T)
        columns["crps"] = _series_mean(crps, series, n)
    elif "std" in frame.columns:
        crps = _crps_gaussian_points(y, yhat, frame["std"].to_numpy(np.float64))
        columns["crps"] = _series_mean(crps, series, n)
    if quantiles:
        q_pred = frame[list(quantiles.values())].to_numpy(np.float64)
        levels = np.fromiter(quantiles, dtype=np.float64)
        columns["quantile_loss"] = _series_mean(_pinball_points(y[:, None], q_pred, levels), series, n)
    for level, lo, hi in pairs:
        lower, upper = frame[lo].to_numpy(np.float64), frame[hi].to_numpy(np.float64)
        name = level_name(level)
        columns[f"coverage_{name}"] = _series_mean(_coverage_points(y, lower, upper), series, n)
        columns[f"width_{name}"] = _series_mean(_width_points(lower, upper), series, n)
    if has_direction:
        labels = frame["direction"].to_numpy(np.float64)
        probs = frame[list(_DIRECTION_COLS)].to_numpy(np.float64)
        columns["direction_accuracy"] = _series_mean(direction_hits(labels, probs), series, n)
        columns["log_loss"] = _series_mean(_log_loss_points(labels, probs), series, n)

    per_series = pd.DataFrame(columns)
    aggregate: dict[str, Any] = {
        col: _mean(per_series[col].to_numpy(np.float64))
        for col in per_series.columns
        if col not in ("unique_id", "n")
    }
    aggregate["n_series"] = len(per_series)
    aggregate["n_points"] = int(per_series["n"].sum()) if len(per_series) else 0
    if history is not None:
        aggregate["mase_n_undefined"] = int(per_series["mase"].isna().sum())
    return per_series, aggregate
