"""Pool weighted sample paths into one predictive distribution (weighted mixture)."""

from __future__ import annotations

import numpy as np


def quantile_name(q: float) -> str:
    """Column name of a quantile level: 0.05 -> ``q05``, 0.5 -> ``q50``, 0.975 -> ``q97.5``."""
    pct = round(q * 100, 6)
    return f"q{int(pct):02d}" if float(pct).is_integer() else f"q{pct:g}"


def weighted_moments(samples: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over axis 0 of ``samples [K, ...]`` with sample weights ``[K]`` (sum 1)."""
    w = weights.reshape((-1,) + (1,) * (samples.ndim - 1))
    mean = (w * samples).sum(axis=0)
    var = (w * (samples - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(np.maximum(var, 0.0))


def weighted_quantiles(samples: np.ndarray, weights: np.ndarray, levels) -> np.ndarray:
    """Quantiles ``[len(levels), ...]`` over axis 0 of ``samples`` with sample ``weights``.

    Uses the weighted empirical CDF: the smallest sample whose cumulative weight reaches q.
    """
    order = np.argsort(samples, axis=0)
    sorted_samples = np.take_along_axis(samples, order, axis=0)
    cum = np.cumsum(weights[order], axis=0)
    cum /= cum[-1:]
    out = []
    for q in levels:
        index = (cum < q - 1e-12).sum(axis=0, keepdims=True)
        index = np.minimum(index, len(samples) - 1)
        out.append(np.take_along_axis(sorted_samples, index, axis=0)[0])
    return np.stack(out)
