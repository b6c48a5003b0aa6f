"""Split-conformal calibration of central prediction intervals (conformalised quantile regression).

    calibration = calibrate(bounds, y, scale, folds)   # fit on held-out windows, with a report
    calibrated = calibration.apply(bounds, scale)       # per level and horizon step
    Calibration.from_dict(calibration.to_dict())        # calibration.json

CQR (Romano, Patterson & Candes, 2019) moves each raw interval ``[lo, hi]`` of level ``L`` out
(it under-covered) or in (it over-covered) by a quantile of the held-out scores
``max(lo - y, y - hi) / scale``; for exchangeable windows the coverage is then at least ``L``.
With few windows per step (few series), the steps share one quantile of width-normalised
scores (``fit_cqr``), so a handful of windows still give a usable adjustment.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from foretune import metrics as M
from foretune.metrics import level_name

Bounds = dict[float, tuple[np.ndarray, np.ndarray]]
#: Calibration windows per step below which ``fit_cqr`` pools the steps' scores.
POOL_BELOW = 30


def interval_quantiles(levels: Iterable[float]) -> list[float]:
    """The quantile levels ``(1 - L) / 2`` and ``(1 + L) / 2`` of every central interval."""
    return sorted({q for level in levels for q in M.central_interval(level)})


def conformal_quantile(scores: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``scores [n, ...]``: the ``ceil((n+1)(1-alpha))``-th smallest score.

    NaN scores are left out (``n`` counts the rest). Returns ``(Q, n, saturated)`` where
    ``saturated`` marks columns whose rank exceeded ``n``: too few windows for the level (e.g.
    n < 19 at 95%), where the exact conformal bound is infinite and the largest score is used.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = (~np.isnan(scores)).sum(axis=0)
    ordered = np.sort(scores, axis=0)  # NaN last
    rank = np.ceil((n + 1) * (1.0 - alpha) - 1e-9).astype(np.int64)
    saturated = rank > n
    index = np.clip(np.minimum(rank, n) - 1, 0, None)
    q = np.take_along_axis(ordered, index[None], axis=0)[0]
    q = np.where(n > 0, q, np.nan)
    return q, n, saturated


def cqr_scores(
    lower: npt.ArrayLike, upper: npt.ArrayLike, y: npt.ArrayLike, scale: npt.ArrayLike | None = None
) -> np.ndarray:
    """CQR scores ``max(lower - y, y - upper) [/ scale]`` of windows ``[N, H]``; scale ``[N]``.

    Negative inside the interval, positive outside. Dividing by each series' MASE scale puts
    the scores in "typical step changes", so one adjustment serves series of any magnitude,
    including series first seen at predict time. A window whose scale is undefined (NaN or 0:
    a constant history) scores NaN, so the calibration leaves it out.
    """
    lower, upper, y = (np.asarray(a, dtype=np.float64) for a in (lower, upper, y))
    scores = np.maximum(lower - y, y - upper)
    if scale is not None:
        scores = scores / _column(scale)
    return scores


def _column(scale) -> np.ndarray:
    """Scales ``[N]`` as a column ``[N, 1]``, undefined ones (NaN, 0, inf) as NaN."""
    scale = np.asarray(scale, dtype=np.float64).reshape(-1, 1)
    return np.where(np.isfinite(scale) & (scale > 0), scale, np.nan)


def fit_cqr(
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    y: npt.ArrayLike,
    level: float,
    scale: npt.ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjustment per horizon step ``[H]`` for central intervals ``[N, H]`` at ``level``.

    One adjustment per step, so the intervals of step h widen at their own rate. With fewer than
    ``POOL_BELOW`` windows per step (e.g. one series) the steps are pooled: each step's scores
    are divided by its typical raw half-width (``step_widths``), one conformal quantile is taken
    over all ``N x H`` of them, and step h's adjustment is that quantile times its width, never
    negative (so few windows widen intervals that under-cover but do not narrow them). Returns
    the adjustments, the windows scored at each step and whether the rank saturated.
    """
    scores = cqr_scores(lower, upper, y, scale)
    per_step = (~np.isnan(scores)).sum(axis=0)
    if scores.ndim < 2 or not per_step.size or per_step.min() >= POOL_BELOW:
        return conformal_quantile(scores, 1.0 - level)
    widths = step_widths(lower, upper, scores, scale)
    q, n, saturated = conformal_quantile((scores / widths).reshape(-1, 1), 1.0 - level)
    # so few windows (often all from one stretch of time) can show that the intervals are too
    # narrow, but are too few to narrow them below the members' own spread
    q = np.maximum(q, 0.0)
    return q[0] * widths, per_step, np.full(scores.shape[1], saturated[0])


def step_widths(
    lower: npt.ArrayLike, upper: npt.ArrayLike, scores: np.ndarray, scale: npt.ArrayLike | None = None
) -> np.ndarray:
    """Each step's typical raw half-width ``[H]`` (median over windows, in the scores' units),
    where the scores of the steps are pooled; a step whose intervals have no width uses its
    median absolute score instead (and 1 if that is 0 too)."""
    half = (np.asarray(upper, dtype=np.float64) - np.asarray(lower, dtype=np.float64)) / 2
    if scale is not None:
        half = half / _column(scale)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN step
        width = np.nanmedian(np.where(np.isnan(scores), np.nan, half), axis=0)
        fallback = np.nanmedian(np.abs(scores), axis=0)
    width = np.where(np.isfinite(width) & (width > 0), width, fallback)
    return np.where(np.isfinite(width) & (width > 0), width, 1.0)


def apply_cqr(
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    adjustment: npt.ArrayLike,
    scale: npt.ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Widen (``adjustment > 0``) or narrow intervals ``[N, H]`` by ``adjustment [H] * scale [N]``.

    A narrowed interval never crosses: where ``lo > hi`` both become their midpoint. A row whose
    scale is undefined (NaN or 0: a constant history) is left as it is.
    """
    delta = np.asarray(adjustment, dtype=np.float64)
    if scale is not None:
        delta = delta * defined_scale(scale).reshape(-1, 1)
    lo = np.asarray(lower, dtype=np.float64) - delta
    hi = np.asarray(upper, dtype=np.float64) + delta
    crossed = lo > hi
    if crossed.any():
        mid = (lo + hi) / 2
        lo, hi = np.where(crossed, mid, lo), np.where(crossed, mid, hi)
    return lo, hi


def nest(bounds: Bounds, raw: Bounds | None = None) -> Bounds:
    """Make intervals of increasing level nested, and strictly so where ``raw`` (the
    uncalibrated intervals) separates them.

    A bound of a wider level that does not reach beyond the narrower level's is moved out to it
    plus the raw gap between the two levels, scaled as the calibration scaled the narrower
    interval; bounds already beyond are kept. So a calibration that moved the 90% band past the
    95% one never collapses the two (``q025 == q05``) where the samples tell them apart. Without
    ``raw`` the gap is 0 (plain nesting).
    """
    out: Bounds = {}
    previous = None
    for level in sorted(bounds):
        lo, hi = bounds[level]
        if previous is not None:
            lo_in, hi_in = out[previous]
            gap_lo, gap_hi = _raw_gaps(raw, previous, level, hi_in - lo_in)
            lo = np.where(lo < lo_in, lo, lo_in - gap_lo)
            hi = np.where(hi > hi_in, hi, hi_in + gap_hi)
        out[level] = (lo, hi)
        previous = level
    return out


def _raw_gaps(raw: Bounds | None, inner: float, outer: float, width: np.ndarray) -> tuple[Any, Any]:
    """The raw distance between the ``outer`` and ``inner`` levels' bounds, scaled by the ratio of
    the inner interval's calibrated ``width`` to its raw width, unscaled where the calibration
    collapsed it to a point (0 without raw intervals)."""
    if raw is None or inner not in raw or outer not in raw:
        return 0.0, 0.0
    (lo_in, hi_in), (lo_out, hi_out) = raw[inner], raw[outer]
    raw_width = hi_in - lo_in
    with np.errstate(all="ignore"):  # a collapsed inner interval keeps the raw gap itself
        factor = np.where((raw_width > 0) & (width > 0), width / np.where(raw_width > 0, raw_width, 1.0), 1.0)
    return np.maximum(lo_in - lo_out, 0.0) * factor, np.maximum(hi_out - hi_in, 0.0) * factor


@dataclass
class Calibration:
    """Per-level, per-step CQR adjustments; applied by ``Ensemble.predict``.

    ``scaled``: adjustments are in units of each series' MASE scale (in-sample mean absolute
    seasonal difference of its training part); False keeps original units, only sensible for
    series of one scale.
    """

    adjustments: dict[float, np.ndarray]
    scaled: bool = True
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def levels(self) -> list[float]:
        """The calibrated levels, ascending."""
        return sorted(self.adjustments)

    def apply(self, bounds: Bounds, scale: np.ndarray | None) -> Bounds:
        """Calibrated, nested intervals for the raw ``bounds`` (levels without an adjustment
        pass through unchanged; a wider level stays as far beyond a narrower one as in ``bounds``,
        see ``nest``); ``scale [N]`` is each row's series scale when ``scaled``. A row whose scale
        is undefined (NaN or 0: a constant history) keeps its raw interval."""
        out: Bounds = {}
        for level, (lo, hi) in bounds.items():
            adj = self.adjustments.get(level)
            if adj is None:
                out[level] = (lo, hi)
                continue
            adj = adj[: lo.shape[-1]]
            out[level] = apply_cqr(lo, hi, adj, scale if self.scaled else None)
        return nest(out, raw=bounds)

    def to_dict(self) -> dict[str, Any]:
        """The ``calibration.json`` keys (without the report): method, scaled, adjustments."""
        return {
            "method": "cqr",
            "scaled": self.scaled,
            "adjustments": {
                repr(float(level)): [float(v) for v in adj] for level, adj in sorted(self.adjustments.items())
            },
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Calibration:
        """The calibration ``to_dict`` wrote; ``ValueError`` for an unknown method."""
        if state.get("method") != "cqr":
            raise ValueError(f"unknown calibration method {state.get('method')!r}")
        adjustments = {
            float(level): np.asarray(values, dtype=np.float64)
            for level, values in state["adjustments"].items()
        }
        return cls(adjustments, bool(state.get("scaled", True)))


def calibrate(
    bounds: Bounds,
    y: np.ndarray,
    scale: np.ndarray | None = None,
    folds: np.ndarray | None = None,
) -> Calibration:
    """Fit CQR on calibration windows and report coverage before and after, per level.

    ``bounds`` maps each level to raw intervals ``(lo, hi)`` ``[N, H]``; ``y [N, H]`` the actuals;
    ``scale [N]`` the series scale of each window (None = original units). ``after`` is the
    coverage on the same windows (in-sample, >= nominal by construction); with ``folds`` (0/1 per
    window, e.g. earlier/later half of each series' windows) ``after_crossfit`` is the coverage
    of adjustments fit on one fold and applied to the other, an honest out-of-sample estimate.
    Windows of a series without a defined scale (NaN: constant in training) are not fit on and
    keep their raw intervals.
    """
    y = np.asarray(y, dtype=np.float64)
    adjustments, flags = {}, {}
    for level, (lo, hi) in bounds.items():
        q, n, saturated = fit_cqr(lo, hi, y, level, scale)
        adjustments[level] = np.nan_to_num(q, nan=0.0)
        flags[level] = (n, saturated)
    calibration = Calibration(adjustments, scaled=scale is not None)
    after = calibration.apply(bounds, scale)
    crossfit = _crossfit(bounds, y, scale, folds) if folds is not None else None
    report = {}
    for level in sorted(bounds):
        lo, hi = bounds[level]
        n, saturated = flags[level]
        entry = {
            "nominal": float(level),
            "n": int(n.min()) if n.size else 0,
            "before": M.coverage(y, lo, hi),
            "after": M.coverage(y, *after[level]),
            "width_before": _scaled_width(lo, hi, scale),
            "width_after": _scaled_width(*after[level], scale),
            "adjustment": [float(v) for v in adjustments[level]],
            "saturated": bool(saturated.any()),
        }
        if crossfit is not None:
            entry["after_crossfit"] = crossfit[level]
        report[level_name(level)] = entry
    calibration.report = report
    return calibration


def _crossfit(bounds: Bounds, y, scale, folds) -> dict[float, float]:
    folds = np.asarray(folds)
    parts: dict[float, list[tuple[np.ndarray, ...]]] = {level: [] for level in bounds}
    for fold in (0, 1):
        fit_rows, eval_rows = folds != fold, folds == fold
        if not fit_rows.any() or not eval_rows.any():
            return {level: float("nan") for level in bounds}
        part = {lvl: (lo[fit_rows], hi[fit_rows]) for lvl, (lo, hi) in bounds.items()}
        sub = calibrate(part, y[fit_rows], None if scale is None else scale[fit_rows])
        test = {lvl: (lo[eval_rows], hi[eval_rows]) for lvl, (lo, hi) in bounds.items()}
        applied = sub.apply(test, None if scale is None else scale[eval_rows])
        for level, (lo, hi) in applied.items():
            parts[level].append((y[eval_rows], lo, hi))
    return {
        level: M.coverage(*(np.concatenate(arrays) for arrays in zip(*p, strict=True)))
        for level, p in parts.items()
    }


def _scaled_width(lo, hi, scale) -> float:
    if scale is None:
        return M.interval_width(lo, hi)
    return M.interval_width(lo / _column(scale), hi / _column(scale))


def defined_scale(scale: npt.ArrayLike) -> np.ndarray:
    """Series scales with undefined values (NaN, 0, inf) replaced by 0.0: no adjustment there."""
    scale = np.asarray(scale, dtype=np.float64)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 0.0)


def usable_scale(scale: npt.ArrayLike) -> np.ndarray:
    """Series scales with undefined values (NaN, 0: a constant history) replaced by 1.0."""
    scale = np.asarray(scale, dtype=np.float64)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
