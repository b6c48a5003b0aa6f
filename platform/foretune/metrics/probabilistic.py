"""Probabilistic metrics: pinball loss, CRPS (samples or Gaussian), interval coverage and width."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ._common import ArrayLike, check_interval, floats, mean

_INV_SQRT_PI = 1.0 / np.sqrt(np.pi)


_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def pinball(y: ArrayLike, q_pred: ArrayLike, q: ArrayLike) -> float:
    """Mean pinball (quantile) loss of quantile forecasts ``q_pred`` at level(s) ``q`` in [0, 1].

    For several levels at once put them on a trailing axis: ``pinball(y[..., None], Q, qs)``
    with ``Q`` of shape ``[..., len(qs)]``.
    """
    return mean(pinball_points(y, q_pred, q))


def pinball_points(y: ArrayLike, q_pred: ArrayLike, q: ArrayLike) -> np.ndarray:
    qa = np.asarray(q, dtype=np.float64)
    if np.any((qa < 0) | (qa > 1)):
        raise ValueError(f"quantile levels must be in [0, 1], got {qa}")
    y, q_pred, qa = floats(y, q_pred, qa)
    diff = y - q_pred
    return np.maximum(qa * diff, (qa - 1.0) * diff)


def crps_from_samples(y: ArrayLike, samples: ArrayLike, fair: bool = False) -> float:
    """Mean CRPS of sample forecasts; ``samples`` has the draws on axis 0.

    Energy form ``E|X - y| - 0.5 E|X - X'|`` over the empirical distribution, with the second
    term from sorted samples in O(S log S): ``sum_i (2i - S - 1) x_(i) / S**2``
    (``/ (S (S - 1))`` when ``fair``). A point with any NaN draw is skipped.
    """
    return mean(crps_samples_points(y, samples, fair))


def crps_samples_points(y: ArrayLike, samples: ArrayLike, fair: bool = False) -> np.ndarray:
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
    return mean(crps_gaussian_points(y, mu, sigma))


def crps_gaussian_points(y: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    y, mu, sigma = floats(y, mu, sigma)
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
    return mean(coverage_points(y, lower, upper))


def coverage_points(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> np.ndarray:
    y, lower, upper = floats(y, lower, upper)
    check_interval(lower, upper)
    inside = ((y >= lower) & (y <= upper)).astype(np.float64)
    inside[np.isnan(y) | np.isnan(lower) | np.isnan(upper)] = np.nan
    return inside


def interval_width(lower: ArrayLike, upper: ArrayLike) -> float:
    """Mean width ``upper - lower`` of prediction intervals."""
    return mean(width_points(lower, upper))


def width_points(lower: ArrayLike, upper: ArrayLike) -> np.ndarray:
    lower, upper = floats(lower, upper)
    check_interval(lower, upper)
    return upper - lower
