"""An ensemble as a backtest forecaster: ``predict(history, horizon)`` with fixed draws and seed.

``ensemble_forecasters(ensemble)`` gives the ensemble, its uncalibrated view and each member
alone as named forecasters (the protocol of ``foretune.evaluate.forecasters``) for the backtest
of ``foretune evaluate`` and the run's report; they share one ``DrawsCache``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .draws import DrawsCache
from .model import Ensemble

MinHistory = int | Callable[[int], int]


@dataclass
class ModelForecaster:
    """Adapt an ``Ensemble`` (``predict(data, horizon=, samples=, seed=)``) to a forecaster.

    ``samples`` and ``seed`` are passed on every call, so each origin is forecast with the same
    number of MC-dropout draws and the run is reproducible.
    """

    model: Ensemble
    samples: int | None = None
    seed: int | None = None
    min_history: MinHistory = 2
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def with_draws(cls, model: Ensemble, draws: int, **kw: Any) -> ModelForecaster:
        """Ask for ``draws`` sample columns of the mixture (none when ``draws`` is 0)."""
        kwargs = {"sample_columns": int(draws)} if draws else {}
        return cls(model, kwargs=kwargs, **kw)

    def predict(self, history: pd.DataFrame, horizon: int, **_: Any) -> pd.DataFrame:
        """The ensemble's forecast of ``history``, ``horizon`` steps ahead."""
        return self.model.predict(
            history, horizon=horizon, samples=self.samples, seed=self.seed, **self.kwargs
        )


def ensemble_forecasters(
    ensemble: Ensemble,
    *,
    members: bool = True,
    samples: int | None = None,
    seed: int | None = None,
    draws: int = 100,
    futr_df: pd.DataFrame | None = None,
) -> dict[str, ModelForecaster]:
    """``{"ensemble": ..., ["ensemble_uncalibrated": ...,] "member0_<arch>": ...}``.

    ``futr_df``: the future-known covariates every forecast reads its horizon from (in a
    backtest, the whole data), for an ensemble that has them.

    A calibrated ensemble is also scored without its calibration (``ensemble_uncalibrated``):
    the calibration moves only the interval bounds, so its draws and sample CRPS are the raw
    mixture's and the difference shows in coverage, widths and quantile loss. Each member is
    scored alone (``Ensemble.member_alone``: weight 1, uncalibrated, as the calibration was fit
    on the mixture) as it enters the ensemble. Each asks for ``draws`` sample columns, so the
    backtest's CRPS comes from samples. They share one ``DrawsCache``: a member's draws for an
    origin are computed once where they are the same (all of them for the uncalibrated view, the
    statistical members' and the first member's for a member alone); the forecasts are exactly
    those without it.
    """
    ensemble = copy.copy(ensemble)  # the caller's ensemble keeps its own (no) cache
    ensemble.draws_cache = DrawsCache()
    longest = max(ensemble.windows)  # the deep members' (a statistical member needs any history)
    common = {"samples": samples, "seed": seed}
    out = {
        "ensemble": ModelForecaster.with_draws(ensemble, draws, min_history=longest + 1, **common),
    }
    if ensemble.calibration is not None:
        out["ensemble_uncalibrated"] = ModelForecaster.with_draws(
            ensemble.without_calibration(), draws, min_history=longest + 1, **common
        )
    for i, member in enumerate(ensemble.members if members else []):
        single = ensemble.member_alone(i)
        name = f"member{i}_{member.architecture}"
        out[name] = ModelForecaster.with_draws(single, draws, min_history=int(member.window) + 1, **common)
    if futr_df is not None and ensemble.input_spec.future:
        for forecaster in out.values():
            forecaster.kwargs["futr_df"] = futr_df
    return out
