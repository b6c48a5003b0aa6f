"""The seed's ratio transform: per-step log-ratios, standardised per series, exactly invertible.

For observations ``y[0..n-1]`` the *change* series has ``n-1`` values:

- ``log_ratio``: ``r[i] = log(y[i+1] / y[i] + eps)`` (needs y > 0; the seed's formula),
- ``diff``:      ``r[i] = y[i+1] - y[i]`` (any sign),
- ``none``:      ``r[i] = y[i+1]`` (the level itself),

and the model sees ``z = (r - mu) / sigma`` with ``mu, sigma`` fit per series on the training part
only. ``integrate`` inverts a path of changes from the last observed level: for ``log_ratio``
``y[t+1] = y[t] * (exp(r) - eps)``, so the round trip is exact up to floating point.

Direction labels (0 down, 1 flat, 2 up) compare the cumulative change from the last observed
value after ``h`` steps with a flat band ``flat_band * scale * sqrt(h)``, where ``scale`` is the
training std of the per-step change: a random walk's spread grows with ``sqrt(h)``, so the band
keeps the classes comparably balanced across the horizon. The state is plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = ("log_ratio", "diff", "none")


@dataclass
class SeriesStats:
    """Standardisation of one series' changes (and covariates), fit on its training part."""

    mu: float
    sigma: float
    scale: float  # std of the per-step change, for the direction band
    cov_mu: list[float] = field(default_factory=list)
    cov_sigma: list[float] = field(default_factory=list)


@dataclass
class RatioTransform:
    """Turns levels into standardised changes and back. One instance per data set."""

    kind: str = "log_ratio"
    eps: float = 1e-10
    flat_band: float = 0.25
    stats: dict[str, SeriesStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    # -- per-step changes ----------------------------------------------------------------------
    def changes(self, y: np.ndarray) -> np.ndarray:
        """The ``n-1`` per-step changes of levels ``y`` (last axis is time)."""
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "log_ratio":
            return np.log(y[..., 1:] / y[..., :-1] + self.eps)
        if self.kind == "diff":
            return np.diff(y, axis=-1)
        return y[..., 1:].copy()

    def integrate(self, last: np.ndarray | float, r: np.ndarray) -> np.ndarray:
        """Levels after each step of the change path ``r[..., H]`` starting from level ``last``."""
        r = np.asarray(r, dtype=np.float64)
        last = np.asarray(last, dtype=np.float64)[..., None]
        if self.kind == "log_ratio":
            return last * np.cumprod(np.exp(r) - self.eps, axis=-1)
        if self.kind == "diff":
            return last + np.cumsum(r, axis=-1)
        return r

    def cumulative_change(self, last: np.ndarray | float, r: np.ndarray) -> np.ndarray:
        """Change from the last observed level after each step (log change for log_ratio)."""
        r = np.asarray(r, dtype=np.float64)
        if self.kind == "none":
            return r - np.asarray(last, dtype=np.float64)[..., None]
        return np.cumsum(r, axis=-1)

    def direction(self, uid: str, last: np.ndarray | float, r: np.ndarray) -> np.ndarray:
        """Direction labels (0 down, 1 flat, 2 up) for change paths ``r[..., H]``."""
        change = self.cumulative_change(last, r)
        steps = np.sqrt(np.arange(1, change.shape[-1] + 1))
        band = self.flat_band * self.stats[uid].scale * steps
        return np.where(change > band, 2, np.where(change < -band, 0, 1)).astype(np.int64)

    # -- fitting and standardising -------------------------------------------------------------
    def fit_series(self, uid: str, y_train: np.ndarray, cov_train: np.ndarray | None = None) -> SeriesStats:
        """Fit (and remember) one series' statistics on its training levels ``y_train``."""
        r = self.changes(y_train)
        mu, sigma = float(r.mean()), _std(r)
        scale = sigma if self.kind != "none" else _std(np.diff(np.asarray(y_train, float)))
        stats = SeriesStats(mu, sigma, scale)
        if cov_train is not None and cov_train.shape[-1]:
            stats.cov_mu = cov_train.mean(axis=0).tolist()
            stats.cov_sigma = [_std(c) for c in cov_train.T]
        self.stats[uid] = stats
        return stats

    def standardize(self, uid: str, r: np.ndarray) -> np.ndarray:
        s = self.stats[uid]
        return (np.asarray(r, dtype=np.float64) - s.mu) / s.sigma

    def unstandardize(self, uid: str, z: np.ndarray) -> np.ndarray:
        s = self.stats[uid]
        return np.asarray(z, dtype=np.float64) * s.sigma + s.mu

    def standardize_covariates(self, uid: str, cov: np.ndarray) -> np.ndarray:
        s = self.stats[uid]
        if not s.cov_mu:
            return np.asarray(cov, dtype=np.float64)
        return (np.asarray(cov, dtype=np.float64) - np.asarray(s.cov_mu)) / np.asarray(s.cov_sigma)

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "eps": self.eps,
            "flat_band": self.flat_band,
            "stats": {uid: vars(s) for uid, s in self.stats.items()},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> RatioTransform:
        stats = {uid: SeriesStats(**s) for uid, s in state["stats"].items()}
        return cls(state["kind"], state["eps"], state["flat_band"], stats)


def _std(values: np.ndarray) -> float:
    """Standard deviation with a floor, so a constant series standardises to zeros, not NaN."""
    s = float(np.std(values))
    return s if s > 1e-12 else 1.0
