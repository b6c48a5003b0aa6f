"""Validate a long frame into a ``SeriesFrame``: typed, sorted, on a regular grid, identity kept.

    data = validate(frame, fill="interpolate")     # SeriesFrame
    data.series_ids, data.freqs                    # str keys in input order, key -> frequency
    data.id_values["3"]                            # the id as the input held it (e.g. the int 3)
    resolve_freqs(frame)                           # only the frequencies validate would give

Rules: series keep their input order and identity (internal keys from ``series_key``); leading
and trailing NaN in ``y`` are dropped; each series is put on its regular grid at ``freq`` (given,
or inferred per series by ``calendar.panel_freqs``; a series too short to tell takes the panel's
most common one); gaps (missing time stamps, NaN) are an error naming the first one unless
``fill`` fills them (``gaps``). Every problem a user can fix raises ``DataError`` naming the
column, series, row or time stamp (``checks``). ``regularize_series`` and ``check_series`` apply
the same rules to one series at a time (the series store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from foretune.errors import DataError

from .calendar import Freq, TimeAxis, axis_of, given_freq, own_freq, panel_freqs, series_freq
from .calendar.axis import MAX_GRID_GROWTH, freq_text, on_grid
from .checks import (
    FILL_HINT,
    FILLS,
    MAX_ABS_VALUE,
    check_domain,
    check_duplicates,
    check_fill,
    check_length,
    check_values,
    covariate_columns,
    numbers,
    parse_ds,
    series_keys,
)
from .frame import SeriesFrame, series_key
from .gaps import observed, regularize
from .io import REQUIRED

__all__ = [
    "FILLS",
    "MAX_ABS_VALUE",
    "MAX_GRID_GROWTH",
    "DataError",
    "RegularSeries",
    "SeriesFrame",
    "check_series",
    "parse_ds",
    "regularize_series",
    "resolve_freqs",
    "series_key",
    "validate",
]


@dataclass(frozen=True)
class RegularSeries:
    """One series on its regular grid: ``ds`` runs from its first to its last observation."""

    ds: pd.Index
    y: np.ndarray
    cov: np.ndarray
    freq: Freq
    inserted: int
    """Time stamps inserted (0 when the series had no missing stamps)."""


@dataclass
class _Rows:
    """A long frame's rows sorted by series (input order), then time, with what was read off them:
    series ``keys[i]`` is observed on rows ``spans[i][0] : spans[i][1]``."""

    keys: list[str]
    id_values: dict[str, Any]
    order: np.ndarray  # the input row of each sorted row
    ticks: np.ndarray
    y: np.ndarray
    cov: np.ndarray
    axis: TimeAxis
    given: Freq | None  # data.freq, checked
    spans: list[tuple[int, int]]


def validate(
    frame: pd.DataFrame,
    *,
    transform: str = "auto",
    min_length: int = 1,
    covariates: list[str] | tuple[str, ...] | None = None,
    fill: str = "none",
    freq: Freq | None = None,
) -> SeriesFrame:
    """Check a long frame and return it typed, ordered, on regular grids, with each frequency.

    ``transform``: an explicit ``log_ratio`` refuses values <= 0 (``auto`` chooses per series
    later). ``min_length``: fewest observations a series needs. ``covariates`` None means every
    extra numeric column. ``fill``: ``none`` (gaps are an error), ``ffill``, ``interpolate``
    (linear in steps) or ``zero``. ``freq``: a pandas alias or an int step used for every
    series; None infers each series' own.
    """
    _check_columns(frame)
    check_fill(fill)
    covs = covariate_columns(frame, covariates)
    rows = _sorted_rows(frame, covs, freq)
    freqs, regular_keys = panel_freqs(rows.keys, rows.ticks, rows.spans, rows.axis, rows.given)
    pieces = []
    for key, (s, e) in zip(rows.keys, rows.spans, strict=True):
        grid, y, cov, inserted = regularize(
            key,
            rows.ticks[s:e],
            rows.y[s:e],
            rows.cov[s:e],
            rows.axis,
            freqs[key],
            fill,
            covs,
            rows.order[s:e],
            key in regular_keys,
        )
        check_length(key, len(y), min_length)
        check_domain(key, y, grid, rows.axis, transform)
        pieces.append((grid, y, cov, inserted))
    return SeriesFrame(
        _assemble(rows.keys, pieces, covs, rows.axis),
        tuple(covs),
        freqs,
        rows.id_values,
        frame["unique_id"].dtype,
    )


def resolve_freqs(frame: pd.DataFrame, freq: Freq | None = None) -> dict[Any, Freq]:
    """Each series' frequency as ``validate(frame, freq=freq)`` resolves it, keyed by the frame's
    own ``unique_id`` values (in input order), without putting the series on their grids.

    For a frame that is already validated this gives its ``SeriesFrame.freqs`` again (a
    ``SeriesFrame`` at hand: read those). Raises ``DataError`` as ``validate`` does.
    """
    _check_columns(frame)
    rows = _sorted_rows(frame, [], freq)
    freqs, _ = panel_freqs(rows.keys, rows.ticks, rows.spans, rows.axis, rows.given)
    return {rows.id_values[key]: f for key, f in freqs.items()}


def regularize_series(
    uid: str,
    ds: Sequence[Any] | np.ndarray | pd.Series | pd.Index,
    y: np.ndarray,
    cov: np.ndarray | None = None,
    *,
    fill: str = "none",
    freq: Freq | None = None,
    fallback_freq: Freq | None = None,
    covariates: Sequence[str] = (),
) -> RegularSeries:
    """One series (sorted, no duplicate ``ds``) put on its regular grid, as ``validate`` does.

    Leading and trailing NaN in ``y`` are dropped; the frequency is ``freq``, else inferred, else
    ``fallback_freq`` (a series of 1-2 observations); gaps follow ``fill``. Raises ``DataError``.
    """
    check_fill(fill)
    axis, ticks = axis_of(parse_ds(pd.Series(ds)))
    y = np.asarray(y, dtype=np.float64)
    cov = np.empty((len(y), 0)) if cov is None else np.asarray(cov, dtype=np.float64).reshape(len(y), -1)
    names = list(covariates) or [f"covariate {i}" for i in range(cov.shape[1])]
    if len(ticks) > 1 and (np.diff(ticks) <= 0).any():
        raise DataError(f"series {uid!r} has unsorted or duplicate time stamps; sort it by ds, one row each")
    check_values(y, cov, names, np.zeros(len(y), np.int64), [uid], ticks, axis)
    first, last = observed(uid, y)
    ticks, y, cov = ticks[first:last], y[first:last], cov[first:last]
    given = given_freq(freq, axis)
    if given is None:
        given = series_freq(uid, ticks, axis, given_freq(fallback_freq, axis))
    rows = np.arange(first, last)
    grid, y, cov, inserted = regularize(uid, ticks, y, cov, axis, given, fill, names, rows, False)
    return RegularSeries(axis.index(grid), y, cov, given, inserted)


def check_series(
    uid: str, ds: np.ndarray, y: np.ndarray, transform: str, min_length: int, *, freq: Freq | None = None
) -> Freq:
    """One series' length, regular spacing and values; returns its frequency. Raises ``DataError``.

    For a series already without gaps (see ``regularize_series``): ``freq`` None infers it.
    """
    y = np.asarray(y, dtype=np.float64)
    axis, ticks = axis_of(parse_ds(pd.Series(ds)))
    check_length(uid, len(y), min_length)
    bad = ~np.isfinite(y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"series {uid!r} has {int(bad.sum())} NaN/inf value(s) of y, the first at "
            f"{axis.stamp(ticks[i])}; {FILL_HINT}"
        )
    check_values(y, np.empty((len(y), 0)), [], np.zeros(len(y), np.int64), [uid], ticks, axis)
    given = given_freq(freq, axis)
    if given is None:
        given = own_freq(uid, ticks, axis)
    if len(ticks) > 1:
        grid = on_grid(uid, ticks, axis, given)
        if len(grid) != len(ticks):
            gap = grid[~np.isin(grid, ticks)][0]
            raise DataError(
                f"series {uid!r} has {len(grid) - len(ticks)} missing time stamp(s) at "
                f"{freq_text(given)}, the first {axis.stamp(gap)}; {FILL_HINT}"
            )
    check_domain(uid, y, ticks, axis, transform)
    return given


def _check_columns(frame: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"required column(s) {missing} missing; long format needs unique_id, ds, y "
            f"(found {list(frame.columns)})"
        )
    if len(frame) == 0:
        raise DataError(
            f"the data is empty: it has the columns {list(frame.columns)} but no rows; give each "
            "series' observations (a row per series and time stamp)"
        )


def _sorted_rows(frame: pd.DataFrame, covs: list[str], freq: Freq | None) -> _Rows:
    """The frame's ids, values and time stamps checked and sorted, each series' observed span
    found; ``DataError`` for the first problem, in the order ``validate`` documents."""
    codes, keys, id_values = series_keys(frame["unique_id"])
    y = numbers(frame["y"], "y")
    cov = np.column_stack([numbers(frame[c], c) for c in covs]) if covs else np.empty((len(frame), 0))
    axis, ticks = axis_of(parse_ds(frame["ds"]))
    given = given_freq(freq, axis)
    check_values(y, cov, covs, codes, keys, ticks, axis)
    order = np.lexsort((ticks, codes))  # stable: series in input order, then time
    codes, ticks, y, cov = codes[order], ticks[order], y[order], cov[order]
    check_duplicates(codes, ticks, keys, order, axis)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, int)
    bounds = np.r_[starts, len(codes)]
    spans = []
    for i, key in enumerate(keys):
        first, last = observed(key, y[bounds[i] : bounds[i + 1]])
        spans.append((bounds[i] + first, bounds[i] + last))
    return _Rows(keys, id_values, order, ticks, y, cov, axis, given, spans)


def _assemble(
    keys: list[str],
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]],
    covs: list[str],
    axis: TimeAxis,
) -> pd.DataFrame:
    """The validated long frame: the series' grids and values one after another."""
    lengths = [len(p[1]) for p in pieces]
    ticks = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.int64)
    out = pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(keys, dtype=object), lengths),
            "ds": axis.index(ticks),
            "y": np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0),
        }
    )
    cov = np.concatenate([p[2] for p in pieces]) if pieces else np.zeros((0, len(covs)))
    for j, c in enumerate(covs):
        out[c] = cov[:, j]
    return out
