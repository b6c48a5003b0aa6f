"""Per-step changes of each series, standardised per series and exactly invertible.

For observations ``y[0..n-1]`` the *change* series has ``n-1`` values, by the series' kind:
``log_ratio`` ``r[i] = log(y[i+1] / y[i] + eps)`` (needs y > 0), ``diff`` ``r[i] = y[i+1] - y[i]``,
``none`` ``r[i] = y[i+1]`` (the level itself). ``auto`` (the default) picks ``log_ratio`` for a
strictly positive series and ``diff`` for any other, per series, and saves the choice in its
statistics. The model sees ``z = (r - mu) / sigma``, fit per series on the training part only,
on changes clipped to ``OUTLIER_MADS`` robust standard deviations (1.4826 x MAD) of their median,
so that one jump (a start-up value, a level shift, a data error) does not set a series' drift and
scale; a series whose MAD is 0 (e.g. mostly zero changes) keeps its changes as they are.
The mean change (a series' drift) is shrunk towards zero as if ``drift_prior`` more changes of
zero had been seen (``n / (n + drift_prior)`` of it kept for ``n`` training changes): the drift of
a short series is a noisy estimate that every forecast would add at every step, while the
network reads the recent drift from the window itself. ``integrate`` inverts a path of changes
from the last observed level. Direction labels (0 down, 1 flat, 2 up) compare the cumulative
change after ``h`` steps with ``flat_band * scale * sqrt(h)``.
Fit one series with ``fit_series`` or many at once, vectorised, with ``fit_many``. The state is
plain JSON (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foretune.config import DataConfig, default

from .moments import clip_outliers, segment_moments, series_pairs, std_floored

KINDS = ("log_ratio", "diff", "none")
#: Default ``drift_prior`` (``data.drift_prior``): a series of 100 changes keeps half its drift,
#: one of 1,000 keeps 91%.
DRIFT_PRIOR = float(default(DataConfig, "drift_prior"))
Kind = str | np.ndarray  # one kind, or one per row ([N] for values [..., N, T]) of the values


@dataclass
class SeriesStats:
    """Standardisation of one series' changes (and covariates), fit on its training part."""

    mu: float
    sigma: float
    scale: float  # std of the per-step change, for the direction band
    cov_mu: list[float] = field(default_factory=list)
    cov_sigma: list[float] = field(default_factory=list)
    kind: str = ""  # this series' kind ("" = the transform's); set when the transform is auto
    constant: bool = False  # no change at all in training: forecasts stay flat (sigma ignored)


@dataclass
class RatioTransform:
    """Turns levels into standardised changes and back. One instance per data set."""

    kind: str = "log_ratio"
    eps: float = 1e-10
    flat_band: float = 0.25
    stats: dict[str, SeriesStats] = field(default_factory=dict)
    #: covariate positions passed through as they are (mean 0, sigma 1): calendar and static ones
    unscaled: list[int] = field(default_factory=list)
    #: pseudo-changes of zero drift the mean change is shrunk with (0 = the plain mean)
    drift_prior: float = DRIFT_PRIOR

    def __post_init__(self) -> None:
        assert self.kind in (*KINDS, "auto"), self.kind

    # -- kinds ---------------------------------------------------------------------------------
    def kind_of(self, uid: str) -> str:
        """The kind series ``uid`` was fit with."""
        return self.stats[uid].kind or self.kind

    def kinds(self, uids: Sequence[str]) -> Kind:
        """The kind of each of ``uids``: one string when the transform is not auto, else an array."""
        if self.kind != "auto":
            return self.kind
        return np.array([self.kind_of(u) for u in uids])

    def choose(self, y: np.ndarray) -> str:
        """The kind of a series with levels ``y``: the transform's, or for auto ``log_ratio`` when
        every level is positive, else ``diff``."""
        if self.kind != "auto":
            return self.kind
        return "log_ratio" if np.all(np.asarray(y) > 0) else "diff"

    # -- per-step changes ----------------------------------------------------------------------
    def changes(self, y: np.ndarray, kind: Kind | None = None) -> np.ndarray:
        """The ``n-1`` per-step changes of levels ``y`` (last axis is time)."""
        y = np.asarray(y, dtype=np.float64)

        def one(k: str) -> np.ndarray:
            if k == "log_ratio":
                return np.log(y[..., 1:] / y[..., :-1] + self.eps)
            if k == "diff":
                return np.diff(y, axis=-1)
            return y[..., 1:].copy()

        return self._by_kind(kind, one)

    def integrate(self, last: np.ndarray | float, r: np.ndarray, kind: Kind | None = None) -> np.ndarray:
        """Levels after each step of the change path ``r[..., H]`` starting from level ``last``."""
        r = np.asarray(r, dtype=np.float64)
        last = np.asarray(last, dtype=np.float64)[..., None]

        def one(k: str) -> np.ndarray:
            if k == "log_ratio":
                return last * np.cumprod(np.exp(r) - self.eps, axis=-1)
            if k == "diff":
                return last + np.cumsum(r, axis=-1)
            return np.broadcast_to(r, np.broadcast_shapes(r.shape, last.shape)).copy()

        return self._by_kind(kind, one)

    def cumulative_change(
        self, last: np.ndarray | float, r: np.ndarray, kind: Kind | None = None
    ) -> np.ndarray:
        """Change from the last observed level after each step (log change for log_ratio)."""
        r = np.asarray(r, dtype=np.float64)

        def one(k: str) -> np.ndarray:
            if k == "none":
                return r - np.asarray(last, dtype=np.float64)[..., None]
            return np.cumsum(r, axis=-1)

        return self._by_kind(kind, one)

    def _by_kind(self, kind: Kind | None, one) -> np.ndarray:
        """``one(kind)`` for one kind; for a kind per row, each row's own result."""
        kind = self.kind if kind is None else kind
        if isinstance(kind, str):
            assert kind in KINDS, f"a {kind!r} transform needs each series' kind"
            return one(kind)
        kind = np.asarray(kind)
        if kind.size == 0:
            return one("diff")  # no rows: any kind gives the right (empty) shape
        out = None
        for k in np.unique(kind):
            with np.errstate(all="ignore"):  # rows of another kind may overflow; they are dropped
                part = one(str(k))
            chosen = (kind == k)[..., None]  # rows are the axis before the last: [..., N, H]
            out = np.where(chosen, part, np.nan if out is None else out)
        return out

    def direction(self, uid: str, last: np.ndarray | float, r: np.ndarray) -> np.ndarray:
        """Direction labels (0 down, 1 flat, 2 up) for change paths ``r[..., H]``."""
        return self.labels(self.stats[uid].scale, last, r, self.kind_of(uid) if uid in self.stats else None)

    def labels(
        self, scale: np.ndarray | float, last: np.ndarray | float, r: np.ndarray, kind: Kind | None = None
    ) -> np.ndarray:
        """``direction`` with the band's ``scale`` given per path (``[N]`` for ``r [N, H]``)."""
        change = self.cumulative_change(last, r, kind)
        steps = np.sqrt(np.arange(1, change.shape[-1] + 1))
        band = self.flat_band * np.asarray(scale, dtype=np.float64)[..., None] * steps
        return np.where(change > band, 2, np.where(change < -band, 0, 1)).astype(np.int64)

    # -- fitting and standardising -------------------------------------------------------------
    def fit_series(
        self, uid: str, y_train: np.ndarray, cov_train: np.ndarray | None = None, kind: str | None = None
    ) -> SeriesStats:
        """Fit (and remember) one series' statistics on its training levels ``y_train``.

        ``kind``: the series' kind when the transform is auto (default: ``choose(y_train)``).
        """
        own = kind or self.choose(y_train)
        r = self.changes(y_train, own)
        clipped = clip_outliers(r, np.zeros(r.size, dtype=np.int64), 1)
        mu, sigma = (float(clipped.mean()), std_floored(clipped)) if r.size else (0.0, 1.0)
        scale = sigma if own != "none" else std_floored(np.diff(np.asarray(y_train, float)))
        constant = r.size > 0 and float(np.std(r)) <= 1e-12 and own != "none"
        mu = float(
            self.shrunk_drift(np.asarray(mu), np.asarray(r.size), np.asarray(own), np.asarray(constant))
        )
        stats = SeriesStats(mu, sigma, scale, kind=own if self.kind == "auto" else "", constant=constant)
        if cov_train is not None and cov_train.shape[-1]:
            cov_mu, cov_sigma = cov_train.mean(axis=0), np.array([std_floored(c) for c in cov_train.T])
            stats.cov_mu, stats.cov_sigma = self._scaling(cov_mu, cov_sigma)
        self.stats[uid] = stats
        return stats

    def fit_many(
        self,
        uids: Sequence[str],
        offsets: np.ndarray,
        y: np.ndarray,
        cov: np.ndarray | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[SeriesStats]:
        """``fit_series`` for many series at once (and remembered), vectorised.

        ``y [N]`` (and ``cov [N, C]``) hold the series' training levels one after the other;
        series ``i`` is ``y[offsets[i] : offsets[i+1]]``. ``kinds``: each series' kind when the
        transform is auto (default: chosen from these levels). Gives ``fit_series``' values up
        to floating-point summation order.
        """
        offsets = np.asarray(offsets, dtype=np.int64)
        y = np.asarray(y, dtype=np.float64)
        n_series = len(offsets) - 1
        seg = np.repeat(np.arange(n_series), np.diff(offsets))
        if self.kind == "auto" and kinds is None:
            kinds = self.choose_many(offsets, y)
        pairs, pair_seg = series_pairs(y, seg)
        series_kind = self.kind if self.kind != "auto" else np.asarray(kinds)
        r = self.changes(pairs, series_kind if isinstance(series_kind, str) else series_kind[pair_seg])[:, 0]
        mu, sigma = segment_moments(clip_outliers(r, pair_seg, n_series), pair_seg, n_series)
        spread = np.sqrt(np.maximum(segment_moments(r**2, pair_seg, n_series)[0] - mu**2, 0.0))
        count = np.bincount(pair_seg, minlength=n_series)
        series_kinds = np.broadcast_to(np.asarray(series_kind), mu.shape)
        exact = (count > 0) & (spread <= 1e-12) & (series_kinds != "none")
        mu = self.shrunk_drift(mu, count, series_kinds, exact)
        if self.kind == "none":
            _, scale = segment_moments(np.diff(pairs, axis=1)[:, 0], pair_seg, n_series)
        else:
            scale = sigma
        n_cov = 0 if cov is None else cov.shape[-1]
        cov_mu = np.zeros((n_series, n_cov))
        cov_sigma = np.zeros((n_series, n_cov))
        for k in range(n_cov):
            cov_mu[:, k], cov_sigma[:, k] = segment_moments(
                np.asarray(cov[:, k], dtype=np.float64), seg, n_series
            )
        out = []
        for i, uid in enumerate(uids):
            own = self.kind if self.kind != "auto" else str(kinds[i])
            constant = bool(exact[i])
            stats = SeriesStats(
                float(mu[i]),
                float(sigma[i]),
                float(scale[i]),
                kind=own if self.kind == "auto" else "",
                constant=constant,
            )
            if n_cov:
                stats.cov_mu, stats.cov_sigma = self._scaling(cov_mu[i], cov_sigma[i])
            self.stats[uid] = stats
            out.append(stats)
        return out

    def shrunk_drift(
        self, mu: np.ndarray, count: np.ndarray, kind: np.ndarray, constant: np.ndarray
    ) -> np.ndarray:
        """Mean changes ``mu`` of ``count`` changes each, shrunk towards zero by ``drift_prior``;
        left as they are where the changes are ``constant`` (an exact drift) or the kind is
        ``none`` (its mean is the mean level)."""
        keep = count / np.maximum(count + self.drift_prior, 1e-12)
        return np.where((kind == "none") | constant, mu, mu * keep)

    def _scaling(self, mu: np.ndarray, sigma: np.ndarray) -> tuple[list[float], list[float]]:
        """Covariate standardisation with the ``unscaled`` positions left as they are."""
        mu, sigma = np.array(mu, dtype=np.float64), np.array(sigma, dtype=np.float64)
        mu[self.unscaled], sigma[self.unscaled] = 0.0, 1.0
        return mu.tolist(), sigma.tolist()

    def choose_many(self, offsets: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``choose`` for each series ``y[offsets[i] : offsets[i+1]]`` (an auto transform)."""
        offsets = np.asarray(offsets, dtype=np.int64)
        n = np.diff(offsets)
        lowest = np.full(len(n), np.inf)
        has = n > 0
        lowest[has] = np.minimum.reduceat(np.asarray(y, dtype=np.float64), offsets[:-1][has])
        return np.where(lowest > 0, "log_ratio", "diff")

    def stat_arrays(self, uids: Sequence[str]) -> dict[str, np.ndarray]:
        """The statistics of ``uids`` as arrays: ``mu, sigma, scale, kind [S]``, ``cov_mu, cov_sigma
        [S, C]`` (C = 0 when the series have no covariates)."""
        stats = [self.stats[uid] for uid in uids]
        n_cov = len(stats[0].cov_mu) if stats else 0
        return {
            "mu": np.array([s.mu for s in stats], dtype=np.float64),
            "sigma": np.array([s.sigma for s in stats], dtype=np.float64),
            "scale": np.array([s.scale for s in stats], dtype=np.float64),
            "kind": np.array([self.kind_of(uid) for uid in uids], dtype=object),
            "cov_mu": np.array([s.cov_mu for s in stats], dtype=np.float64).reshape(len(stats), n_cov),
            "cov_sigma": np.array([s.cov_sigma for s in stats], dtype=np.float64).reshape(len(stats), n_cov),
        }

    def standardize(self, uid: str, r: np.ndarray) -> np.ndarray:
        s = self.stats[uid]
        return (np.asarray(r, dtype=np.float64) - s.mu) / s.sigma

    def unstandardize(self, uid: str, z: np.ndarray) -> np.ndarray:
        s = self.stats[uid]
        sigma = np.where(s.constant, 0.0, s.sigma)  # a constant series' forecast stays flat
        return np.asarray(z, dtype=np.float64) * sigma + s.mu

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
            "unscaled": list(self.unscaled),
            "drift_prior": self.drift_prior,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> RatioTransform:
        stats = {uid: SeriesStats(**s) for uid, s in state["stats"].items()}
        unscaled = list(state.get("unscaled", []))
        # a transform saved before the drift prior had the plain mean
        return cls(
            state["kind"], state["eps"], state["flat_band"], stats, unscaled, state.get("drift_prior", 0.0)
        )


_ROW = "__rows__"


class RowTransform:
    """``transform`` applied row-wise: row ``i`` with the statistics of series ``uids[i]``.

    A view: one ``SeriesStats`` whose fields are column arrays, so the transform's own formulas
    (``unstandardize``, ``integrate``, ``direction``) run vectorised over all series and samples
    at once; no formula is restated here.
    """

    def __init__(self, transform: RatioTransform, uids: Sequence[str] | np.ndarray) -> None:
        uids = np.asarray(uids, dtype=object)
        self.uids = uids  # row i's series
        names, inverse = np.unique(uids, return_inverse=True)
        table = np.array(
            [
                [
                    transform.stats[u].mu,
                    transform.stats[u].sigma,
                    transform.stats[u].scale,
                    transform.stats[u].constant,
                ]
                for u in names
            ],
            dtype=np.float64,
        ).reshape(-1, 4)[inverse]
        column = table.reshape(-1, 4, 1)
        stats = SeriesStats(
            mu=column[:, 0], sigma=column[:, 1], scale=column[:, 2], constant=column[:, 3] > 0
        )
        self.view = RatioTransform(transform.kind, transform.eps, transform.flat_band, {_ROW: stats})
        kinds = transform.kinds(list(names))
        self.kinds = kinds if isinstance(kinds, str) else kinds[inverse]  # each row's kind

    def changes(self, z: np.ndarray) -> np.ndarray:
        """Per-step changes of standardised paths ``z [..., N, H]``."""
        return self.view.unstandardize(_ROW, z)

    def ratios(self, last: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """Per-step changes ``[..., N, H]`` of level paths ``levels`` that start from ``last [N]``
        (the inverse of ``levels``)."""
        start = np.broadcast_to(np.asarray(last, dtype=np.float64)[:, None], (*levels.shape[:-1], 1))
        with np.errstate(all="ignore"):  # a path through a non-positive level of a log-ratio series
            return self.view.changes(np.concatenate([start, levels], axis=-1), self._kinds(levels))

    def levels(self, last: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Level paths ``[..., N, H]`` from last levels ``last [N]`` and changes ``r``."""
        return self.view.integrate(last, r, self._kinds(r))

    def direction(self, last: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Direction labels (0 down, 1 flat, 2 up) of change paths ``r [..., N, H]``."""
        return self.view.labels(self.view.stats[_ROW].scale[:, 0], last, r, self._kinds(r))

    def _kinds(self, r: np.ndarray) -> str | np.ndarray:
        """The rows' kinds shaped to broadcast against ``r [..., N, H]`` (the transform applies a
        kind per entry of its leading axes): ``[1, .., N]``, or the one kind of the transform."""
        if isinstance(self.kinds, str):
            return self.kinds
        return self.kinds.reshape((1,) * (np.ndim(r) - 2) + self.kinds.shape)
