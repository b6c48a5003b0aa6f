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
    "evaluate_forecasts",
    "interval_pairs",
    "interval_width",
    "log_loss",
    "mae",
    "mase",
    "mase_scale",
    "pinball",
    "rmse",
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
    qa = np.asarray(q, dtype=np.float64)
    if np.any((qa < 0) | (qa > 1)):
        raise ValueError(f"quantile levels must be in [0, 1], got {qa}")
    y, q_pred, qa = _floats(y, q_pred, qa)
    diff = y - q_pred
    return _mean(np.maximum(qa * diff, (qa - 1.0) * diff))


def crps_from_samples(y: ArrayLike, samples: ArrayLike, fair: bool = False) -> float:
    """Mean CRPS of sample forecasts; ``samples`` has the draws on axis 0.

    Energy form ``E|X - y| - 0.5 E|X - X'|`` over the empirical distribution, with the second
    term from sorted samples in O(S log S): ``sum_i (2i - S - 1) x_(i) / S**2``
    (``/ (S (S - 1))`` when ``fair``). A point with any NaN draw is skipped.
    """
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
    return _mean(np.abs(x - y).mean(axis=0) - half_spread)


def crps_gaussian(y: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> float:
    """Mean CRPS of Normal(mu, sigma) forecasts (closed form); sigma = 0 gives ``|y - mu|``."""
    y, mu, sigma = _floats(y, mu, sigma)
    if np.any(sigma < 0):
        raise ValueError("sigma must be >= 0")
    err = y - mu
    positive = sigma > 0
    safe = np.where(positive, sigma, 1.0)
    z = err / safe
    crps = safe * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * _INV_SQRT_2PI * np.exp(-0.5 * z * z) - _INV_SQRT_PI)
    return _mean(np.where(positive, crps, np.abs(err)))


def coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Fraction of points with ``lower <= y <= upper`` (0..1)."""
    y, lower, upper = _floats(y, lower, upper)
    _check_interval(lower, upper)
    inside = ((y >= lower) & (y <= upper)).astype(np.float64)
    inside[np.isnan(y) | np.isnan(lower) | np.isnan(upper)] = np.nan
    return _mean(inside)


def interval_width(lower: ArrayLike, upper: ArrayLike) -> float:
    """Mean width ``upper - lower`` of prediction intervals."""
    lower, upper = _floats(lower, upper)
    _check_interval(lower, upper)
    return _mean(upper - lower)


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
    lab, p, skip = _labels_probs(labels, probs)
    hit = (np.argmax(p, axis=-1) == lab).astype(np.float64)
    hit[skip] = np.nan
    return _mean(hit)


def log_loss(labels: ArrayLike, probs: ArrayLike, eps: float = 1e-15) -> float:
    """Mean negative log-probability of the true class; probabilities are clipped to [eps, 1].

    Rows of ``probs`` must sum to 1 (within 1e-3); they are not renormalised.
    """
    lab, p, skip = _labels_probs(labels, probs)
    sums = p.sum(axis=-1)
    if np.any(np.abs(sums[~skip] - 1.0) > 1e-3):
        raise ValueError("probabilities must sum to 1 over the last axis")
    true_p = np.take_along_axis(p, lab[..., None], axis=-1)[..., 0]
    loss = -np.log(np.clip(true_p, eps, 1.0))
    loss[skip] = np.nan
    return _mean(loss)


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


def _runs(ids: pd.Series) -> tuple[list[Any], list[slice]]:
    """The runs of equal values in ``ids`` (a sorted column): each value and its rows."""
    codes, names = pd.factorize(ids)
    if not len(codes):
        return [], []
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    return [names[codes[a]] for a in starts], [slice(a, b) for a, b in zip(starts, ends, strict=True)]


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
    histories: dict[Any, np.ndarray] = {}
    if history is not None:
        ordered = history.sort_values(["unique_id", "ds"], kind="stable")
        ids, runs = _runs(ordered["unique_id"])
        y_all = ordered["y"].to_numpy(np.float64)
        histories = {uid: y_all[run] for uid, run in zip(ids, runs, strict=True)}

    # each column as one array, each series a run of rows (pandas per group is ~100x slower)
    frame = frame.sort_values(["unique_id", "ds"])
    ids, runs = _runs(frame["unique_id"])
    y_all = frame["y"].to_numpy(np.float64)
    yhat_all = frame[point].to_numpy(np.float64)
    samples_all = frame[sample_cols].to_numpy(np.float64) if sample_cols else None
    std_all = frame["std"].to_numpy(np.float64) if "std" in frame.columns else None
    quantiles_all = frame[list(quantiles.values())].to_numpy(np.float64) if quantiles else None
    levels = np.fromiter(quantiles, dtype=np.float64)
    bounds_all = [
        (level, frame[lo].to_numpy(np.float64), frame[hi].to_numpy(np.float64)) for level, lo, hi in pairs
    ]
    if has_direction:
        labels_all = frame["direction"].to_numpy(np.float64)
        probs_all = frame[list(_DIRECTION_COLS)].to_numpy(np.float64)

    rows = []
    for uid, run in zip(ids, runs, strict=True):
        y = y_all[run]
        yhat = yhat_all[run]
        row: dict[str, Any] = {
            "unique_id": uid,
            "n": int(np.count_nonzero(~np.isnan(y))),
        }
        row.update(mae=mae(y, yhat), rmse=rmse(y, yhat), smape=smape(y, yhat))
        if history is not None:
            h = histories.get(uid)
            if h is None:
                row["mase"] = float("nan")
            else:
                m = season.get(uid, 1) if isinstance(season, Mapping) else season
                row["mase"] = mase(y, yhat, h, season=m)
        if samples_all is not None:
            row["crps"] = crps_from_samples(y, samples_all[run].T)
        elif std_all is not None:
            row["crps"] = crps_gaussian(y, yhat, std_all[run])
        if quantiles_all is not None:
            row["quantile_loss"] = pinball(y[:, None], quantiles_all[run], levels)
        for level, lower, upper in bounds_all:
            name = level_name(level)
            row[f"coverage_{name}"] = coverage(y, lower[run], upper[run])
            row[f"width_{name}"] = interval_width(lower[run], upper[run])
        if has_direction:
            labels, probs = labels_all[run], probs_all[run]
            row["direction_accuracy"] = direction_accuracy(labels, probs)
            row["log_loss"] = log_loss(labels, probs)
        rows.append(row)

    per_series = pd.DataFrame(rows)
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
