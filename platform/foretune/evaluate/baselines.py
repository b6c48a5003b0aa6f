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
``carried`` forecasts with ``models.statistical.StatisticalModel``s, which keep each series'
fitted parameters: a backtest's baselines fit once per series and are applied at later origins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from foretune.data.calendar import Freq, future_index, infer_freq, infer_freqs, season_length, season_lengths
from foretune.errors import ConfigError, DataError
from foretune.models.statistical import (
    PARALLEL_SERIES,
    StatisticalModel,
    build_models,
    forecast_histories,
    statsforecast_available,
)

__all__ = [
    "carried",
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


def _freqs(hist: pd.DataFrame, freq: Freq | None) -> tuple[list[Any], list[Freq | None]]:
    """The series of a sorted history (in order) and each one's frequency: ``freq`` for all, or
    inferred once per distinct time axis (None where it cannot be; ``_freq_error`` says why)."""
    ids = pd.factorize(hist["unique_id"])[1].tolist()
    if freq is not None:
        return ids, [freq] * len(ids)
    found = infer_freqs(hist)
    return ids, [found[uid] for uid in ids]


def _freq_error(uid: Any, hist: pd.DataFrame) -> DataError:
    try:
        infer_freq(hist.loc[hist["unique_id"] == uid, "ds"])
    except ValueError as err:
        return DataError(f"series {uid!r}: {err}")
    raise AssertionError(f"the frequency of series {uid!r} was inferred after all")  # pragma: no cover


class _Panel:
    """A sorted history as arrays: each series a run of rows ``start .. start + size``."""

    def __init__(self, history: pd.DataFrame, freq: Freq | None) -> None:
        hist = _history(history)
        codes = pd.factorize(hist["unique_id"])[0]
        self.hist = hist[codes >= 0]  # rows without a unique_id belong to no series
        codes = codes[codes >= 0]
        self.ids, self.freqs = _freqs(self.hist, freq)
        self.sizes = np.bincount(codes, minlength=len(self.ids)).astype(np.int64)
        self.starts = np.cumsum(self.sizes) - self.sizes
        self.y = self.hist["y"].to_numpy(np.float64)

    def check_freqs(self, upto: int | None = None) -> None:
        """Raise ``DataError`` for the first series (before position ``upto``) without a frequency."""
        for i, f in enumerate(self.freqs[:upto]):
            if f is None:
                raise _freq_error(self.ids[i], self.hist)

    def frame(self, column: str, values: np.ndarray, horizon: int, dtype: Any) -> pd.DataFrame:
        """The long output frame: ``horizon`` rows per series, ``values`` as ``[series, horizon]``."""
        self.check_freqs()
        if not self.ids:
            return pd.DataFrame({"unique_id": [], "ds": [], column: []})
        last = self.hist["ds"].iloc[self.starts + self.sizes - 1].tolist()
        ds = future_index(last, self.freqs, horizon)
        uid = pd.Series(np.repeat(np.asarray(self.ids, dtype=object), horizon)).astype(dtype)
        return pd.DataFrame({"unique_id": uid, "ds": ds, column: values.reshape(-1)})


def naive(history: pd.DataFrame, horizon: int, freq: Freq | None = None) -> pd.DataFrame:
    """Repeat each series' last value ``horizon`` times (column ``Naive``)."""
    _check_horizon(horizon)
    panel = _Panel(history, freq)
    last = panel.y[panel.starts + panel.sizes - 1]
    values = np.repeat(last[:, None], horizon, axis=1)
    return panel.frame(NAIVE, values, horizon, history["unique_id"].dtype)


def seasonal_naive(
    history: pd.DataFrame,
    horizon: int,
    season: int | None = None,
    freq: Freq | None = None,
) -> pd.DataFrame:
    """Repeat each series' last ``season`` values (column ``SeasonalNaive``)."""
    _check_horizon(horizon)
    panel = _Panel(history, freq)
    if season is not None:
        if season < 1 and panel.ids:
            panel.check_freqs(1)
            raise ConfigError(f"season must be >= 1, got {season}")
        m = np.full(len(panel.ids), season, dtype=np.int64)
    else:
        m = season_lengths(panel.freqs)
    short = np.flatnonzero((panel.sizes < m) | np.array([f is None for f in panel.freqs], dtype=bool))
    if short.size:  # the first failing series raises, its frequency first (as one series at a time)
        i = int(short[0])
        panel.check_freqs(i + 1)
        raise DataError(
            f"series {panel.ids[i]!r} has {panel.sizes[i]} points, fewer than one season ({m[i]})"
        )
    ends = panel.starts + panel.sizes
    at = ends[:, None] - m[:, None] + np.arange(horizon)[None, :] % m[:, None]
    values = panel.y[at] if len(panel.ids) else np.zeros((0, horizon))
    return panel.frame(SEASONAL_NAIVE, values, horizon, history["unique_id"].dtype)


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
    ids, freqs = _freqs(hist, freq)
    groups: dict[Freq, list[Any]] = {}
    for uid, f in zip(ids, freqs, strict=True):
        if f is None:
            raise _freq_error(uid, hist)
        groups.setdefault(f, []).append(uid)

    parts = []
    for f, uids in groups.items():
        m = int(season_lengths([f], season)[0])
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


def carried(
    history: pd.DataFrame,
    horizon: int,
    models: Sequence[StatisticalModel],
    season: int | None = None,
    freq: Freq | None = None,
) -> pd.DataFrame:
    """Forecast with ``models`` (one column per model, named as the model), all in one pass.

    Each model applies its fitted state of a series where it has one and is otherwise fit on
    the series' history (``models.statistical.forecast_histories``); the states it fits are
    returned in its ``states`` by the caller's choice (``forecasters.baseline_forecasters``).
    Where a model fails on a series, it gives the ``FALLBACK`` model's forecast.
    """
    _check_horizon(horizon)
    panel = _Panel(history, freq)
    panel.check_freqs()
    seasons = np.asarray(season_lengths(panel.freqs, season), dtype=np.int64)
    levels = [panel.y[a : a + n] for a, n in zip(panel.starts, panel.sizes, strict=True)]
    fitted = forecast_histories(models, levels, seasons, horizon, [str(u) for u in panel.ids])
    out = panel.frame(models[0].name, fitted[0].mean, horizon, history["unique_id"].dtype)
    for model, result in zip(models[1:], fitted[1:], strict=True):
        out[model.name] = result.mean.reshape(-1)
    return out
