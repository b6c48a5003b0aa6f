"""Statistical forecasters (statsforecast's AutoETS, AutoTheta, SeasonalNaive, ...) as ensemble
members, beside the eight deep architectures.

    model = StatisticalModel("AutoETS")
    paths = model.paths(histories, seasons, horizon, samples)   # [S, N, H] level paths

A statistical member has no weights to train: it is fit on each history it is asked to forecast
from (a validation or test window's history at build time, each series' whole history at
predict time), so it is scored on the same windows, weighted by the same greedy selection and
calibrated with the same mixture as the deep members (the way AutoGluon-TimeSeries mixes local
and global models). Its sample paths are the quantiles of a normal distribution per step whose
spread is read off the model's own central interval.
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


@dataclass(frozen=True)
class StatisticalModel:
    """A statsforecast model, refit on every history it forecasts from; see the module docstring."""

    name: str

    def paths(
        self, histories: Sequence[np.ndarray], seasons: Sequence[int] | np.ndarray, horizon: int, samples: int
    ) -> np.ndarray:
        """Level paths ``[samples, N, horizon]`` after each of the ``N`` ``histories`` (levels)."""
        mean, sigma = self.forecast(histories, seasons, horizon)
        return mean[None] + normal_scores(samples)[:, None, None] * sigma[None]

    def forecast(
        self, histories: Sequence[np.ndarray], seasons: Sequence[int] | np.ndarray, horizon: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Point forecasts and per-step standard deviations ``[N, horizon]``.

        ``seasons[i]`` is history ``i``'s season length. A series the model fails on gets the
        ``FALLBACK`` model's forecast; a spread the model cannot give (e.g. too few points) is 0,
        a point forecast it cannot give is the last level.
        """
        n = len(histories)
        mean, sigma = np.full((n, horizon), np.nan), np.full((n, horizon), np.nan)
        seasons = np.broadcast_to(np.asarray(seasons, dtype=np.int64), (n,))
        for season in np.unique(seasons):
            rows = np.flatnonzero(seasons == season)
            mean[rows], sigma[rows] = self._fit(
                [np.asarray(histories[i], np.float64) for i in rows], int(season), horizon
            )
        last = np.array([float(h[-1]) for h in histories])
        mean = np.where(np.isfinite(mean), mean, last[:, None])
        sigma = np.where(np.isfinite(sigma), np.maximum(sigma, 0.0), 0.0)
        return mean, sigma

    def _fit(self, histories: list[np.ndarray], season: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        from statsforecast import StatsForecast

        lengths = np.array([len(h) for h in histories])
        frame = pd.DataFrame(
            {
                "unique_id": np.repeat(np.arange(len(histories)), lengths),
                "ds": np.concatenate([np.arange(k) for k in lengths]),
                "y": np.concatenate(histories),
            }
        )
        (fallback,) = build_models([FALLBACK], season)
        forecaster = StatsForecast(
            models=build_models([self.name], season),
            freq=1,
            n_jobs=-1 if len(histories) >= PARALLEL_SERIES else 1,
            fallback_model=fallback,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numeric warnings of short or flat series
            out = forecaster.forecast(df=frame, h=int(horizon), level=[INTERVAL_LEVEL])
        out = out.sort_values(["unique_id", "ds"], kind="stable")
        shape = (len(histories), horizon)
        mean = out[self.name].to_numpy(np.float64).reshape(shape)
        lo = out[f"{self.name}-lo-{INTERVAL_LEVEL}"].to_numpy(np.float64).reshape(shape)
        hi = out[f"{self.name}-hi-{INTERVAL_LEVEL}"].to_numpy(np.float64).reshape(shape)
        z = NormalDist().inv_cdf(0.5 + INTERVAL_LEVEL / 200)
        return mean, (hi - lo) / (2 * z)
