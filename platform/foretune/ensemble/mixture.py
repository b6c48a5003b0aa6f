"""Pool weighted sample paths into one predictive distribution (weighted mixture).

    mixture = mix(draws, weights, quantile_levels)   # members' Draws; each path weighs w / S
    mixture.mean, mixture.std, mixture.quantiles[q], mixture.intervals(levels)
    mixture.direction("head" | "samples" | "blend")   # p_down, p_flat, p_up

``resample`` turns a weighted sample into an unweighted one (for CRPS and ``sample_*`` columns).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from foretune.metrics import central_interval

from .conformal import Bounds
from .draws import Draws


def weighted_moments(samples: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over axis 0 of ``samples [K, ...]`` with sample weights ``[K]`` (sum 1)."""
    w = weights.reshape((-1,) + (1,) * (samples.ndim - 1))
    mean = (w * samples).sum(axis=0)
    var = (w * (samples - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(np.maximum(var, 0.0))


def weighted_quantiles(samples: np.ndarray, weights: np.ndarray, levels: Iterable[float]) -> np.ndarray:
    """Quantiles ``[len(levels), ...]`` over axis 0 of ``samples`` with sample ``weights``.

    Uses the weighted empirical CDF: the smallest sample whose cumulative weight reaches q.
    """
    # sort along a contiguous last axis (the sample axis moved there), not along axis 0
    moved = np.moveaxis(np.asarray(samples), 0, -1)  # [..., K]
    order = np.argsort(moved, axis=-1)
    sorted_samples = np.take_along_axis(moved, order, axis=-1)
    cum = np.cumsum(np.asarray(weights, dtype=np.float64)[order], axis=-1)
    cum /= cum[..., -1:]
    out = []
    for q in levels:
        index = (cum < q - 1e-12).sum(axis=-1, keepdims=True)
        index = np.minimum(index, moved.shape[-1] - 1)
        out.append(np.take_along_axis(sorted_samples, index, axis=-1)[..., 0])
    return np.stack(out)


def pool(paths: list[np.ndarray], weights: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate members' sample paths ``[S_m, ...]``; each path carries ``weight / S_m``.

    Returns ``(pooled [K, ...], path_weights [K])`` with the path weights summing to 1.
    """
    weights = np.asarray(weights, dtype=np.float64)
    weights = weights / weights.sum()
    path_weights = np.concatenate([np.full(len(p), w / len(p)) for p, w in zip(paths, weights, strict=True)])
    return np.concatenate(paths), path_weights


def resample(samples: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """``size`` unweighted draws from the weighted sample ``samples [K, ...]`` (axis 0).

    Systematic resampling (deterministic: the positions ``(i + 0.5) / size`` on the cumulative
    weights), so every path of weight ``w`` appears about ``w * size`` times.
    """
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    cum /= cum[-1]
    positions = (np.arange(size) + 0.5) / size
    index = np.minimum(np.searchsorted(cum, positions, side="right"), len(samples) - 1)
    return samples[index]


@dataclass
class Mixture:
    """The weighted mixture of members' draws for ``N`` windows or series, ``H`` steps."""

    paths: np.ndarray  # [K, N, H] pooled level paths
    path_weights: np.ndarray  # [K], sum 1
    mean: np.ndarray  # [N, H]
    std: np.ndarray  # [N, H]
    quantiles: dict[float, np.ndarray]  # level -> [N, H]
    head_probs: np.ndarray  # [N, H, 3] weighted direction-head probabilities
    path_probs: np.ndarray | None  # [N, H, 3] weighted fraction of paths per class, if drawn

    def intervals(self, levels: Iterable[float]) -> Bounds:
        """Central intervals ``(lo, hi)`` ``[N, H]`` of the mixture per level (raw quantiles)."""
        bounds: Bounds = {}
        for level in levels:
            lo, hi = central_interval(level)
            bounds[level] = (self.quantiles[lo], self.quantiles[hi])
        return bounds

    def direction(self, source: str) -> np.ndarray:
        """``p_down, p_flat, p_up`` ``[N, H, 3]`` from the heads, the sample paths, or both."""
        assert source in ("head", "samples", "blend"), source
        if source == "head" or self.path_probs is None:
            return self.head_probs
        if source == "samples":
            return self.path_probs
        return 0.5 * (self.head_probs + self.path_probs)


def mix(draws: list[Draws], weights: npt.ArrayLike, levels: Iterable[float]) -> Mixture:
    """Pool members' draws (each path weighted ``weight / S``) and summarise the mixture."""
    weights = np.asarray(weights, dtype=np.float64)
    weights = weights / weights.sum()
    paths, path_weights = pool([d.levels for d in draws], weights)
    mean, std = weighted_moments(paths, path_weights)
    levels = sorted(set(float(q) for q in levels))
    qs = weighted_quantiles(paths, path_weights, levels) if levels else []
    head = sum(w * d.probs for w, d in zip(weights, draws, strict=True))
    path_probs = None
    if all(d.path_probs is not None for d in draws):
        path_probs = sum(w * d.path_probs for w, d in zip(weights, draws, strict=True))
    return Mixture(paths, path_weights, mean, std, dict(zip(levels, qs, strict=True)), head, path_probs)
