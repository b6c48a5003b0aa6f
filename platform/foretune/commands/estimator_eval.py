"""What a fitted ``Foretune`` reports: its out-of-sample backtest, trials, members and future dates.

    ends = fit_ends(frame)                                  # each series' last fit time stamp
    result = backtest_after_fit(ensemble, df, ends)         # scores only what comes after them
    members_table(ensemble)                                 # member, architecture, window, weight, ...
    future = future_frame(ensemble, history, horizon=12)    # unique_id, ds of the next steps

``backtest_after_fit`` is ``foretune evaluate``'s backtest (the ensemble, its uncalibrated view,
each member alone and the baselines, scored by ``foretune.evaluate.backtest``) on the steps of
``df`` after the data the ensemble was fit on, so every score is out of sample by construction:
each series' part after its fit end is cut into windows of the horizon and forecast from
everything before each window (the later windows' histories include the earlier actuals, which
no stage of the fit saw).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from foretune.data import DataError, read_frame, series_key
from foretune.data.calendar import common_freq, future_index
from foretune.ensemble import Ensemble
from foretune.ensemble.forecasters import ensemble_forecasters
from foretune.ensemble.inputs import read_history
from foretune.evaluate.backtest import BacktestResult, backtest
from foretune.evaluate.forecasters import baseline_forecasters, transform_direction

__all__ = ["backtest_after_fit", "fit_ends", "future_frame", "members_table", "missing_future"]

#: The statistical baselines of the backtest (as ``foretune evaluate`` runs them).
STATISTICAL_BASELINES = ("AutoETS", "AutoTheta")


def fit_ends(data: Any) -> pd.DataFrame:
    """``unique_id`` (the series key) and ``ds``: each series' last time stamp in ``data``."""
    frame = read_frame(data)
    keys = frame["unique_id"].map(series_key)
    last = frame.groupby(keys, sort=False)["ds"].max()
    return pd.DataFrame({"unique_id": last.index.astype(str), "ds": last.to_numpy()})


def backtest_after_fit(
    ensemble: Ensemble,
    data: Any,
    ends: pd.DataFrame,
    *,
    members: bool = True,
    samples: int | None = None,
    seed: int | None = None,
    log: Any = print,
) -> BacktestResult:
    """The backtest of ``data``'s steps after each series' fit end in ``ends`` (module doc).

    Windows have the ensemble's horizon and their number is the fewest whole windows any scored
    series has after its end; a series with less than one window after it (or none the ensemble
    was fit on) is left out with a note. When no series has a whole window the horizon shrinks
    to the shortest one. ``DataError`` when nothing of ``data`` lies after the fit."""
    frame = read_frame(data)
    keys = frame["unique_id"].map(series_key)
    frame = frame.assign(_key=keys).sort_values(["_key", "ds"], kind="stable").drop(columns="_key")
    keys = keys.loc[frame.index]
    end = keys.map(dict(zip(ends["unique_id"], ends["ds"], strict=True)))
    after = _later(frame["ds"], end)
    counts = after.groupby(keys, sort=False).sum()
    if not counts.any():
        raise DataError(
            "evaluate scores the steps after the data the model was fit on, and this data has none "
            "after it: pass the series with their actuals beyond the fit (e.g. train and test together)"
        )
    horizon, windows, scored, notes = _windows(counts, ensemble.horizon)
    for note in notes if log else ():
        log(f"note: {note}")
    position = (after.groupby(keys, sort=False).cumsum()).where(after, 0)
    keep = keys.isin(scored) & (position <= horizon * windows)
    trimmed = frame[keep.to_numpy()].reset_index(drop=True)
    season = ((ensemble.config or {}).get("data") or {}).get("season")
    futr = trimmed if ensemble.input_spec.future else None
    forecasters: dict[str, Any] = dict(
        ensemble_forecasters(ensemble, members=members, samples=samples, seed=seed, futr_df=futr)
    )
    forecasters.update(baseline_forecasters(season=season, statistical_models=STATISTICAL_BASELINES, log=log))
    result = backtest(
        forecasters,
        trimmed,
        horizon,
        windows,
        season=season,
        direction=transform_direction(ensemble.transform),
        optional=STATISTICAL_BASELINES,
        log=log,
    )
    result.notes.extend(notes)
    return result


def _later(ds: pd.Series, end: pd.Series) -> pd.Series:
    """Rows whose ``ds`` comes after their series' fit ``end`` (False for a series without one)."""
    known = end.notna().to_numpy()
    out = np.zeros(len(ds), dtype=bool)
    if known.any():
        stamps, ends = as_stamps(ds[known], end[known])
        out[known] = stamps > ends
    return pd.Series(out, index=ds.index)


def as_stamps(values: pd.Series, like: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Both columns of time stamps as comparable arrays: datetimes if either holds them (text is
    parsed), else their own values."""
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_datetime64_any_dtype(like):
        return (
            pd.to_datetime(pd.Series(values)).to_numpy(),
            pd.to_datetime(pd.Series(like)).to_numpy(),
        )
    return pd.Series(values).to_numpy(), pd.Series(like).to_numpy()


def _windows(counts: pd.Series, horizon: int) -> tuple[int, int, list[str], list[str]]:
    """Horizon, number of windows, the scored series and notes, from the steps after each
    series' fit end (``counts``)."""
    present = counts[counts > 0]
    whole = present[present >= horizon]
    notes = []
    if whole.empty:
        horizon = int(present.min())
        whole = present
        notes.append(f"no series has {horizon} steps after the fit: the backtest's horizon is {horizon}")
    short = present.index.difference(whole.index)
    if len(short):
        notes.append(
            f"{len(short)} series (e.g. {short[0]!r}) have fewer than {horizon} steps after the fit "
            "and are left out of the scores"
        )
    unseen = int((counts == 0).sum())
    if unseen:
        notes.append(f"{unseen} series have no steps after the fit (or were not fit) and are left out")
    return horizon, int(whole.min()) // horizon, list(whole.index), notes


def members_table(ensemble: Ensemble) -> pd.DataFrame:
    """One row per member: ``member`` (``"<index>:<architecture>"``, as ``Ensemble.weights``),
    ``architecture, window, weight, trial_id, statistical``, in the ensemble's order."""
    rows = [
        {
            "member": f"{i}:{m.architecture}",
            "architecture": m.architecture,
            "window": int(m.window),
            "weight": float(m.weight),
            "trial_id": m.info.get("trial_id"),
            "statistical": m.statistical,
        }
        for i, m in enumerate(ensemble.members)
    ]
    return pd.DataFrame(rows)


def future_frame(ensemble: Ensemble, data: Any, horizon: int) -> pd.DataFrame:
    """``unique_id, ds``: the next ``horizon`` time stamps of every series of ``data``, as
    ``Ensemble.predict`` dates its forecast (the run's frequency rules), ids as ``data`` holds them."""
    s = ensemble.settings
    history = read_history(
        data,
        ensemble.transform.kind,
        ensemble.input_spec.data_columns,
        fill=s.fill,
        freq=s.freq,
        fallback_freq=common_freq(ensemble.freqs.values()),
    )
    uids = history.series_ids
    last = history.frame.groupby("unique_id", sort=False)["ds"].last()
    ids = history.original_ids(uids)
    return pd.DataFrame(
        {
            "unique_id": ids.repeat(horizon).reset_index(drop=True),
            "ds": future_index([last[u] for u in uids], [history.freqs[u] for u in uids], horizon),
        }
    )


def missing_future(expected: pd.DataFrame, futr_df: Any) -> pd.DataFrame:
    """The rows of ``expected`` (``future_frame``) that ``futr_df`` lacks, ids compared by key."""
    if futr_df is None:
        return expected
    given = read_frame(futr_df)
    stamps, wanted_stamps = as_stamps(given["ds"], expected["ds"])
    have = set(zip(given["unique_id"].map(series_key), stamps, strict=True))
    wanted = zip(expected["unique_id"].map(series_key), wanted_stamps, strict=True)
    lacking = np.fromiter((pair not in have for pair in wanted), dtype=bool, count=len(expected))
    return expected[lacking].reset_index(drop=True)
