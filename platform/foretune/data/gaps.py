"""One series on its regular grid: missing time stamps inserted, gaps filled by ``data.fill``.

    first, last = observed(uid, y)                 # leading and trailing NaN are not part of it
    grid, y, cov, inserted = regularize(uid, ticks, y, cov, axis, "MS", "interpolate", names, rows, False)

``fill``: ``none`` (a gap is a ``DataError`` naming the first one), ``ffill``, ``interpolate``
(linear in steps) or ``zero``; values before a series' first one take the first value. Inf in a
covariate counts as missing. A grid that would be mostly filled (more stamps inserted than
observed) means a wrong frequency or date format, not gaps: it is a ``DataError`` that says so
(and which frequency the stamps follow) under ``fill: none``, and also under another fill when
the stamps follow another frequency exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from foretune.errors import DataError

from .calendar import Freq, TimeAxis
from .calendar.axis import freq_text, on_grid
from .calendar.resolve import regular_freq
from .checks import FILL_HINT


def observed(uid: str, y: np.ndarray) -> tuple[int, int]:
    """Positions ``[first, last + 1)`` of a series' first and last observed (non-NaN) ``y``."""
    seen = np.flatnonzero(~np.isnan(y))
    if len(seen) == 0:
        raise DataError(
            f"series {uid!r} has no observation: y is NaN in all its {len(y)} row(s); drop the series"
        )
    return int(seen[0]), int(seen[-1]) + 1


def regularize(
    uid: str,
    ticks: np.ndarray,
    y: np.ndarray,
    cov: np.ndarray,
    axis: TimeAxis,
    freq: Freq,
    fill: str,
    names: Sequence[str],
    rows: np.ndarray,
    regular: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(grid, y, cov, inserted)``: the series on its grid with gaps filled, or ``DataError``.
    ``regular``: the stamps are known to be the whole grid."""
    grid = ticks if regular or len(ticks) == 1 else on_grid(uid, ticks, axis, freq)
    cov = np.where(np.isfinite(cov), cov, np.nan)  # inf in a covariate is a missing value
    inserted = len(grid) - len(ticks)
    if inserted > len(ticks):
        follows = _own_freq(uid, ticks, axis, freq)
        if fill == "none" or follows is not None:
            raise _mostly_filled(uid, len(grid), len(ticks), freq, follows)
    if not inserted and not np.isnan(y).any() and not np.isnan(cov).any():
        return grid, y, cov, 0
    if fill == "none":
        raise _gap_error(uid, grid, ticks, y, cov, axis, freq, names, rows)
    pos = np.searchsorted(grid, ticks)
    full_y = np.full(len(grid), np.nan)
    full_y[pos] = y
    full_cov = np.full((len(grid), cov.shape[1]), np.nan)
    full_cov[pos] = cov
    for j in range(full_cov.shape[1]):
        if fill != "zero" and np.isnan(full_cov[:, j]).all():
            raise DataError(
                f"column {names[j]!r} has no value in series {uid!r}, so data.fill={fill} has "
                "nothing to fill from; give it values, or use data.fill: zero"
            )
        full_cov[:, j] = fill_missing(full_cov[:, j], fill)
    return grid, fill_missing(full_y, fill), full_cov, inserted


def _own_freq(uid: str, ticks: np.ndarray, axis: TimeAxis, freq: Freq) -> Freq | None:
    """The frequency the stamps follow exactly, when it is not ``freq`` (None otherwise)."""
    if len(ticks) < 3:
        return None
    try:
        own = regular_freq(ticks, axis)
    except DataError:
        return None
    return own if own is not None and own != freq else None


def _mostly_filled(uid: str, grid: int, observed: int, freq: Freq, follows: Freq | None) -> DataError:
    """The error for a grid that would be mostly filled: the frequency or the date format."""
    fits = (
        f"its time stamps follow {freq_text(follows)}: set data.freq (--freq) to {follows!r}, or "
        "leave it unset to infer each series' own"
        if follows is not None
        else "no regular frequency fits its time stamps: check data.freq (--freq) and the dates "
        "in ds (day-first dates read month-first, mixed formats or time zones)"
    )
    return DataError(
        f"series {uid!r} has {observed} time stamps, but at {freq_text(freq)} its grid would need "
        f"{grid - observed} more filled in ({(grid - observed) / grid:.0%} of it): that is a wrong "
        f"frequency or date format, not gaps; {fits}"
    )


def _gap_error(
    uid: str,
    grid: np.ndarray,
    ticks: np.ndarray,
    y: np.ndarray,
    cov: np.ndarray,
    axis: TimeAxis,
    freq: Freq,
    names: Sequence[str],
    rows: np.ndarray,
) -> DataError:
    """The error for a series with gaps under ``fill: none``: the first missing time stamp or NaN
    of ``y``, else the first NaN of a covariate."""
    missing_y, missing_cov = np.isnan(y), np.isnan(cov)
    inserted = len(grid) - len(ticks)
    if inserted or missing_y.any():
        absent = grid[~np.isin(grid, ticks)]
        nan = np.flatnonzero(missing_y)
        if len(absent) and (not len(nan) or absent[0] < ticks[nan[0]]):
            what = f"no row for time stamp {axis.stamp(absent[0])}"
        else:
            what = f"y is NaN at {axis.stamp(ticks[nan[0]])} (row {int(rows[nan[0]])})"
        return DataError(
            f"series {uid!r} has {inserted + int(missing_y.sum())} gap(s) at {freq_text(freq)} "
            f"({inserted} missing time stamp(s), {int(missing_y.sum())} NaN value(s) of y); the "
            f"first: {what}; {FILL_HINT}"
        )
    column = int(np.flatnonzero(missing_cov.any(axis=0))[0])
    i = int(np.flatnonzero(missing_cov[:, column])[0])
    return DataError(
        f"column {names[column]!r} has {int(missing_cov[:, column].sum())} NaN/inf value(s) in "
        f"series {uid!r}, the first at ds={axis.stamp(ticks[i])} (row {int(rows[i])}); {FILL_HINT}"
    )


def fill_missing(values: np.ndarray, fill: str) -> np.ndarray:
    """NaN filled by ``fill``; NaN before the first value take the first value (ffill, interpolate)."""
    missing = np.isnan(values)
    if not missing.any():
        return values
    if fill == "zero":
        return np.where(missing, 0.0, values)
    seen = np.flatnonzero(~missing)
    steps = np.arange(len(values))
    if fill == "interpolate":
        return np.interp(steps, seen, values[seen])
    last = np.maximum.accumulate(np.where(missing, 0, steps))
    out = values[last]
    out[: seen[0]] = values[seen[0]]
    return out
