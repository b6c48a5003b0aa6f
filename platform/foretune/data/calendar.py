"""Time axis helpers: infer a series' frequency, continue it, and pick a season length.

A *frequency* here is either a pandas offset alias (``"MS"``, ``"QS-OCT"``, ``"W-SUN"``,
``"h"``) for datetime ``ds``, or a positive ``int`` step for integer ``ds`` (``0, 1, 2`` has
step 1; ``1990, 1995, 2000`` has step 5). The same value is what statsforecast's ``freq``
argument accepts, so it can be passed straight through.

Choices:
- Inference is strict: an irregular axis, or a datetime axis with fewer than 3 points (what
  ``pd.infer_freq`` needs), raises ``ValueError``; the caller passes ``freq`` explicitly instead
  of getting a silently wrong guess.
- ``future_dates`` adds the offset to the last date, so an off-anchor last date (e.g. the 15th
  with ``"MS"``) continues with the next anchor (the 1st of the next month).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

__all__ = [
    "Freq",
    "future_dates",
    "future_index",
    "infer_freq",
    "infer_freqs",
    "season_length",
    "series_seasons",
]

Freq = str | int
"""A pandas offset alias for datetime ``ds`` or an integer step for integer ``ds``."""

# Seasonal period of one unit of each offset family (multiples divide it, e.g. "6h" -> 4).
_SEASON_BY_OFFSET: tuple[tuple[type, int], ...] = (
    (pd.offsets.QuarterBegin, 4),
    (pd.offsets.QuarterEnd, 4),
    (pd.offsets.BQuarterBegin, 4),
    (pd.offsets.BQuarterEnd, 4),
    (pd.offsets.MonthBegin, 12),
    (pd.offsets.MonthEnd, 12),
    (pd.offsets.BusinessMonthBegin, 12),
    (pd.offsets.BusinessMonthEnd, 12),
    (pd.offsets.Week, 52),
    (pd.offsets.BusinessDay, 5),
    (pd.offsets.Day, 7),
    (pd.offsets.Hour, 24),
    (pd.offsets.Minute, 24 * 60),  # a daily cycle: 30min -> 48, 15min -> 96, 5min -> 288
    (pd.offsets.Second, 24 * 60 * 60),
)


def _is_integer_axis(ds: Any) -> bool:
    return pd.api.types.is_integer_dtype(np.asarray(ds).dtype)


def infer_freq(ds: Sequence[Any] | np.ndarray | pd.Series | pd.Index) -> Freq:
    """Infer the frequency of one series' ``ds`` values (any order, no duplicates).

    Integer ``ds`` returns its constant step as ``int``; datetime ``ds`` returns
    ``pd.infer_freq``'s alias (e.g. ``"QS-OCT"``). Raises ``ValueError`` when it cannot.
    """
    if _is_integer_axis(ds):
        values = np.unique(np.asarray(ds, dtype=np.int64))
        if len(values) < 2:
            raise ValueError("cannot infer the step of an integer ds with fewer than 2 points; pass freq")
        steps = np.unique(np.diff(values))
        if len(steps) != 1:
            raise ValueError(f"integer ds has irregular steps {steps[:5].tolist()}; pass freq")
        return int(steps[0])
    index = pd.DatetimeIndex(pd.to_datetime(np.asarray(ds))).sort_values()
    if len(index) < 3:
        raise ValueError("cannot infer the frequency of a datetime ds with fewer than 3 points; pass freq")
    freq = pd.infer_freq(index)
    if freq is None:
        raise ValueError(f"ds is not regularly spaced (starts {index[:3].tolist()}); pass freq")
    return freq


def infer_freqs(history: pd.DataFrame) -> dict[Any, Freq | None]:
    """``unique_id -> infer_freq`` of each series' ``ds`` in ``history``, None where it cannot be
    inferred (``infer_freq`` raises); series in order of first appearance.

    The same as calling ``infer_freq`` per series, but once per distinct time axis: series are
    grouped by their sorted ``ds`` values (panels of many series share a few calendars).
    """
    codes, ids = pd.factorize(history["unique_id"])
    keep = codes >= 0  # a missing unique_id belongs to no series, as in a groupby
    codes, ds = codes[keep], history["ds"][keep]
    if not len(ids):
        return {}
    if ds.dtype.kind in "iu":
        keys = np.asarray(ds, dtype=np.int64)
    elif ds.dtype.kind == "M" or isinstance(ds.dtype, pd.DatetimeTZDtype):
        keys = pd.DatetimeIndex(ds).asi8
    else:  # other ds (strings, objects): one inference per series
        groups = pd.Series(np.arange(len(codes))).groupby(codes, sort=False).indices
        return {uid: _try_infer(ds.iloc[groups[i]]) for i, uid in enumerate(ids)}
    order = np.lexsort((keys, codes))
    keys, ds = keys[order], ds.iloc[order]
    sizes = np.bincount(codes, minlength=len(ids))
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    out = np.empty(len(ids), dtype=object)
    for size in np.unique(sizes):
        members = np.flatnonzero(sizes == size)
        axes = keys[starts[members][:, None] + np.arange(size)]
        _, first, inverse = np.unique(axes, axis=0, return_index=True, return_inverse=True)
        found = np.empty(len(first), dtype=object)
        for k, j in enumerate(first):
            found[k] = _try_infer(ds.iloc[starts[members[j]] : starts[members[j]] + size])
        out[members] = found[inverse.ravel()]
    return dict(zip(ids, out.tolist(), strict=True))


def _try_infer(ds: Any) -> Freq | None:
    try:
        return infer_freq(ds)
    except ValueError:
        return None


def future_dates(last_ds: Any, freq: Freq, horizon: int) -> pd.Index:
    """The ``horizon`` time stamps that follow ``last_ds`` at frequency ``freq``.

    Integer steps give an integer ``pd.Index``; offset aliases give a ``pd.DatetimeIndex``
    (time zone of ``last_ds`` kept).
    """
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon}")
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool):
        if freq <= 0:
            raise ValueError(f"integer freq must be a positive step, got {freq}")
        return pd.Index(int(last_ds) + int(freq) * np.arange(1, horizon + 1, dtype=np.int64))
    offset = to_offset(freq)
    start = pd.Timestamp(last_ds) + offset
    return pd.date_range(start=start, periods=horizon, freq=offset)


def future_index(last_ds: Sequence[Any], freqs: Sequence[Freq], horizon: int) -> pd.Index:
    """``future_dates`` of every series, concatenated (``horizon`` stamps per entry of
    ``last_ds``, in order); computed once per distinct ``(last_ds, freq)``."""
    cache: dict[tuple[Any, Any], int] = {}
    distinct: list[pd.Index] = []
    which = np.empty(len(last_ds), dtype=np.int64)
    for i, key in enumerate(zip(last_ds, freqs, strict=True)):
        if key not in cache:
            cache[key] = len(distinct)
            distinct.append(future_dates(key[0], key[1], horizon))
        which[i] = cache[key]
    if not distinct:
        return pd.Index([])
    steps = np.arange(horizon)
    stacked = distinct[0].append(distinct[1:]) if len(distinct) > 1 else distinct[0]
    return stacked.take((which[:, None] * horizon + steps).ravel())


def season_length(freq: Freq) -> int:
    """Default seasonal period for a frequency.

    Quarterly 4, monthly 12, weekly 52, business-daily 5, daily 7, hourly 24, and a daily cycle
    below an hour (30 min 48, 15 min 96, 5 min 288); a multiple of the unit divides the period
    when it can (``"6h"`` -> 4, else 1); anything else (yearly, integer steps) 1. ``data.season``
    overrides it for a run.
    """
    if isinstance(freq, (int, np.integer)):
        return 1
    offset = to_offset(freq)
    for cls, period in _SEASON_BY_OFFSET:
        if isinstance(offset, cls):
            n = abs(offset.n)
            return period // n if n and period % n == 0 else 1
    return 1


def series_seasons(history: pd.DataFrame) -> dict[Any, int]:
    """``unique_id -> season_length`` of each series' inferred frequency (1 where it cannot be
    inferred: too short or irregular)."""
    return {uid: 1 if f is None else season_length(f) for uid, f in infer_freqs(history).items()}
