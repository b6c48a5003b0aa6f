"""Infer frequencies from time stamps: one series' ``ds``, every series of a raw frame.

    infer_freq(ds)            # "QS-OCT", "MS", "h" for dates; 5 for 1990, 1995, 2000
    infer_freqs(history)      # {unique_id: frequency or None}, once per distinct time axis
    common_freq(freqs)        # the most common of a panel's frequencies

Inference is strict: an irregular axis, or a datetime axis with fewer than 3 points (what
``pd.infer_freq`` needs), raises ``ValueError``; the caller passes ``freq`` explicitly instead of
getting a silently wrong guess. A validated frame has its frequencies already
(``SeriesFrame.freqs``): read those.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

Freq = str | int
"""A pandas offset alias for datetime ``ds`` or an integer step for integer ``ds``."""


def _is_integer_axis(ds: Any) -> bool:
    if isinstance(ds, pd.DatetimeIndex):  # as it is: a time zone would box every stamp
        return False
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
    if isinstance(ds, pd.DatetimeIndex):
        index = ds if ds.is_monotonic_increasing else ds.sort_values()
    else:
        index = pd.DatetimeIndex(pd.to_datetime(np.asarray(ds))).sort_values()
    if len(index) < 3:
        raise ValueError("cannot infer the frequency of a datetime ds with fewer than 3 points; pass freq")
    freq = pd.infer_freq(index)
    if freq is None:
        raise ValueError(f"ds is not regularly spaced (starts {index[:3].tolist()}); pass freq")
    return freq


def try_infer_freq(ds: Any) -> Freq | None:
    """``infer_freq``, or None where it cannot infer (it raises ``ValueError``)."""
    try:
        return infer_freq(ds)
    except ValueError:
        return None


def infer_freqs(history: pd.DataFrame) -> dict[Any, Freq | None]:
    """``unique_id -> infer_freq`` of each series' ``ds`` in a raw ``history``, None where it
    cannot be inferred (``infer_freq`` raises); series in order of first appearance.

    The same as calling ``infer_freq`` per series, but once per distinct time axis: series are
    grouped by their sorted ``ds`` values (panels of many series share a few calendars). A
    validated frame has its frequencies already: ``SeriesFrame.freqs``.
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
        return {uid: try_infer_freq(ds.iloc[groups[i]]) for i, uid in enumerate(ids)}
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
            found[k] = try_infer_freq(ds.iloc[starts[members[j]] : starts[members[j]] + size])
        out[members] = found[inverse.ravel()]
    return dict(zip(ids, out.tolist(), strict=True))


def common_freq(freqs: Iterable[Freq | None]) -> Freq | None:
    """The most common of a panel's frequencies (the first seen among equals); None for none."""
    common = Counter(freqs).most_common(1)
    return common[0][0] if common else None
