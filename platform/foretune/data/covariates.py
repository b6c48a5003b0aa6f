"""Covariates of three kinds, as extra columns of the model's input rows (architecture-agnostic).

    spec = input_spec(data_config, past, future, series, static)  # what the run's inputs are
    series = with_inputs(series, spec)                       # training: the feature columns added
    history = with_inputs(history, spec, futr_df, static_df) # forecast: the horizon from futr_df

Kinds, in row order after the standardised change of ``y`` (the mask stays the last column):

- **past** (``data.covariates``; None = every extra numeric column not declared future or
  static): row ``t`` holds the value at ``t``, named as the column.
- **future-known** (``data.future_covariates``): row ``t`` holds the value at ``t + horizon``
  (``futr:<name>``), so the last ``horizon`` rows of an input window hold exactly the values at
  the forecast steps; a forecast takes them from ``futr_df``. Needs windows >= horizon.
- **calendar** (``data.calendar``): cycles of ``ds`` at ``t + horizon`` as sin/cos pairs
  (``cal:<kind>_sin``, ``cal:<kind>_cos``), future-known by construction; not standardised.
- **static** (``static_df``: ``unique_id`` plus numeric columns): one value per series on every
  row (``static:<name>``), standardised across the run's series; a forecast takes them from the
  saved values, or ``static_df`` for a series the run did not see.

Everything is checked like ``y``: a ``DataError`` names the column, the series and the dates.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from foretune.config import CalendarKind
from foretune.errors import ConfigError, DataError

from .calendar import Freq, common_freq, future_index
from .checks import parse_ds
from .frame import SeriesFrame, series_key
from .io import REQUIRED, read_frame, read_table

FUTURE, CALENDAR, STATIC = "futr:", "cal:", "static:"
#: Calendar cycles: kind -> (position in the cycle from a DatetimeIndex, the cycle's length).
CYCLES = {
    "minute": (lambda d: d.minute + d.second / 60, lambda d: 60.0),
    "hour": (lambda d: d.hour + d.minute / 60, lambda d: 24.0),
    "dayofweek": (lambda d: d.dayofweek, lambda d: 7.0),
    "day": (lambda d: d.day - 1, lambda d: d.days_in_month),
    "dayofyear": (lambda d: d.dayofyear - 1, lambda d: np.where(d.is_leap_year, 366.0, 365.0)),
    "weekofyear": (lambda d: d.isocalendar().week.to_numpy() - 1, lambda d: 52.0),
    "month": (lambda d: d.month - 1, lambda d: 12.0),
    "quarter": (lambda d: d.quarter - 1, lambda d: 4.0),
}
assert set(CYCLES) == set(typing.get_args(CalendarKind)), "data.calendar's kinds are the cycles"
#: ``data.calendar: auto``: the cycles shorter than a year that a frequency family can show.
_AUTO = (
    ((pd.offsets.Minute, pd.offsets.Second), ("hour", "dayofweek")),
    ((pd.offsets.Hour,), ("hour", "dayofweek")),
    ((pd.offsets.Day, pd.offsets.BusinessDay), ("dayofweek", "dayofyear")),
    ((pd.offsets.Week,), ("weekofyear",)),
    ((pd.offsets.MonthBegin, pd.offsets.MonthEnd, pd.offsets.BusinessMonthBegin), ("month",)),
    ((pd.offsets.QuarterBegin, pd.offsets.QuarterEnd), ("quarter",)),
)


@dataclass(frozen=True)
class InputSpec:
    """What the model's covariate columns are and how to rebuild them (plain JSON: ``to_dict``).

    ``static_values``: each seen series' raw static values; ``static_mu``/``static_sigma``:
    their standardisation across the run's series.
    """

    horizon: int = 1
    past: tuple[str, ...] = ()
    future: tuple[str, ...] = ()
    calendar: tuple[str, ...] = ()
    static: tuple[str, ...] = ()
    static_mu: tuple[float, ...] = ()
    static_sigma: tuple[float, ...] = ()
    static_values: dict[str, list[float]] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """The covariate feature names in model order (between the change of y and the mask)."""
        cal = [f"{CALENDAR}{k}_{f}" for k in self.calendar for f in ("sin", "cos")]
        return (
            *self.past,
            *(FUTURE + c for c in self.future),
            *cal,
            *(STATIC + c for c in self.static),
        )

    @property
    def data_columns(self) -> tuple[str, ...]:
        """The columns read from the data itself: past and future covariates."""
        return (*self.past, *self.future)

    @property
    def plain(self) -> bool:
        """Only past covariates: the inputs are the data's columns as they are."""
        return not (self.future or self.calendar or self.static)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> InputSpec:
        """The spec saved by ``to_dict`` (missing keys take their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in state.items() if k in known}
        if "static_values" in values:
            values["static_values"] = {str(k): list(v) for k, v in values["static_values"].items()}
        return cls(**values)


# -- the run's spec -----------------------------------------------------------------------------
def data_columns(
    frame: pd.DataFrame, past: Sequence[str] | None, future: Sequence[str], static: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """The past and future covariate columns of ``frame``: ``past`` None = every extra numeric
    column not declared future or static. ``DataError`` for a missing or non-numeric column,
    ``ConfigError`` for a column declared twice."""
    twice = sorted(set(past or ()) & set(future))
    if twice:
        raise ConfigError(
            f"column(s) {twice} are in both data.covariates and data.future_covariates; declare "
            "each covariate once (future-known covariates are also seen in the past)"
        )
    extra = [c for c in frame.columns if c not in REQUIRED]
    for kind, names in (("data.future_covariates", future), ("data.covariates", past or ())):
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise DataError(f"{kind} column(s) {missing} not in the data (found {extra})")
        for c in names:
            if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
                raise DataError(f"covariate column {c!r} must be numeric, found {frame[c].dtype}")
    if past is None:
        skip = set(future) | set(static)
        past = [c for c in extra if c not in skip and pd.api.types.is_numeric_dtype(frame[c])]
    return list(past), list(future)


def calendar_kinds(setting: Sequence[str] | str | None, freqs: Mapping[str, Freq]) -> tuple[str, ...]:
    """``data.calendar`` resolved: a list of cycle kinds, or ``auto`` by the panel's most common
    frequency (none for yearly or integer steps). ``ConfigError`` for integer ``ds``."""
    if not setting:
        return ()
    freq = common_freq(freqs.values())
    if isinstance(freq, (int, np.integer)):
        raise ConfigError(
            f"data.calendar={setting!r} needs dates in ds; this data has integer time steps. "
            "Remove data.calendar, or give ds as dates"
        )
    if setting != "auto":
        unknown = [k for k in setting if k not in CYCLES]
        if unknown:
            raise ConfigError(f"data.calendar: unknown kind(s) {unknown}; choose from {list(CYCLES)} or auto")
        return tuple(dict.fromkeys(setting))
    offset = to_offset(freq) if freq is not None else None
    for families, kinds in _AUTO:
        if isinstance(offset, families):
            return kinds
    return ()


def calendar_features(dates: pd.DatetimeIndex, kinds: Sequence[str]) -> np.ndarray:
    """``[N, 2K]``: ``sin`` and ``cos`` of ``2 pi position / length`` of each cycle in ``kinds``."""
    out = np.empty((len(dates), 2 * len(kinds)))
    for j, kind in enumerate(kinds):
        position, length = CYCLES[kind]
        angle = 2 * np.pi * np.asarray(position(dates), dtype=np.float64) / np.asarray(length(dates))
        out[:, 2 * j], out[:, 2 * j + 1] = np.sin(angle), np.cos(angle)
    return out


def read_static(static_df: pd.DataFrame | str | Any, names: Sequence[str] | None = None) -> pd.DataFrame:
    """``static_df`` (a frame or a Parquet/CSV path) checked: ``unique_id`` once per series and
    numeric, finite columns (``names``, default every column but ``unique_id``); indexed by
    ``series_key``, float columns in ``names`` order."""
    frame = static_df if isinstance(static_df, pd.DataFrame) else read_table(static_df)
    if "unique_id" not in frame.columns:
        raise DataError(f"static_df needs a unique_id column (found {list(frame.columns)})")
    columns = [c for c in frame.columns if c != "unique_id"] if names is None else list(names)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"static_df lacks the static column(s) {missing} the model was trained with")
    keys = frame["unique_id"].map(series_key)
    twice = keys[keys.duplicated()]
    if len(twice):
        raise DataError(
            f"static_df has more than one row for series {twice.iloc[0]!r}; give one row per series"
        )
    for c in columns:
        column = frame[c]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise DataError(f"static_df column {c!r} must be numeric, found {column.dtype}")
        bad = ~np.isfinite(column.to_numpy(np.float64, na_value=np.nan))
        if bad.any():
            raise DataError(
                f"static_df column {c!r} is NaN or infinite for series {keys[bad].iloc[0]!r}; give "
                "every series a value"
            )
    return pd.DataFrame(frame[columns].to_numpy(np.float64), index=keys.to_numpy(), columns=columns)


def input_spec(
    data: Any,
    past: Sequence[str],
    future: Sequence[str],
    series: SeriesFrame,
    static: pd.DataFrame | None = None,
) -> InputSpec:
    """The run's ``InputSpec``: ``data`` its ``DataConfig`` (horizon, calendar), ``past`` and
    ``future`` its data columns (``data_columns``), ``static`` its ``read_static`` table, which
    must have a row for every series of ``series``."""
    spec = InputSpec(data.horizon, tuple(past), tuple(future), calendar_kinds(data.calendar, series.freqs))
    if static is None or not len(static.columns):
        return spec
    ids = series.series_ids
    absent = [uid for uid in ids if uid not in static.index]
    if absent:
        raise DataError(
            f"static_df has no row for series {_shown(absent)}; give every series its static values"
        )
    values = static.loc[ids].to_numpy()
    sigma = values.std(axis=0)
    return dataclasses.replace(
        spec,
        static=tuple(str(c) for c in static.columns),
        static_mu=tuple(float(v) for v in values.mean(axis=0)),
        static_sigma=tuple(float(s) if s > 1e-12 else 1.0 for s in sigma),
        static_values={uid: [float(v) for v in row] for uid, row in zip(ids, values, strict=True)},
    )


def unscaled(columns: Sequence[str]) -> list[int]:
    """Positions of the covariate ``columns`` not standardised per series (calendar, static)."""
    return [i for i, c in enumerate(columns) if str(c).startswith((CALENDAR, STATIC))]


def require_windows(spec: InputSpec, windows: Sequence[int]) -> None:
    """Future-known inputs sit in the last ``horizon`` rows: every window must be that long."""
    short = sorted(w for w in set(windows) if w < spec.horizon)
    if short and (spec.future or spec.calendar):
        raise ConfigError(
            f"search.windows {short} are shorter than data.horizon={spec.horizon}: future-known "
            "covariates (data.future_covariates, data.calendar) fill the last horizon rows of a "
            f"window; use windows >= {spec.horizon}"
        )


# -- the feature columns --------------------------------------------------------------------------
def with_inputs(
    series: SeriesFrame,
    spec: InputSpec,
    futr_df: pd.DataFrame | str | None = None,
    static_df: pd.DataFrame | str | None = None,
    *,
    steps: int | None = None,
) -> SeriesFrame:
    """``series`` with ``spec.columns`` as its covariates (see the module docstring).

    Training (``futr_df`` None): a lead past a series' end holds its last value (no window with
    targets reads it). Forecast: ``futr_df`` must give every future covariate for the first
    ``steps`` (default ``horizon``) forecast dates of every series (the rest, if any, hold the
    last given value); ``static_df`` the statics of series without saved ones."""
    if spec.plain:
        return dataclasses.replace(series, covariates=spec.columns, inputs=spec.to_dict())
    frame = series.frame
    ids = series.series_ids
    lengths = frame.groupby("unique_id", sort=False).size().reindex(ids).to_numpy()
    offsets = np.r_[0, np.cumsum(lengths)]
    seg = np.repeat(np.arange(len(ids)), lengths)
    end = offsets[1:][seg]
    pos = np.arange(len(frame)) + spec.horizon
    inside = pos < end
    beyond = np.where(inside, 0, pos - end)  # step past the series' end (0-based)
    out = frame.copy()
    if spec.future:
        values = frame[list(spec.future)].to_numpy(np.float64)
        tail = (
            np.repeat(values[offsets[1:] - 1][:, None], spec.horizon, axis=1)
            if futr_df is None
            else future_values(series, spec, futr_df, steps)
        )
        lead = np.where(inside[:, None], values[np.minimum(pos, len(frame) - 1)], tail[seg, beyond])
        for j, c in enumerate(spec.future):
            out[FUTURE + c] = lead[:, j]
    if spec.calendar:
        dates = pd.DatetimeIndex(frame["ds"])
        ahead = _future_stamps(series, spec.horizon)
        lead_dates = dates[np.minimum(pos, len(frame) - 1)].where(inside, ahead[seg * spec.horizon + beyond])
        table = calendar_features(pd.DatetimeIndex(lead_dates), spec.calendar)
        for j, c in enumerate(c for c in spec.columns if c.startswith(CALENDAR)):
            out[c] = table[:, j]
    if spec.static:
        statics = (np.asarray(static_values(spec, ids, static_df)) - spec.static_mu) / spec.static_sigma
        for j, c in enumerate(spec.static):
            out[STATIC + c] = statics[seg, j]
    return dataclasses.replace(series, frame=out, covariates=spec.columns, inputs=spec.to_dict())


def future_values(
    series: SeriesFrame, spec: InputSpec, futr_df: pd.DataFrame | str, steps: int | None = None
) -> np.ndarray:
    """``[S, horizon, K]``: each series' future covariates at its next ``horizon`` dates from
    ``futr_df`` (``unique_id, ds`` and the columns); the first ``steps`` are required (a
    ``DataError`` names the series and missing dates), later ones hold the last given value."""
    steps = spec.horizon if steps is None else min(int(steps), spec.horizon)
    given = read_frame(futr_df) if not isinstance(futr_df, pd.DataFrame) else futr_df
    need = ["unique_id", "ds", *spec.future]
    missing = [c for c in need if c not in given.columns]
    if missing:
        raise DataError(
            f"futr_df lacks column(s) {missing}; it needs unique_id, ds and the future-known "
            f"covariates {list(spec.future)} for each series' next {steps} dates"
        )
    ids = series.series_ids
    stamps = _future_stamps(series, spec.horizon)
    wanted = pd.DataFrame({"unique_id": np.repeat(ids, spec.horizon), "_tick": _ticks(pd.Index(stamps))})
    have = pd.DataFrame(
        {"unique_id": given["unique_id"].map(series_key), "_tick": _ticks(parse_ds(given["ds"]))}
    )
    for c in spec.future:
        have[c] = pd.to_numeric(given[c], errors="coerce").to_numpy(np.float64)
    have = have.drop_duplicates(["unique_id", "_tick"], keep="last")
    joined = wanted.merge(have, on=["unique_id", "_tick"], how="left")
    values = joined[list(spec.future)].to_numpy(np.float64).reshape(len(ids), spec.horizon, -1)
    gap = ~np.isfinite(values[:, :steps]).all(axis=2)
    if gap.any():
        rows = np.flatnonzero(gap.any(axis=1))
        named = "; ".join(
            f"{series.id_values.get(ids[i], ids[i])!r} at "
            + ", ".join(_stamp(stamps[i * spec.horizon + s]) for s in np.flatnonzero(gap[i])[:5])
            for i in rows[:5]
        )
        raise DataError(
            f"futr_df does not cover the forecast horizon ({steps} steps) of {len(rows)} series, "
            f"missing (or NaN) future covariates {list(spec.future)} for {named}"
            f"{' ...' if len(rows) > 5 else ''}; give futr_df a row per series and forecast date"
        )
    for s in range(steps, spec.horizon):  # beyond the requested steps: hold the last value
        values[:, s] = values[:, s - 1]
    return values


def static_values(spec: InputSpec, ids: Sequence[str], static_df: pd.DataFrame | str | None) -> np.ndarray:
    """``[S, K]`` raw statics of ``ids``: from ``static_df`` where it has the series, else saved.
    A series with neither raises ``DataError`` naming it."""
    saved = pd.DataFrame.from_dict(spec.static_values, orient="index", columns=list(spec.static))
    table = saved.reindex(list(ids))
    if static_df is not None:  # given values win over saved ones
        given = read_static(static_df, spec.static).reindex(list(ids))
        table = given.where(given.notna().all(axis=1), table, axis=0)
    absent = table.index[table.isna().any(axis=1)].tolist()
    if absent:
        raise DataError(
            f"no static values for series {_shown(absent)}, which the model was not trained on; "
            f"pass static_df with unique_id and {list(spec.static)} for them"
        )
    return table.to_numpy(np.float64).reshape(len(ids), len(spec.static))


def _future_stamps(series: SeriesFrame, horizon: int) -> pd.Index:
    """The ``horizon`` dates after each series' end, series after series ``[S * horizon]``."""
    last = series.frame.groupby("unique_id", sort=False)["ds"].last()
    ids = series.series_ids
    return future_index(list(last[ids]), [series.freqs[uid] for uid in ids], horizon)


def _ticks(index: pd.Index) -> np.ndarray:
    """Time stamps as int64 (ns since the epoch for dates), so that two sources compare."""
    if isinstance(index, pd.DatetimeIndex):
        return index.as_unit("ns").asi8
    return np.asarray(index, dtype=np.int64)


def _stamp(value: Any) -> str:
    """A time stamp for a message: the date alone at midnight."""
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()
    return str(value)


def _shown(keys: Sequence[str], shown: int = 10) -> str:
    return ", ".join(repr(k) for k in keys[:shown]) + (
        f" and {len(keys) - shown} more" if len(keys) > shown else ""
    )
