"""The season rule: a run's ``data.season`` if set, else the season length of each frequency.

    season_lengths(data.freqs, config.data.season)   # {id: season} of a validated panel
    season_lengths([freq_a, freq_b])                  # an int64 array aligned to the sequence
    season_length("MS")                               # 12: one frequency's default period

Every stage that needs a series' season (MASE scales, seasonal baselines, default lookbacks)
calls ``season_lengths`` on the frequencies validation resolved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, overload

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .infer import Freq, infer_freqs

K = TypeVar("K")

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


def season_length(freq: Freq) -> int:
    """Default seasonal period for a frequency.

    Quarterly 4, monthly 12, weekly 52, business-daily 5, daily 7, hourly 24, and a daily cycle
    below an hour (30 min 48, 15 min 96, 5 min 288); a multiple of the unit divides the period
    when it can (``"6h"`` -> 4, else 1); anything else (yearly, integer steps) 1. ``data.season``
    overrides it for a run: see ``season_lengths``.
    """
    if isinstance(freq, (int, np.integer)):
        return 1
    offset = to_offset(freq)
    for cls, period in _SEASON_BY_OFFSET:
        if isinstance(offset, cls):
            n = abs(offset.n)
            return period // n if n and period % n == 0 else 1
    return 1


@overload
def season_lengths(freqs: Mapping[K, Freq | None], override: int | None = None) -> dict[K, int]: ...
@overload
def season_lengths(freqs: Sequence[Freq | None], override: int | None = None) -> np.ndarray: ...
def season_lengths(freqs, override=None):
    """The season rule: ``override`` (a run's ``data.season``) for every series if given, else
    each frequency's ``season_length`` (1 for None: a frequency that could not be inferred).

    ``freqs`` ``id -> frequency`` (e.g. ``SeriesFrame.freqs``) gives ``id -> season``; a
    sequence of frequencies gives an int64 array aligned to it. ``ValueError`` for an
    ``override`` below 1.
    """
    if override is not None and override < 1:
        raise ValueError(f"a season length must be >= 1, got {override}")
    values = list(freqs.values()) if isinstance(freqs, Mapping) else list(freqs)
    by_freq = {
        f: int(override) if override is not None else 1 if f is None else season_length(f)
        for f in set(values)
    }
    if isinstance(freqs, Mapping):
        return {uid: by_freq[f] for uid, f in zip(freqs, values, strict=True)}
    return np.array([by_freq[f] for f in values], dtype=np.int64)


def series_seasons(history: pd.DataFrame) -> dict[Any, int]:
    """``unique_id -> season length`` of each series of a raw ``history`` from its inferred
    frequency (``infer_freqs``; 1 where it cannot be inferred: too short or irregular)."""
    return season_lengths(infer_freqs(history))
