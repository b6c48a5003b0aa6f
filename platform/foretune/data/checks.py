"""Checks of a long frame's columns and values: each raises ``DataError`` naming what to fix.

    check_fill(fill); covs = covariate_columns(frame, None)  # every extra numeric column
    codes, keys, id_values = series_keys(frame["unique_id"])   # per-row series, str keys
    y = numbers(frame["y"], "y"); ds = parse_ds(frame["ds"])    # float64; dates or int steps
    check_values(y, cov, covs, codes, keys, ticks, axis)       # inf in y, overflowing magnitudes
    check_cutoffs(longest=24, horizon=4, n_windows=3, step=4)  # cross-validation's cutoffs fit

The messages name the column, the series, the row or the time stamp, and the setting or the
change to the data that fixes it.
"""

from __future__ import annotations

import typing
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from foretune.config import DataConfig
from foretune.errors import DataError

from .calendar import TimeAxis
from .frame import series_key
from .io import REQUIRED
from .splits import minimum_length

#: The values of ``data.fill`` (the config declares them).
FILLS: tuple[str, ...] = typing.get_args(DataConfig.model_fields["fill"].annotation)
MAX_ABS_VALUE = 1e150
"""Largest |y| or |covariate| accepted: the transforms square values, which overflows above ~1e154."""
FILL_HINT = "set data.fill to ffill, interpolate or zero to fill them, or fill them in the data"


def check_fill(fill: str) -> None:
    """``data.fill`` is one of ``FILLS``."""
    if fill not in FILLS:
        raise DataError(f"data.fill must be one of {list(FILLS)}, got {fill!r}")


def covariate_columns(frame: pd.DataFrame, requested: list[str] | tuple[str, ...] | None) -> list[str]:
    """The covariate columns: ``requested`` (present and numeric), or None: every extra numeric one."""
    extra = [c for c in frame.columns if c not in REQUIRED]
    if requested is None:
        return [c for c in extra if pd.api.types.is_numeric_dtype(frame[c])]
    missing = [c for c in requested if c not in frame.columns]
    if missing:
        raise DataError(f"covariate column(s) {missing} not in the data (found {extra})")
    for c in requested:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            raise DataError(f"covariate column {c!r} must be numeric, found {frame[c].dtype}")
    return list(requested)


def numbers(column: pd.Series, name: str) -> np.ndarray:
    """A numeric column as float64 (missing values NaN)."""
    if not pd.api.types.is_numeric_dtype(column) or (name == "y" and pd.api.types.is_bool_dtype(column)):
        raise DataError(f"column {name!r} must be numeric, found dtype {column.dtype}")
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def rows_text(mask: np.ndarray, shown: int = 5) -> str:
    """``row 4`` or ``3 rows (first 4, 9, 12)``: the positions where ``mask`` holds."""
    rows = np.flatnonzero(mask)
    if len(rows) == 1:
        return f"row {int(rows[0])}"
    more = ", ..." if len(rows) > shown else ""
    return f"{len(rows)} rows (first {', '.join(str(int(r)) for r in rows[:shown])}{more})"


def series_keys(ids: pd.Series) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Per-row series index (order of first appearance), each series' str key and original id."""
    null = ids.isna().to_numpy()
    if null.any():
        raise DataError(
            f"column 'unique_id' is empty (null) in {rows_text(null)}; give every row a series id "
            "or drop those rows"
        )
    codes, uniques = pd.factorize(ids, sort=False)
    values = [v.item() if isinstance(v, np.generic) else v for v in uniques]
    keys = [series_key(v) for v in values]
    if len(set(keys)) != len(keys):
        seen: dict[str, Any] = {}
        for key, value in zip(keys, values, strict=True):
            if key in seen:
                raise DataError(
                    f"unique_id values {seen[key]!r} and {value!r} would both be series {key!r}; "
                    "make the ids distinct (e.g. all text or all numbers)"
                )
            seen[key] = value
    return codes.astype(np.int64), keys, dict(zip(keys, values, strict=True))


def parse_ds(ds: pd.Series) -> pd.Index:
    """``ds`` as a ``DatetimeIndex`` (ns, time zone kept) or an int64 ``Index``; ``DataError`` else."""
    null = ds.isna().to_numpy()
    if null.any():
        raise DataError(f"column 'ds' is empty (null) in {rows_text(null)}; give every row a time stamp")
    if pd.api.types.is_bool_dtype(ds):
        raise DataError("column 'ds' must hold dates or integer time steps, found booleans")
    if pd.api.types.is_integer_dtype(ds) or (
        ds.dtype == object and pd.api.types.infer_dtype(ds, skipna=True) == "integer"
    ):
        return pd.Index(ds.to_numpy(dtype=np.int64), dtype=np.int64)
    if pd.api.types.is_float_dtype(ds):
        values = ds.to_numpy(dtype=np.float64)
        fractional = ~np.isfinite(values) | (values != np.round(values))
        if fractional.any():
            raise DataError(
                f"column 'ds' holds numbers that are not integer time steps (e.g. "
                f"{float(values[fractional][0])!r} in {rows_text(fractional)}); use dates or integer steps"
            )
        return pd.Index(values.astype(np.int64), dtype=np.int64)
    if not pd.api.types.is_datetime64_any_dtype(ds):
        with warnings.catch_warnings():  # pandas' parsing advice; the errors below say more
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(ds)  # one format, inferred from the first value: fast
            except (ValueError, TypeError, OverflowError):
                _check_day_first(ds)
                parsed = pd.to_datetime(ds, errors="coerce", format="mixed")  # each value on its own
        bad = parsed.isna().to_numpy()
        if bad.any():
            raise DataError(
                f"column 'ds' must hold dates (between the years 1677 and 2262) or integer time "
                f"steps; cannot read {ds[bad].iloc[0]!r} as a date ({rows_text(bad)})"
            )
        ds = parsed
    try:
        return pd.DatetimeIndex(ds).as_unit("ns")
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataError(
            f"column 'ds' holds dates that do not form one time axis ({exc}); give every time stamp "
            "in one time zone, between the years 1677 and 2262"
        ) from None


_NUMERIC_DATE = r"^\s*(\d{1,2})([/.\-])(\d{1,2})\2(\d{2,4})\b"


def _check_day_first(ds: pd.Series) -> None:
    """``DataError`` for text dates in day-first order (``13/01/2020``): read value by value,
    those with a day of 12 or less would be taken month-first and the series scrambled."""
    parts = ds.astype(str).str.extract(_NUMERIC_DATE)
    if parts.isna().any().any() or parts.empty:
        return
    first, second = parts[0].astype(int), parts[2].astype(int)
    if (first > 12).any() and (second <= 12).all():
        i = int(np.flatnonzero((first > 12).to_numpy())[0])
        raise DataError(
            f"column 'ds' holds day-first dates (e.g. {ds.iloc[i]!r}, row {i}; format DD{parts[1].iloc[0]}MM"
            f"{parts[1].iloc[0]}YYYY): read one by one, those with a day of 12 or less would be taken "
            "month-first and each series' order scrambled; give ISO dates (YYYY-MM-DD), or parse them "
            "first with pd.to_datetime(df['ds'], dayfirst=True)"
        )


def check_values(
    y: np.ndarray,
    cov: np.ndarray,
    names: Sequence[str],
    codes: np.ndarray,
    keys: list[str],
    ticks: np.ndarray,
    axis: TimeAxis,
) -> None:
    """Inf in ``y``, and magnitudes above ``MAX_ABS_VALUE`` anywhere: ``DataError`` naming the row."""
    inf = np.isinf(y)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise DataError(
            f"column 'y' is infinite in {rows_text(inf)}, the first in series {keys[codes[i]]!r} at "
            f"ds={axis.stamp(ticks[i])}; replace it with a real value (or NaN, a gap), or drop the row"
        )
    for name, values in [("y", y), *zip(names, cov.T, strict=True)]:
        huge = np.isfinite(values) & (np.abs(values) > MAX_ABS_VALUE)
        if huge.any():
            i = int(np.flatnonzero(huge)[0])
            raise DataError(
                f"column {name!r} has a value {values[i]:.3g} beyond +/-{MAX_ABS_VALUE:.0e} in "
                f"series {keys[codes[i]]!r} at row {i} (ds={axis.stamp(ticks[i])}), which would "
                "overflow the transforms; rescale the column (e.g. other units) or fix the value"
            )


def check_duplicates(
    codes: np.ndarray, ticks: np.ndarray, keys: list[str], rows: np.ndarray, axis: TimeAxis
) -> None:
    """No two rows of one series at the same time stamp (``codes``/``ticks`` sorted, ``rows`` the
    input rows)."""
    dup = np.r_[False, (codes[1:] == codes[:-1]) & (ticks[1:] == ticks[:-1])]
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"series {keys[codes[i]]!r} has duplicate time stamp ds={axis.stamp(ticks[i])} (rows "
            f"{int(rows[i - 1])} and {int(rows[i])}; {int(dup.sum())} extra row(s) in all); keep one "
            "row per series and time"
        )


def check_length(uid: str, n: int, min_length: int) -> None:
    """A series has at least ``min_length`` (at least 1) observations."""
    need = max(int(min_length), 1)
    if n < need:
        raise DataError(
            f"series {uid!r} has {n} observations but needs at least {need} "
            "(window + horizon + 1); shorten the window or horizon, or drop the series"
        )


def check_cutoffs(longest: int, horizon: int, n_windows: int, step: int, val_windows: int = 1) -> None:
    """Cross-validation's ``n_windows`` cutoffs (each ``step`` before the next, the last
    ``horizon`` before the end) must leave the ``longest`` series enough history for a fit
    (``splits.minimum_length`` plus ``val_windows`` validation windows); ``DataError`` naming the
    largest ``n_windows`` that fits, before any fit starts."""
    need = minimum_length(horizon) + val_windows * horizon
    room = longest - horizon - need
    if room < 0:
        raise DataError(
            f"no series is long enough to cross-validate with horizon={horizon}: a fit needs "
            f"{need} observations before the cutoff and {horizon} after it; the longest series has "
            f"{longest}. Use a shorter horizon, or longer series"
        )
    most = room // step + 1
    if n_windows > most:
        left = longest - horizon - step * (n_windows - 1)
        raise DataError(
            f"n_windows={n_windows} does not fit: with horizon={horizon} and step={step} the earliest "
            f"cutoff leaves the longest series ({longest} observations) {max(left, 0)} before it, "
            f"fewer than the {need} a fit needs; the largest n_windows that fits is {most} (or "
            "use a smaller step)"
        )


def check_domain(uid: str, y: np.ndarray, ticks: np.ndarray, axis: TimeAxis, transform: str) -> None:
    """An explicit ``log_ratio`` transform needs every value above 0."""
    if transform == "log_ratio" and (y <= 0).any():
        i = int(np.flatnonzero(y <= 0)[0])
        raise DataError(
            f"series {uid!r} has a value <= 0 ({y[i]}) at position {i} (ds={axis.stamp(ticks[i])}), "
            "which the log_ratio transform cannot take; use data.transform: auto (log_ratio only "
            "where a series is positive) or diff for such data"
        )
