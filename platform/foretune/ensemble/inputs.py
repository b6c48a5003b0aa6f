"""Model inputs of an ensemble: each series' last windows, built one way for forecasts and attributions.

    history = read_history(data, transform_kind, covariates, series=None, fill="none", freq=None)
    inputs = build_inputs(history, transform, covariates, windows, scales=None, season=None)
    inputs.windows[w]   # [N, w, F] float32: each series' input, its mask channel last
    inputs.ids          # the N series' ids as the input held them (dtype kept), in input order

Every series with at least one observation gets an input: ``data.windows.model_inputs`` left-pads
a history shorter than a window with zero rows (mask 0), exactly as training windows are built.
Series seen in training use the transform's saved statistics (keys from
``data.validate.series_key``, so ids ``1.0`` find series ``1``); a series it has not seen gets
statistics fit on the history it comes with, in a copy of the transform, and an
``UnseenSeriesWarning`` names it. Everything that feeds the members (``Ensemble.predict``,
attributions) builds its inputs here.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foretune import metrics as M
from foretune.data import (
    DataError,
    RatioTransform,
    SeriesFrame,
    model_inputs,
    read_frame,
    season_lengths,
    validate,
)
from foretune.data.validate import series_key

#: Series an ``UnseenSeriesWarning`` (or a ``DataError``) names before it gives only a count.
SHOWN = 10


class UnseenSeriesWarning(UserWarning):
    """Series that the ensemble was not trained on: their statistics come from the history given."""


@dataclass
class ModelInputs:
    """The last windows of ``N`` series and what a forecast needs to know of each."""

    uids: list[str]  # the series' keys (``series_key`` of their ids), in input order
    windows: dict[int, np.ndarray]  # window length -> [N, window, F]
    transform: RatioTransform  # the given one plus statistics of the series it had not seen
    last: np.ndarray  # [N] last observed level
    last_ds: list[Any]  # [N] last time stamp
    freqs: list[Any]  # [N] frequency
    scale: np.ndarray | None  # [N] MASE scale (NaN: undefined), when ``build_inputs`` got ``scales``
    ids: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))  # [N] original ids
    n_obs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [N] observations
    constant: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # [N] flat by its stats
    unseen: list[str] = field(default_factory=list)  # keys of the series new to the transform
    history: list[np.ndarray] = field(default_factory=list)  # [N] each series' levels (statistical members)
    seasons: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [N] season lengths

    @property
    def fallback(self) -> np.ndarray:
        """[N] series with one observation: nothing to learn from, forecast flat (``predict``)."""
        return self.n_obs == 1

    def names(self, rows: Iterable[int] | np.ndarray) -> str:
        """The original ids of ``rows`` for a message: at most ``SHOWN``, then how many more."""
        rows = list(rows)
        values = [self.ids.iloc[i] for i in rows[:SHOWN]]
        shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values)
        return shown + (f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else "")


def read_history(
    data: pd.DataFrame | str | Path,
    transform_kind: str,
    covariates: Sequence[str],
    series: Sequence[Any] | None = None,
    *,
    fill: str = "none",
    freq: str | int | None = None,
    fallback_freq: str | int | None = None,
) -> SeriesFrame:
    """Read and validate ``data`` (a frame or Parquet path), keeping only ``series`` if given.

    Every series with an observation is kept (``min_length=1``), in input order; ``fill`` and
    ``freq`` are the run's ``data.fill`` and ``data.freq``. ``fallback_freq`` (e.g. the run's most
    common frequency) is the frequency when ``freq`` is None and no series has more than two
    rows, too few to infer one. Raises ``DataError`` naming the requested series that are not in
    ``data`` (ids compare by ``series_key``: 1 and 1.0 match).
    """
    frame = read_frame(data)
    if series:
        wanted = list(dict.fromkeys(series_key(s) for s in series))
        keys = frame["unique_id"].map(series_key) if "unique_id" in frame.columns else pd.Series(dtype=str)
        present = set(keys)
        missing = [s for s in wanted if s not in present]
        if missing:
            shown = ", ".join(sorted(present)[:20]) + (" ..." if len(present) > 20 else "")
            raise DataError(f"series {missing} not in the data; available: {shown}")
        frame = frame[keys.isin(wanted).to_numpy()]
    if freq is None and fallback_freq is not None and "unique_id" in frame.columns and len(frame):
        if frame.groupby("unique_id", sort=False).size().max() <= 2:
            freq = fallback_freq
    return validate(
        frame, transform=transform_kind, min_length=1, covariates=list(covariates), fill=fill, freq=freq
    )


def build_inputs(
    history: SeriesFrame,
    transform: RatioTransform,
    covariates: Sequence[str],
    windows: Iterable[int],
    scales: Mapping[str, float] | None = None,
    season: int | None = None,
) -> ModelInputs:
    """The input of a forecast from the end of every series of ``history``, for each of ``windows``.

    ``scales``: the saved MASE scale per series; when given, ``scale`` holds it for every series
    (for a series without one: fit on its history with ``season``, default the season length of
    its frequency). ``transform`` itself is not modified. Raises ``DataError`` when there is no
    series, or a series' inputs are not finite (e.g. a value <= 0 in a log-ratio series).
    """
    uids = history.series_ids
    if not uids:
        raise DataError("no series to forecast in the given data")
    windows = sorted(set(windows))
    own = copy.copy(transform)
    own.stats = dict(transform.stats)
    ids = history.original_ids(uids)
    each = _each_series(history, own, list(covariates), windows[-1], ids, scales, season)
    inputs = ModelInputs(
        uids=list(uids),
        windows={w: np.ascontiguousarray(each.x[:, -w:]) for w in windows},
        transform=own,
        last=each.last,
        last_ds=each.last_ds,
        freqs=each.freqs,
        scale=None if scales is None else each.scale,
        ids=ids,
        n_obs=each.n_obs,
        constant=np.array([bool(own.stats[u].constant) for u in uids]),
        unseen=[uids[i] for i in each.unseen],
        history=each.levels,
        seasons=each.seasons,
    )
    _check_finite(inputs)
    if each.unseen:
        warnings.warn(
            f"{len(each.unseen)} series the ensemble was not trained on ({inputs.names(each.unseen)}): "
            "their transform statistics and scale were fit on the history given",
            UnseenSeriesWarning,
            stacklevel=3,
        )
    return inputs


@dataclass
class _EachSeries:
    """What ``build_inputs`` reads of each of ``N`` series, in order."""

    x: np.ndarray  # [N, longest window, F] its input
    last: np.ndarray  # [N] last observed level
    last_ds: list[Any]  # [N] its time stamp
    freqs: list[Any]  # [N] frequency
    n_obs: np.ndarray  # [N] observations
    scale: np.ndarray  # [N] MASE scale (NaN without ``scales``)
    seasons: np.ndarray  # [N] season lengths
    levels: list[np.ndarray]  # [N] every level
    unseen: list[int]  # rows of the series new to the transform


def _each_series(
    history: SeriesFrame,
    own: RatioTransform,
    covariates: list[str],
    longest: int,
    ids: pd.Series,
    scales: Mapping[str, float] | None,
    season: int | None,
) -> _EachSeries:
    """Each series' input for the ``longest`` window (a shorter one is its last rows, padding
    included), fitting the statistics of a series ``own`` has not seen into ``own``."""
    uids = history.series_ids
    n, tail = len(uids), longest + 1  # tail: levels the longest window reaches back to
    frame = history.frame
    y_all = frame["y"].to_numpy(np.float64)
    cov_all = frame[covariates].to_numpy(np.float64)
    rows = frame.groupby("unique_id", sort=False).indices
    x: np.ndarray | None = None
    ends, n_obs, scale = np.empty(n, np.int64), np.empty(n, np.int64), np.full(n, np.nan)
    freqs, unseen, levels = [], [], []
    seasons = np.empty(n, np.int64)
    for i, uid in enumerate(uids):
        at = rows[uid]
        y, cov = y_all[at], cov_all[at]
        if uid in own.stats:
            _check_domain(own, uid, y[-tail:], ids, i)
        else:
            own.fit_series(uid, y, cov)
            unseen.append(i)
        row = model_inputs(own, uid, y[-tail:], cov[-tail:], longest)
        if x is None:
            x = np.empty((n, longest, row.shape[-1]), dtype=np.float32)
        x[i] = row
        ends[i], n_obs[i] = at[-1], len(y)
        freqs.append(history.freqs[uid])
        levels.append(y)
        seasons[i] = season_lengths([freqs[-1]], season)[0]
        if scales is not None:
            scale[i] = scales[uid] if uid in scales else M.mase_scale(y, int(seasons[i]))
    assert x is not None
    last_ds = list(frame["ds"].iloc[ends])
    return _EachSeries(x, y_all[ends], last_ds, freqs, n_obs, scale, seasons, levels, unseen)


def _check_domain(transform: RatioTransform, uid: str, y: np.ndarray, ids: pd.Series, i: int) -> None:
    """A series trained as log ratios needs positive recent levels; ``DataError`` names it."""
    if transform.kind_of(uid) == "log_ratio" and (y <= 0).any():
        shown = ids.iloc[i].item() if isinstance(ids.iloc[i], np.generic) else ids.iloc[i]
        raise DataError(
            f"series {shown!r} was trained with the log_ratio transform (positive values only) but "
            f"its recent history has the value {y[y <= 0][0]:g}; check the series' values, or "
            "retrain with data.transform: auto or diff"
        )


def _check_finite(inputs: ModelInputs) -> None:
    """``DataError`` naming the series whose last level or model inputs are not finite."""
    bad = ~np.isfinite(inputs.last)
    for x in inputs.windows.values():
        bad |= ~np.isfinite(x).reshape(len(x), -1).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"the model inputs of {len(rows)} series are not finite (NaN or infinite): "
            f"{inputs.names(rows)}; check their history for extreme values or jumps that overflow "
            "the transform, and rescale or fix them"
        )
