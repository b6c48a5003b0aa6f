"""Baseline forecasters: naive, seasonal naive, and statsforecast's statistical models.

Every baseline takes a long history frame ``unique_id, ds, y`` (other columns are ignored)
and a ``horizon``, and returns a long frame ``unique_id, ds, <model>`` sorted by
``unique_id, ds``, with ``ds`` continuing each series at its own frequency (inferred per
series by ``calendar.infer_freq``, or the ``freq`` argument for all series). Model columns use
statsforecast's names (``Naive``, ``SeasonalNaive``, ``AutoETS``, ...) so frames from
different baselines merge on ``unique_id, ds``.

``season=None`` means ``season_length(freq)`` of each series; pass an int to override.
Seasonal naive needs at least one full season of history and raises otherwise.
statsforecast is optional: ``statsforecast_available()`` says whether ``statistical`` can run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from foretune.data.calendar import Freq, future_dates, infer_freq, season_length
from foretune.errors import ConfigError, DataError
from foretune.models.statistical import PARALLEL_SERIES, build_models, statsforecast_available

__all__ = [
    "naive",
    "season_length",
    "seasonal_naive",
    "statistical",
    "statsforecast_available",
]

NAIVE = "Naive"
SEASONAL_NAIVE = "SeasonalNaive"


def _history(history: pd.DataFrame) -> pd.DataFrame:
    missing = {"unique_id", "ds", "y"} - set(history.columns)
    if missing:
        raise DataError(f"history frame lacks columns {sorted(missing)}")
    if history.duplicated(["unique_id", "ds"]).any():
        raise DataError("history has duplicate (unique_id, ds) rows")
    return history[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"], kind="stable")


def _check_horizon(horizon: int) -> None:
    if int(horizon) != horizon or horizon < 1:
        raise ConfigError(f"horizon must be a positive integer, got {horizon}")


def _series_freq(uid: Any, ds: pd.Series, freq: Freq | None) -> Freq:
    if freq is not None:
        return freq
    try:
        return infer_freq(ds)
    except ValueError as err:
        raise DataError(f"series {uid!r}: {err}") from None


def _per_series(
    history: pd.DataFrame,
    horizon: int,
    freq: Freq | None,
    column: str,
    forecast: Callable[[Any, np.ndarray, Freq], np.ndarray],
) -> pd.DataFrame:
    """Apply ``forecast(uid, y, freq) -> [horizon]`` to each series and stack a long frame."""
    _check_horizon(horizon)
    parts = []
    for uid, g in _history(history).groupby("unique_id", sort=False, observed=True):
        f = _series_freq(uid, g["ds"], freq)
        ds = future_dates(g["ds"].iloc[-1], f, horizon)
        values = forecast(uid, g["y"].to_numpy(np.float64), f)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, column: values}))
    if not parts:
        return pd.DataFrame({"unique_id": [], "ds": [], column: []})
    out = pd.concat(parts, ignore_index=True)
    out["unique_id"] = out["unique_id"].astype(history["unique_id"].dtype)
    return out


def naive(history: pd.DataFrame, horizon: int, freq: Freq | None = None) -> pd.DataFrame:
    """Repeat each series' last value ``horizon`` times (column ``Naive``)."""
    return _per_series(history, horizon, freq, NAIVE, lambda uid, y, f: np.full(horizon, y[-1]))


def seasonal_naive(
    history: pd.DataFrame,
    horizon: int,
    season: int | None = None,
    freq: Freq | None = None,
) -> pd.DataFrame:
    """Repeat each series' last ``season`` values (column ``SeasonalNaive``)."""

    def forecast(uid: Any, y: np.ndarray, f: Freq) -> np.ndarray:
        m = season if season is not None else season_length(f)
        if m < 1:
            raise ConfigError(f"season must be >= 1, got {m}")
        if len(y) < m:
            raise DataError(f"series {uid!r} has {len(y)} points, fewer than one season ({m})")
        return y[len(y) - m + np.arange(horizon) % m]

    return _per_series(history, horizon, freq, SEASONAL_NAIVE, forecast)


def statistical(
    history: pd.DataFrame,
    horizon: int,
    season: int | None = None,
    models: Sequence[str | Any] = ("AutoETS", "AutoTheta"),
    freq: Freq | None = None,
    n_jobs: int | None = None,
    level: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Forecast with statsforecast models, one column per model, all fitted in one pass.

    ``level`` (e.g. ``[80, 90]``) adds each model's own prediction intervals as statsforecast
    names them (``AutoETS-lo-90``, ``AutoETS-hi-90``).

    ``models`` are names in ``statsforecast.models`` (built with ``season_length=season`` when
    they take it) or ready model instances. Series are grouped by frequency, since one
    ``StatsForecast`` takes one ``freq`` (an alias for datetime ``ds``, a step for integer ``ds``).
    ``n_jobs`` is statsforecast's (processes fitting series in parallel); None = every core from
    ``PARALLEL_SERIES`` series on, else 1. Raises ``ImportError`` if statsforecast is not installed.
    """
    if not statsforecast_available():
        raise ImportError(
            "statistical baselines need statsforecast (pip install statsforecast); "
            "naive and seasonal_naive work without it"
        )
    from statsforecast import StatsForecast

    _check_horizon(horizon)
    hist = _history(history)
    freqs = {
        uid: _series_freq(uid, g["ds"], freq)
        for uid, g in hist.groupby("unique_id", sort=False, observed=True)
    }
    groups: dict[Freq, list[Any]] = {}
    for uid, f in freqs.items():
        groups.setdefault(f, []).append(uid)

    parts = []
    for f, uids in groups.items():
        m = season if season is not None else season_length(f)
        jobs = n_jobs if n_jobs is not None else (-1 if len(uids) >= PARALLEL_SERIES else 1)
        sf = StatsForecast(models=build_models(models, m), freq=f, n_jobs=jobs)
        data = hist[hist["unique_id"].isin(uids)]
        try:
            part = sf.forecast(df=data, h=int(horizon), level=list(level) if level else None)
        except Exception as err:
            shortest = int(data.groupby("unique_id", observed=True).size().min())
            err.add_note(
                f"statsforecast on {len(uids)} series with freq {f!r}, the shortest {shortest} points long"
            )
            raise
        parts.append(part.reset_index() if "unique_id" not in part.columns else part)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["unique_id", "ds"], kind="stable", ignore_index=True)
