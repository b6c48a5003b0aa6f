"""What the backtest evaluates: anything with ``predict(history, horizon=H)``, and adapters to it.

A *forecaster* takes a long history frame ``unique_id, ds, y, [covariates]`` and returns a long
frame ``unique_id, ds, mean`` with, optionally, ``std``, quantile columns ``qNN``, sample
columns ``sample_0 ..`` and direction probabilities ``p_down, p_flat, p_up`` (what
``Ensemble.predict`` returns; ``foretune.ensemble.forecasters`` adapts an ensemble to this
protocol). ``as_forecaster`` also adapts a plain function
``f(history, horizon) -> frame``. A forecaster may say how much history it needs before an
origin with ``min_history``: an int, or a function of the series' season length.

``baseline_forecasters()`` builds the named baselines ``foretune evaluate`` compares with an
ensemble; ``transform_direction`` labels paths as the models were trained.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from foretune.data import RatioTransform, RowTransform
from foretune.models.statistical import StatisticalModel

from . import baselines

__all__ = [
    "Forecaster",
    "FunctionForecaster",
    "as_forecaster",
    "baseline_forecasters",
    "required_history",
    "transform_direction",
]

MinHistory = int | Callable[[int], int]
DirectionFn = Callable[[str, np.ndarray, np.ndarray], np.ndarray]
"""``direction(unique_id, history_y, path_y[H]) -> labels[H]`` (0 down, 1 flat, 2 up; NaN = none).

It may also have ``panel(unique_ids, histories, paths[N, H]) -> labels[N, H]``: the same labels
of many series at once (``histories`` maps each id to its history); the backtest uses it when
present."""


@runtime_checkable
class Forecaster(Protocol):
    """Anything that forecasts ``horizon`` steps after the end of each series in ``history``."""

    def predict(self, history: pd.DataFrame, horizon: int) -> pd.DataFrame: ...


@dataclass
class FunctionForecaster:
    """Adapt ``function(history, horizon) -> frame`` whose point forecast is in ``column``."""

    function: Callable[[pd.DataFrame, int], pd.DataFrame]
    column: str = "mean"
    min_history: MinHistory = 1

    def predict(self, history: pd.DataFrame, horizon: int, **_: Any) -> pd.DataFrame:
        out = self.function(history, horizon)
        if self.column != "mean":
            out = out.rename(columns={self.column: "mean"})
        return out


def as_forecaster(obj: Any) -> Forecaster:
    """``obj`` itself if it has ``predict``; a ``FunctionForecaster`` if it is callable."""
    if callable(getattr(obj, "predict", None)):
        return obj
    if callable(obj):
        return FunctionForecaster(obj)
    raise TypeError(
        f"a forecaster needs a predict(history, horizon=...) method or must be callable, "
        f"got {type(obj).__name__}"
    )


def required_history(forecaster: Any, season: int) -> int:
    """Observations ``forecaster`` needs before an origin, for a series of season ``season``."""
    need = getattr(forecaster, "min_history", 1)
    return int(need(season) if callable(need) else need)


# ------------------------------------------------------------------------------------ baselines
def _seasonal_need(season: int | None, series_season: int) -> int:
    return season if season is not None else series_season


def baseline_forecasters(
    season: int | None = None,
    statistical_models: Sequence[str] = ("AutoETS", "AutoTheta"),
    log: Callable[[str], None] | None = print,
    fitted: Mapping[str, StatisticalModel] | None = None,
) -> dict[str, FunctionForecaster]:
    """``naive``, ``seasonal_naive`` and each statsforecast model (when installed), by name.

    ``season`` None uses each series' ``season_length`` of its frequency. Without statsforecast
    the statistical models are left out and ``log`` says so. The statistical models forecast
    together (``_Carried``): each is fit once per series, on the first history it forecasts
    (in a backtest: the first origin), and applied to the later ones, as statsforecast's
    ``cross_validation(refit=False)`` does. A model in ``fitted`` (by name: an ensemble's
    statistical member) uses that one's states instead, so its forecasts are the member's.
    """
    out: dict[str, FunctionForecaster] = {
        "naive": FunctionForecaster(baselines.naive, baselines.NAIVE, 1),
        "seasonal_naive": FunctionForecaster(
            partial(baselines.seasonal_naive, season=season),
            baselines.SEASONAL_NAIVE,
            partial(_seasonal_need, season),
        ),
    }
    if statistical_models and not baselines.statsforecast_available():
        if log:
            log(
                "note: statsforecast is not importable, so the "
                f"{', '.join(statistical_models)} baselines are skipped "
                "(pip install statsforecast to include them)"
            )
        return out
    borrowed = {n: m for n, m in (fitted or {}).items() if n in statistical_models}
    models = {n: borrowed.get(n) or StatisticalModel(n) for n in statistical_models}
    shared = _Carried(models, set(borrowed), season)
    for name in statistical_models:
        out[name] = FunctionForecaster(partial(shared.forecast, name), name, 1)
    return out


@dataclass
class _Carried:
    """The statistical baselines of one ``baseline_forecasters`` call, forecast together.

    The first model asked to forecast a history forecasts all of them in one pass
    (``baselines.carried``: one process pool, each series read once); the others take their
    column while the history and horizon stay the same (one backtest origin). Each model keeps
    the states it fits, so a series is fit once and carried forward; a model in ``borrowed``
    (an ensemble member's) is left as it is.
    """

    models: dict[str, StatisticalModel]
    borrowed: set[str]
    season: int | None
    _key: tuple[pd.DataFrame, int] | None = None
    _joint: pd.DataFrame | None = None

    def forecast(self, name: str, history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        key = history[["unique_id", "ds", "y"]]
        if self._key is None or horizon != self._key[1] or not key.equals(self._key[0]):
            self._key, self._joint = (key.copy(), horizon), None
            self._joint = baselines.carried(history, horizon, list(self.models.values()), self.season)
            for model_name, model in self.models.items():
                if model_name not in self.borrowed:  # carried to the later origins
                    for uid, state in model.last_states().items():
                        model.states.setdefault(uid, state)
        assert self._joint is not None
        return self._joint[["unique_id", "ds", name]].copy()


def transform_direction(transform: RatioTransform) -> DirectionFn:
    """The direction labels of ``transform`` (an ensemble's transform) as a ``DirectionFn``.

    A path's label at step h compares its cumulative change from the last observed level with
    the transform's flat band (``flat_band * scale * sqrt(h)``), the definition the models were
    trained on. A series the transform has not seen gets its band scale fit on the history it
    comes with (as ``Ensemble.predict`` does). Steps whose change is not finite (e.g. a
    non-positive level under ``log_ratio``) are NaN.
    """

    def label(uid: str, history: np.ndarray, path: np.ndarray) -> np.ndarray:
        t = transform
        history = np.asarray(history, dtype=np.float64)
        if uid not in t.stats:
            t = copy.deepcopy(transform)
            t.fit_series(uid, history)
        last = history[-1]
        with np.errstate(all="ignore"):
            kind = t.kind_of(uid)
            r = t.changes(np.concatenate([[last], np.asarray(path, dtype=np.float64)]), kind)
            change = t.cumulative_change(last, r, kind)
            labels = t.direction(uid, last, r).astype(np.float64)
        labels[~np.isfinite(change)] = np.nan
        return labels

    def panel(uids: Sequence[str], histories: Mapping[str, np.ndarray], paths: np.ndarray) -> np.ndarray:
        # the series the transform has seen, all at once with the same formulas (RowTransform)
        paths = np.asarray(paths, dtype=np.float64)
        out = np.full(paths.shape, np.nan)
        seen = np.array([u in transform.stats for u in uids], dtype=bool)
        rows = np.flatnonzero(seen)
        if rows.size:
            ids = [uids[i] for i in rows]
            last = np.array([histories[u][-1] for u in ids], dtype=np.float64)
            view = RowTransform(transform, ids)
            with np.errstate(all="ignore"):
                r = view.ratios(last, paths[rows])
                change = view.view.cumulative_change(last, r, view.kinds)
                labels = view.direction(last, r).astype(np.float64)
            labels[~np.isfinite(change)] = np.nan
            out[rows] = labels
        for i in np.flatnonzero(~seen):
            out[i] = label(uids[i], histories[uids[i]], paths[i])
        return out

    label.panel = panel  # type: ignore[attr-defined]
    return label
