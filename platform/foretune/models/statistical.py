"""Statistical forecasters (statsforecast's AutoETS, AutoTheta, SeasonalNaive, ...) as ensemble
members and baselines, beside the eight deep architectures.

    model = StatisticalModel("AutoETS")
    fitted = forecast_histories([model], histories, seasons, horizon, series)   # fit where needed
    model = model.with_states(fitted[0].states)       # each series' parameters, plain data
    mean, sigma = model.forecast(new_histories, seasons, horizon, series)   # applied, not refit
    paths = model.paths(new_histories, seasons, horizon, samples, series)   # [S, N, H] levels

A statistical member is estimated once per series, on the first history it forecasts from (the
build: the series' earliest test or validation window), and then *applied* with those
parameters to every later history of the series (statsforecast's ``forward``: a filter pass, no
estimation), the way ``cross_validation(refit=False)`` does. Its parameters per series
(``states``: JSON-ready dicts, ``state_of``) go into the artifact, so ``Ensemble.predict`` applies
them to the new history in milliseconds per series; ``refit=True`` estimates anew. A model whose
parameters this module cannot save (``SAVED_PARAMS`` lists those it can; parameter-free models
such as SeasonalNaive need none) is fit on the first history of each call instead. Its sample
paths are the quantiles of a normal distribution per step whose spread is read off the model's
own central interval. A series a model fails on falls back to ``FALLBACK``.

Series are fit in parallel processes (one per CPU) from ``PARALLEL_SERIES`` series on.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from foretune.errors import ConfigError

#: The model's own central interval (percent) whose width sets each step's spread.
INTERVAL_LEVEL = 80
#: The model a series falls back to when the chosen one fails on it (e.g. too short to fit).
FALLBACK = "Naive"
#: Series fitted in parallel processes (one per CPU) from this many on; below it a process pool
#: costs more than it saves.
PARALLEL_SERIES = 200
#: At most this many processes fit series at once.
MAX_WORKERS = 16
#: The fitted values ``forward`` reads, by statsforecast class: what a saved state keeps.
SAVED_PARAMS: dict[str, tuple[str, ...]] = {
    "AutoETS": ("components", "m", "par", "n_params"),
    **{
        name: ("m", "modeltype", "par")
        for name in ("AutoTheta", "Theta", "OptimizedTheta", "DynamicTheta", "DynamicOptimizedTheta")
    },
}

#: One series' fitted model as plain data: ``{"model": class, "season": m, "params": {...}}``
#: (no ``params``: fit on each call's first history).
State = dict[str, Any]


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


# -- states ----------------------------------------------------------------------------------------
def state_of(model: Any, season: int) -> State:
    """A fitted statsforecast ``model``'s parameters as plain data (see ``State``)."""
    name = type(model).__name__
    state: State = {"model": name, "season": int(season)}
    keys = SAVED_PARAMS.get(name)
    if keys is not None and hasattr(model, "model_"):
        state["params"] = {k: _plain(model.model_[k]) for k in keys}
    return state


def restore(state: State) -> Any:
    """The statsforecast model of ``state``, its parameters set (ready for ``forward``)."""
    (model,) = build_models([state["model"]], int(state.get("season", 1)))
    params = state.get("params")
    if params is not None:
        fitted = _float64(params)  # as fitted: NumPy floats (they promote float32 arithmetic)
        if "components" in fitted:  # ETS: its filter reads the parameters as an array
            fitted["par"] = np.asarray(fitted["par"], dtype=np.float64)
            fitted["fit"] = None  # the optimiser's record: carried through, never read
        model.model_ = fitted
    return model


def _float64(value: Any) -> Any:
    """``value`` with every float leaf of its dicts a ``np.float64``."""
    if isinstance(value, dict):
        return {k: _float64(v) for k, v in value.items()}
    if isinstance(value, float):
        return np.float64(value)
    return value


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready Python data (arrays as lists, NumPy scalars as numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class StatisticalModel:
    """A statsforecast model and its fitted parameters per series (``states``: series id ->
    ``State``); see the module docstring."""

    name: str
    states: dict[str, State] = field(default_factory=dict, compare=False, repr=False)
    #: the last call's results per series (``forecast_histories``)
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def with_states(self, states: dict[str, State]) -> StatisticalModel:
        """The same model with ``states`` (series id -> ``State``)."""
        return StatisticalModel(self.name, dict(states))

    def last_states(self) -> dict[str, State]:
        """The state of each series of the last ``forecast_histories`` call (given or fit)."""
        return {key: entry[1] for key, entry in self._memo.items()}

    def paths(
        self,
        histories: Sequence[np.ndarray],
        seasons: Sequence[int] | np.ndarray,
        horizon: int,
        samples: int,
        series: Sequence[Any] | None = None,
        refit: bool = False,
    ) -> np.ndarray:
        """Level paths ``[samples, N, horizon]`` after each of the ``N`` ``histories`` (levels)."""
        return normal_paths(*self.forecast(histories, seasons, horizon, series, refit), samples)

    def forecast(
        self,
        histories: Sequence[np.ndarray],
        seasons: Sequence[int] | np.ndarray,
        horizon: int,
        series: Sequence[Any] | None = None,
        refit: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Point forecasts and per-step standard deviations ``[N, horizon]``; see
        ``forecast_histories``."""
        (result,) = forecast_histories([self], histories, seasons, horizon, series, refit)
        return result.mean, result.sigma


@dataclass
class Forecasts:
    """One model's forecasts ``[N, H]`` of ``N`` histories and each series' ``State``."""

    mean: np.ndarray
    sigma: np.ndarray
    states: dict[str, State]


def forecast_histories(
    models: Sequence[StatisticalModel],
    histories: Sequence[np.ndarray],
    seasons: Sequence[int] | np.ndarray,
    horizon: int,
    series: Sequence[Any] | None = None,
    refit: bool = False,
) -> list[Forecasts]:
    """Each model's forecasts after each of the ``N`` ``histories`` (levels), and the states.

    ``series[i]`` names history ``i``'s series (None: each its own); the histories of a series
    must be prefixes of each other. Per model and series: its ``states`` entry is applied to
    every history (``refit``: ignored); without one, the model is fit on the series' shortest
    history with ``seasons[i]`` and applied to every one, as ``cross_validation(refit=False)``
    does. A point forecast a model cannot give is the last level, a spread it cannot give 0.
    Each model keeps its last call's forecasts per series, so a series forecast again from the
    same histories (a baseline and a member of the same model at one origin) costs nothing.
    """
    n = len(histories)
    seasons = np.broadcast_to(np.asarray(seasons, dtype=np.int64), (n,))
    keys = [f"#{i}" for i in range(n)] if series is None else [str(s) for s in series]
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    rows_of: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        rows_of.setdefault(key, []).append(i)
    memos: list[dict[str, Any]] = [{} for _ in models]
    tasks: list[Task] = []
    todo: list[tuple[str, str, list[int]]] = []  # series, its tag, the models it misses
    for key, rows in rows_of.items():
        order = sorted(rows, key=lambda r: lengths[r])
        rows_of[key] = order
        longest = np.asarray(histories[order[-1]], dtype=np.float64)
        season = int(seasons[order[0]])
        tag = _tag(longest, lengths[order], season, horizon, refit)
        missing = []
        for j, model in enumerate(models):
            hit = model._memo.get(key)
            if hit is not None and hit[0] == tag:
                memos[j][key] = hit
            else:
                missing.append(j)
        if missing:
            given = tuple((models[j].name, None if refit else models[j].states.get(key)) for j in missing)
            tasks.append((longest, lengths[order], season, given))
            todo.append((key, tag, missing))
    for (key, tag, missing), done in zip(todo, _run(tasks, horizon), strict=True):
        for j, (state, mean, sigma) in zip(missing, done, strict=True):
            memos[j][key] = (tag, state, mean, sigma)
    for model, memo in zip(models, memos, strict=True):
        model._memo.clear()
        model._memo.update(memo)
    return [_gathered(memo, rows_of, histories, horizon) for memo in memos]


def _gathered(
    memo: dict[str, Any], rows_of: dict[str, list[int]], histories: Sequence[np.ndarray], horizon: int
) -> Forecasts:
    """One model's per-series results as ``Forecasts`` of every history (the last level where
    it gave no point forecast, 0 where it gave no spread)."""
    n = len(histories)
    out = Forecasts(np.full((n, horizon), np.nan), np.full((n, horizon), np.nan), {})
    for key, order in rows_of.items():
        _, state, mean, sigma = memo[key]
        out.mean[order], out.sigma[order] = mean, sigma
        out.states[key] = state
    last = np.array([float(h[-1]) for h in histories])
    out.mean = np.where(np.isfinite(out.mean), out.mean, last[:, None])
    out.sigma = np.where(np.isfinite(out.sigma), np.maximum(out.sigma, 0.0), 0.0)
    return out


def _tag(longest: np.ndarray, cuts: np.ndarray, *settings: Any) -> bytes:
    """What a series' forecasts depend on (its histories are prefixes of ``longest``)."""
    h = hashlib.blake2b(repr(settings).encode(), digest_size=16)
    h.update(np.ascontiguousarray(cuts, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(longest).tobytes())
    return h.digest()


# -- the work, per series --------------------------------------------------------------------------
#: One series: its longest history, the lengths to forecast from (ascending), its season and,
#: per model, its name and the state to apply (None: fit on the shortest).
Task = tuple[np.ndarray, np.ndarray, int, tuple[tuple[str, State | None], ...]]
#: Per model of a task: the state used and means and spreads ``[K, H]`` at the task's lengths.
Done = list[tuple[State, np.ndarray, np.ndarray]]


def _run(tasks: list[Task], horizon: int) -> list[Done]:
    """``_work`` over ``tasks``: in this process, or split over one process per CPU."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(cpus, MAX_WORKERS)
    if len(tasks) < PARALLEL_SERIES or workers < 2:
        return _work(tasks, horizon)
    parts = [tasks[w::workers] for w in range(workers)]  # interleaved: long and short series mix
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(_work, parts, [horizon] * workers))
    out: list[Done] = [[] for _ in tasks]
    for w, part in enumerate(results):
        out[w::workers] = part
    return out


def _work(tasks: list[Task], horizon: int) -> list[Done]:
    """Every model of every task (see ``Task``), statsforecast's numeric warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numeric warnings of short or flat series
        return [
            [_series(name, y, cuts, season, given, horizon) for name, given in models]
            for y, cuts, season, models in tasks
        ]


def _series(
    name: str, y: np.ndarray, cuts: np.ndarray, season: int, given: State | None, horizon: int
) -> tuple[State, np.ndarray, np.ndarray]:
    """One model on one series: ``given`` restored (else fit on ``y[:cuts[0]]``, ``FALLBACK``
    if that fails), then applied to ``y[:cut]`` for each cut."""
    if given is not None and "params" in given:
        model, state = restore(given), given
    else:
        model, state = _fit(name if given is None else given["model"], y[: cuts[0]], season)
    mean, sigma = np.full((len(cuts), horizon), np.nan), np.full((len(cuts), horizon), np.nan)
    z = NormalDist().inv_cdf(0.5 + INTERVAL_LEVEL / 200)
    for k, cut in enumerate(cuts):
        try:
            out = _apply(model, y[:cut], horizon)
        except Exception:
            try:  # the parameters do not suit this history (e.g. far shorter): the fallback's
                out = _apply(build_models([FALLBACK], season)[0], y[:cut], horizon)
            except Exception:
                continue  # the caller forecasts the last level
        mean[k] = out["mean"]
        lo, hi = out.get(f"lo-{INTERVAL_LEVEL}"), out.get(f"hi-{INTERVAL_LEVEL}")
        if lo is not None and hi is not None:
            sigma[k] = (np.asarray(hi) - np.asarray(lo)) / (2 * z)
    return state, mean, sigma


def _fit(name: str, y: np.ndarray, season: int) -> tuple[Any, State]:
    """``name`` fit on ``y`` and its state; the ``FALLBACK`` model where the fit fails."""
    (model,) = build_models([name], season)
    try:
        if hasattr(model, "forward"):
            model.fit(y=y)
    except Exception:
        (model,) = build_models([FALLBACK], season)
        model.fit(y=y)
    return model, state_of(model, season)


def _apply(model: Any, y: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """``model``'s forecast after ``y``: its ``forward`` (fitted parameters applied to ``y``), or
    a fit on ``y`` for a model without one."""
    if hasattr(model, "forward"):
        return model.forward(y=y, h=int(horizon), level=[INTERVAL_LEVEL])
    return model.forecast(y=y, h=int(horizon), level=[INTERVAL_LEVEL])
