"""Statistical forecasters (statsforecast's AutoETS, AutoTheta, SeasonalNaive, ...) as ensemble
members, beside the eight deep architectures.

    model = StatisticalModel("AutoETS")
    paths = model.paths(histories, seasons, horizon, samples)   # [S, N, H] level paths

A statistical member has no weights to train: it is fit on the histories it is asked to forecast
from (the validation and test windows' histories at build time, each series' whole history at
predict time), so it is scored on the same windows, weighted by the same greedy selection and
calibrated with the same mixture as the deep members (the way AutoGluon-TimeSeries mixes local
and global models). Its sample paths are the quantiles of a normal distribution per step whose
spread is read off the model's own central interval.

Several histories of one series (``series`` names them; each a prefix of the longest; at least
``FORWARD_FROM`` of them) are forecast as statsforecast's ``cross_validation(refit=False)`` does:
the model is fit once, on the shortest, and applied with those parameters at the later origins
(its ``forward``), which sees no more data than a refit would and costs a filter pass, not a
fit, per origin. A model without ``forward`` is refit at every origin.
"""

from __future__ import annotations

import importlib.util
import inspect
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from foretune.errors import ConfigError

#: The model's own central interval (percent) whose width sets each step's spread.
INTERVAL_LEVEL = 80
#: The model a series falls back to when the chosen one fails on it (e.g. too short to fit).
FALLBACK = "Naive"
#: Histories of one series from which it is fit once and forwarded to the later origins (see the
#: module docstring); with fewer, each is fit (cross-validation forwards at every origin in the
#: span, which costs more than two fits on short series).
FORWARD_FROM = 3
#: Series fitted in parallel processes (statsforecast's ``n_jobs=-1``) from this many on; below
#: it a process pool costs more than it saves.
PARALLEL_SERIES = 200


def statsforecast_available() -> bool:
    """Whether statsforecast can be imported (statistical baselines and members need it)."""
    return importlib.util.find_spec("statsforecast") is not None


def build_models(models: Iterable[str | Any], season: int) -> list[Any]:
    """statsforecast model instances of ``models`` (names in ``statsforecast.models``, built with
    ``season_length=season`` when they take it, or ready instances)."""
    import statsforecast.models as sf_models

    built = []
    for model in models:
        if not isinstance(model, str):
            built.append(model)  # an already-configured statsforecast model instance
            continue
        cls = getattr(sf_models, model, None)
        if not inspect.isclass(cls):
            raise ConfigError(f"statsforecast has no model {model!r}")
        kwargs = {"season_length": season} if "season_length" in inspect.signature(cls).parameters else {}
        built.append(cls(**kwargs))
    return built


def check_names(names: Sequence[str]) -> None:
    """``ConfigError`` naming any of ``names`` that is not a statsforecast model."""
    import statsforecast.models as sf_models

    unknown = [n for n in names if not inspect.isclass(getattr(sf_models, n, None))]
    if unknown:
        raise ConfigError(
            f"ensemble.statistical: {unknown} are not statsforecast models; use names such as "
            "AutoETS, AutoTheta, SeasonalNaive, AutoARIMA, Naive"
        )


def normal_scores(samples: int) -> np.ndarray:
    """Standard normal quantiles at ``(s + 0.5) / samples``: ``samples`` evenly weighted draws."""
    unit = NormalDist()
    return np.array([unit.inv_cdf((s + 0.5) / samples) for s in range(samples)])


def normal_paths(mean: np.ndarray, sigma: np.ndarray, samples: int) -> np.ndarray:
    """``samples`` evenly weighted paths ``[samples, *mean.shape]`` of independent normals per step."""
    return mean[None] + normal_scores(samples).reshape(-1, *([1] * mean.ndim)) * sigma[None]


@dataclass(frozen=True)
class StatisticalModel:
    """A statsforecast model, refit on every history it forecasts from; see the module docstring."""

    name: str

    def paths(
        self,
        histories: Sequence[np.ndarray],
        seasons: Sequence[int] | np.ndarray,
        horizon: int,
        samples: int,
        series: Sequence[Any] | np.ndarray | None = None,
    ) -> np.ndarray:
        """Level paths ``[samples, N, horizon]`` after each of the ``N`` ``histories`` (levels);
        ``series``: see ``forecast``."""
        return normal_paths(*self.forecast(histories, seasons, horizon, series), samples)

    def forecast(
        self,
        histories: Sequence[np.ndarray],
        seasons: Sequence[int] | np.ndarray,
        horizon: int,
        series: Sequence[Any] | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Point forecasts and per-step standard deviations ``[N, horizon]``; see
        ``statistical_forecasts``."""
        return statistical_forecasts([self.name], histories, seasons, horizon, series)[self.name]


def statistical_forecasts(
    names: Sequence[str],
    histories: Sequence[np.ndarray],
    seasons: Sequence[int] | np.ndarray,
    horizon: int,
    series: Sequence[Any] | np.ndarray | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each model's point forecasts and per-step standard deviations ``[N, horizon]`` after each
    of the ``N`` ``histories`` (levels), all models fitted in one statsforecast pass.

    ``seasons[i]`` is history ``i``'s season length. ``series[i]`` names history ``i``'s series
    (None: each its own): the histories of one series must be prefixes of each other, and a
    model is fit once per series (see the module docstring). A series a model fails on gets the
    ``FALLBACK`` model's forecast; a spread a model cannot give (e.g. too few points) is 0, a
    point forecast it cannot give is the last level.
    """
    n = len(histories)
    out = {name: (np.full((n, horizon), np.nan), np.full((n, horizon), np.nan)) for name in names}
    seasons = np.broadcast_to(np.asarray(seasons, dtype=np.int64), (n,))
    keys = np.arange(n) if series is None else np.unique(np.asarray(series), return_inverse=True)[1]
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    forwards = [hasattr(build_models([name], 1)[0], "forward") for name in names]
    for forward in (True, False):
        chosen = [name for name, f in zip(names, forwards, strict=True) if f == forward]
        for season in np.unique(seasons) if chosen else ():
            rows = np.flatnonzero(seasons == season)
            for group, origins in _groups(rows, keys if forward else np.arange(n), lengths):
                longest = [np.asarray(histories[r[-1]], np.float64) for r in group]
                fitted = _fit(chosen, longest, int(season), horizon, origins)
                for name, (m, s) in fitted.items():
                    mean, sigma = out[name]
                    for r, mi, si in zip(group, m, s, strict=True):
                        offsets = lengths[r] - lengths[r[0]]
                        mean[r], sigma[r] = mi[offsets], si[offsets]
    last = np.array([float(h[-1]) for h in histories])
    return {
        name: (
            np.where(np.isfinite(mean), mean, last[:, None]),
            np.where(np.isfinite(sigma), np.maximum(sigma, 0.0), 0.0),
        )
        for name, (mean, sigma) in out.items()
    }


def _groups(rows: np.ndarray, keys: np.ndarray, lengths: np.ndarray) -> list[tuple[list[np.ndarray], int]]:
    """``rows`` as ``(per-series rows shortest first, origins)`` groups, one group per number of
    origins a series' histories span (``cross_validation`` takes one number); a series with
    fewer than ``FORWARD_FROM`` histories gives single histories (one origin each)."""
    by_series: dict[int, list[int]] = {}
    for r in rows:
        by_series.setdefault(int(keys[r]), []).append(int(r))
    groups: dict[int, list[np.ndarray]] = {}
    for members in by_series.values():
        if len(members) < FORWARD_FROM:
            groups.setdefault(1, []).extend(np.array([r]) for r in members)
            continue
        ordered = np.array(sorted(members, key=lambda r: lengths[r]))
        span = int(lengths[ordered[-1]] - lengths[ordered[0]]) + 1
        groups.setdefault(span, []).append(ordered)
    return [(group, span) for span, group in groups.items()]


def _fit(
    names: list[str], histories: list[np.ndarray], season: int, horizon: int, origins: int = 1
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each model's means and spreads ``[N, origins, horizon]``: fit on each history without its
    last ``origins - 1`` points and applied (``forward``) at each later origin."""
    from statsforecast import StatsForecast

    # cross_validation forecasts from the series' last `horizon + origins - 1` cut-offs and
    # reads the actuals after each: pad every history with `horizon` copies of its last level
    padded = [np.concatenate([h, np.full(horizon, h[-1])]) for h in histories] if origins > 1 else histories
    lengths = np.array([len(h) for h in padded])
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(len(padded)), lengths),
            "ds": np.concatenate([np.arange(k) for k in lengths]),
            "y": np.concatenate(padded),
        }
    )
    (fallback,) = build_models([FALLBACK], season)
    forecaster = StatsForecast(
        models=build_models(names, season),
        freq=1,
        n_jobs=-1 if len(histories) * origins >= PARALLEL_SERIES else 1,
        fallback_model=fallback,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numeric warnings of short or flat series
        if origins == 1:
            out = forecaster.forecast(df=frame, h=int(horizon), level=[INTERVAL_LEVEL])
            order = ["unique_id", "ds"]
        else:
            out = forecaster.cross_validation(
                df=frame, h=int(horizon), n_windows=origins, step_size=1, refit=False, level=[INTERVAL_LEVEL]
            )
            order = ["unique_id", "cutoff", "ds"]
    out = out.sort_values(order, kind="stable")
    shape = (len(histories), origins, horizon)
    z = NormalDist().inv_cdf(0.5 + INTERVAL_LEVEL / 200)
    fitted = {}
    for name in names:
        lo = out[f"{name}-lo-{INTERVAL_LEVEL}"].to_numpy(np.float64).reshape(shape)
        hi = out[f"{name}-hi-{INTERVAL_LEVEL}"].to_numpy(np.float64).reshape(shape)
        fitted[name] = (out[name].to_numpy(np.float64).reshape(shape), (hi - lo) / (2 * z))
    return fitted
