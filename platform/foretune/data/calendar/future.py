"""Continue a series' time axis: the time stamps of a forecast's horizon.

    future_dates(last_ds, "MS", 3)             # the next 3 stamps after last_ds
    future_index(last_ds_list, freqs, horizon)  # every series' next stamps, concatenated

``future_dates`` adds the offset to the last date, so an off-anchor last date (e.g. the 15th with
``"MS"``) continues with the next anchor (the 1st of the next month).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .infer import Freq


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
