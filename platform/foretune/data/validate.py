"""Validate a long frame into a ``SeriesFrame``: typed, sorted, on a regular grid, identity kept.

    data = validate(frame, fill="interpolate")     # SeriesFrame
    data.series_ids, data.freqs                    # str keys in input order, key -> frequency
    data.id_values["3"]                            # the id as the input held it (e.g. the int 3)

Rules: series keep their input order and identity (internal keys from ``series_key``); leading
and trailing NaN in ``y`` are dropped; each series is put on its regular grid at ``freq`` (given,
or inferred per series; a series too short to tell takes the panel's most common one); gaps
(missing time stamps, NaN) are an error naming the first one unless ``fill`` fills them.
Every problem a user can fix raises ``DataError`` naming the column, series, row or time stamp.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from foretune.errors import DataError

from .calendar import Freq, infer_freq
from .io import REQUIRED

FILLS = ("none", "ffill", "interpolate", "zero")
MAX_ABS_VALUE = 1e150
"""Largest |y| or |covariate| accepted: the transforms square values, which overflows above ~1e154."""
MAX_GRID_GROWTH = 100
"""A series' regular grid may hold at most this many times its observations (+1000) stamps."""
_FILL_HINT = "set data.fill to ffill, interpolate or zero to fill them, or fill them in the data"


def series_key(value: Any) -> str:
    """The str key that stands for one ``unique_id`` value everywhere inside foretune.

    Strings are their own key and integers their decimal text; an integral float maps to the
    integer's key (``1.0`` -> ``"1"``: pandas turns an int id column into floats once it holds a
    NaN), so a model trained on int ids recognises them.
    """
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else str(number)
    return str(value)


@dataclass(frozen=True)
class SeriesFrame:
    """A validated long frame plus what was learned about it.

    ``frame``: ``unique_id`` (str keys), ``ds``, ``y`` and the covariates (float64), sorted by
    series in input order, then time; every series on its regular grid without gaps.
    ``freqs``: key -> frequency, in input order. ``id_values``: key -> the id as the input held
    it; ``id_dtype``: the input's ``unique_id`` dtype (``original_ids`` restores both).
    ``inputs``: how the covariate columns were made (``covariates.InputSpec.to_dict``; empty:
    the data's own columns, past covariates only).
    """

    frame: pd.DataFrame
    covariates: tuple[str, ...]
    freqs: dict[str, Freq]
    id_values: dict[str, Any] = field(default_factory=dict)
    id_dtype: Any = field(default_factory=lambda: np.dtype(object))
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def series_ids(self) -> list[str]:
        return list(self.freqs)

    def original_ids(self, keys: Iterable[str]) -> pd.Series:
        """The input's id values for ``keys``, with the input column's dtype where it holds them."""
        values = [self.id_values.get(k, k) for k in keys]
        try:
            return pd.Series(values, dtype=self.id_dtype)
        except (TypeError, ValueError):
            return pd.Series(values, dtype=object)


@dataclass(frozen=True)
class RegularSeries:
    """One series on its regular grid: ``ds`` runs from its first to its last observation."""

    ds: pd.Index
    y: np.ndarray
    cov: np.ndarray
    freq: Freq
    inserted: int
    """Time stamps inserted (0 when the series had no missing stamps)."""


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
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"required column(s) {missing} missing; long format needs unique_id, ds, y "
            f"(found {list(frame.columns)})"
        )
    _check_fill(fill)
    covs = _covariates(frame, covariates)
    codes, keys, id_values = _series_keys(frame["unique_id"])
    y = _numbers(frame["y"], "y")
    cov = np.column_stack([_numbers(frame[c], c) for c in covs]) if covs else np.empty((len(frame), 0))
    ds = parse_ds(frame["ds"])
    axis, ticks = _axis_of(ds)
    given = _given_freq(freq, axis)
    _check_values(y, cov, covs, codes, keys, ticks, axis)

    order = np.lexsort((ticks, codes))  # stable: series in input order, then time
    codes, ticks, y, cov = codes[order], ticks[order], y[order], cov[order]
    _check_duplicates(codes, ticks, keys, order, axis)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, int)
    bounds = np.r_[starts, len(codes)]
    spans = []
    for i, key in enumerate(keys):
        first, last = _observed(key, y[bounds[i] : bounds[i + 1]])
        spans.append((bounds[i] + first, bounds[i] + last))

    freqs, regular_keys = _panel_freqs(keys, ticks, spans, axis, given)
    pieces = []
    for key, (s, e) in zip(keys, spans, strict=True):
        piece = _regularize(
            key, ticks[s:e], y[s:e], cov[s:e], axis, freqs[key], fill, covs, order[s:e], key in regular_keys
        )
        _check_regular(key, piece, transform, min_length, axis)
        pieces.append(piece)
    return SeriesFrame(
        _assemble(keys, pieces, covs, axis),
        tuple(covs),
        freqs,
        id_values,
        frame["unique_id"].dtype,
    )


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
    _check_fill(fill)
    axis, ticks = _axis_of(parse_ds(pd.Series(ds)))
    y = np.asarray(y, dtype=np.float64)
    cov = np.empty((len(y), 0)) if cov is None else np.asarray(cov, dtype=np.float64).reshape(len(y), -1)
    names = list(covariates) or [f"covariate {i}" for i in range(cov.shape[1])]
    if len(ticks) > 1 and (np.diff(ticks) <= 0).any():
        raise DataError(f"series {uid!r} has unsorted or duplicate time stamps; sort it by ds, one row each")
    _check_values(y, cov, names, np.zeros(len(y), np.int64), [uid], ticks, axis)
    first, last = _observed(uid, y)
    ticks, y, cov = ticks[first:last], y[first:last], cov[first:last]
    rows = np.arange(first, last)
    given = _given_freq(freq, axis)
    if given is None:
        fallback = _given_freq(fallback_freq, axis)
        if len(ticks) > 2:
            candidates = [] if fallback is None else [fallback]
            given = _regular_freq(ticks, axis, candidates) or _gapped_freq(uid, ticks, axis, candidates)
        else:
            given = _short_freq(uid, ticks, axis, fallback)
    grid, y, cov, inserted = _regularize(uid, ticks, y, cov, axis, given, fill, names, rows, False)
    return RegularSeries(axis.index(grid), y, cov, given, inserted)


def check_series(
    uid: str, ds: np.ndarray, y: np.ndarray, transform: str, min_length: int, *, freq: Freq | None = None
) -> Freq:
    """One series' length, regular spacing and values; returns its frequency. Raises ``DataError``.

    For a series already without gaps (see ``regularize_series``): ``freq`` None infers it.
    """
    y = np.asarray(y, dtype=np.float64)
    axis, ticks = _axis_of(parse_ds(pd.Series(ds)))
    _check_length(uid, len(y), min_length)
    bad = ~np.isfinite(y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"series {uid!r} has {int(bad.sum())} NaN/inf value(s) of y, the first at "
            f"{axis.stamp(ticks[i])}; {_FILL_HINT}"
        )
    _check_values(y, np.empty((len(y), 0)), [], np.zeros(len(y), np.int64), [uid], ticks, axis)
    given = _given_freq(freq, axis)
    if given is None:
        given = _regular_freq(ticks, axis) if len(ticks) > 1 else None
        if given is None and len(ticks) > 2:
            given = _gapped_freq(uid, ticks, axis, [])
        if given is None:
            raise DataError(
                f"series {uid!r}: cannot infer its frequency from {len(ticks)} time stamp(s) "
                f"starting {axis.stamp(ticks[0])}; set data.freq (a pandas alias or an integer step)"
            )
    if len(ticks) > 1:
        grid = _on_grid(uid, ticks, axis, given)
        if len(grid) != len(ticks):
            gap = grid[~np.isin(grid, ticks)][0]
            raise DataError(
                f"series {uid!r} has {len(grid) - len(ticks)} missing time stamp(s) at "
                f"{_freq_text(given)}, the first {axis.stamp(gap)}; {_FILL_HINT}"
            )
    _check_domain(uid, y, ticks, axis, transform)
    return given


# -- columns ------------------------------------------------------------------------------------
def _check_fill(fill: str) -> None:
    if fill not in FILLS:
        raise DataError(f"data.fill must be one of {list(FILLS)}, got {fill!r}")


def _covariates(frame: pd.DataFrame, requested: list[str] | tuple[str, ...] | None) -> list[str]:
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


def _numbers(column: pd.Series, name: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(column) or (name == "y" and pd.api.types.is_bool_dtype(column)):
        raise DataError(f"column {name!r} must be numeric, found dtype {column.dtype}")
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _rows(mask: np.ndarray, shown: int = 5) -> str:
    """``row 4`` or ``3 rows (first 4, 9, 12)``: the positions where ``mask`` holds."""
    rows = np.flatnonzero(mask)
    if len(rows) == 1:
        return f"row {int(rows[0])}"
    more = ", ..." if len(rows) > shown else ""
    return f"{len(rows)} rows (first {', '.join(str(int(r)) for r in rows[:shown])}{more})"


def _series_keys(ids: pd.Series) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Per-row series index (order of first appearance), each series' str key and original id."""
    null = ids.isna().to_numpy()
    if null.any():
        raise DataError(
            f"column 'unique_id' is empty (null) in {_rows(null)}; give every row a series id "
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
        raise DataError(f"column 'ds' is empty (null) in {_rows(null)}; give every row a time stamp")
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
                f"{float(values[fractional][0])!r} in {_rows(fractional)}); use dates or integer steps"
            )
        return pd.Index(values.astype(np.int64), dtype=np.int64)
    if not pd.api.types.is_datetime64_any_dtype(ds):
        with warnings.catch_warnings():  # pandas' parsing advice; the errors below say more
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(ds)  # one format, inferred from the first value: fast
            except (ValueError, TypeError, OverflowError):
                parsed = pd.to_datetime(ds, errors="coerce", format="mixed")  # each value on its own
        bad = parsed.isna().to_numpy()
        if bad.any():
            raise DataError(
                f"column 'ds' must hold dates (between the years 1677 and 2262) or integer time "
                f"steps; cannot read {ds[bad].iloc[0]!r} as a date ({_rows(bad)})"
            )
        ds = parsed
    try:
        return pd.DatetimeIndex(ds).as_unit("ns")
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataError(
            f"column 'ds' holds dates that do not form one time axis ({exc}); give every time stamp "
            "in one time zone, between the years 1677 and 2262"
        ) from None


# -- the time axis ------------------------------------------------------------------------------
class _Axis:
    """Integer steps, or datetimes as int64 ns since the epoch (UTC) in time zone ``tz``.

    Grids of anchored offsets (``MS``, ``W-SUN``, ``B``) are cut from one grid over the whole
    panel (``lo`` .. ``hi``) that is built once per frequency: ``pd.date_range`` is slow for them.
    """

    def __init__(self, integer: bool, tz: Any = None, lo: int = 0, hi: int = 0) -> None:
        self.integer, self.tz, self.lo, self.hi = integer, tz, lo, hi
        self._panel: dict[Freq, np.ndarray | None] = {}
        self._local: dict[tuple[int, ...], str | None] = {}

    def index(self, ticks: np.ndarray) -> pd.Index:
        if self.integer:
            return pd.Index(np.asarray(ticks, dtype=np.int64), dtype=np.int64)
        index = pd.DatetimeIndex(np.asarray(ticks, dtype=np.int64).view("M8[ns]"))
        return index if self.tz is None else index.tz_localize("UTC").tz_convert(self.tz)

    def stamp(self, tick: int) -> str:
        if self.integer:
            return str(int(tick))
        ts = self.index(np.array([tick]))[0]
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() and self.tz is None else str(ts)

    def grid(self, first: int, last: int, freq: Freq, limit: int) -> np.ndarray | None:
        """Ticks of the regular grid at ``freq`` from ``first`` (rolled forward to the offset's
        anchor) to ``last``; None when it would hold more than ``limit`` stamps."""
        if self.integer:
            return _arange(first, last, int(freq), limit)
        offset = to_offset(freq)
        if isinstance(offset, pd.offsets.Tick):
            if self.tz is None:
                return _arange(first, last, int(offset.nanos), limit)
            if (last - first) // offset.nanos + 1 > limit:
                return None
        elif offset.n == 1:
            panel = self._panel_grid(freq, offset)
            if panel is not None:
                start, stop = np.searchsorted(panel, first), np.searchsorted(panel, last, side="right")
                return None if stop - start > limit else panel[start:stop]
        start, end = self.index(np.array([first, last]))
        grid = pd.date_range(start=start, end=end, freq=offset).as_unit("ns").asi8
        return None if len(grid) > limit else grid

    def _panel_grid(self, freq: Freq, offset: Any) -> np.ndarray | None:
        if freq not in self._panel:
            start, end = self.index(np.array([self.lo, self.hi]))
            probe = pd.date_range(start=start, periods=3, freq=offset)
            step = max(int(min(np.diff(probe.asi8), default=1)), 1)
            self._panel[freq] = (
                None
                if (self.hi - self.lo) // step > 5_000_000
                else pd.date_range(start=start, end=end, freq=offset).as_unit("ns").asi8
            )
        return self._panel[freq]

    def local_freq(self, ticks: np.ndarray) -> str | None:
        """``pd.infer_freq`` of three neighbouring stamps (cached: panels share calendars)."""
        key = tuple(int(t) for t in ticks)
        if key not in self._local:
            self._local[key] = pd.infer_freq(self.index(ticks))
        return self._local[key]


def _arange(first: int, last: int, step: int, limit: int) -> np.ndarray | None:
    count = (last - first) // step + 1
    return None if count > limit else first + step * np.arange(count, dtype=np.int64)


def _axis_of(ds: pd.Index) -> tuple[_Axis, np.ndarray]:
    if isinstance(ds, pd.DatetimeIndex):
        ticks = ds.asi8.copy()
        integer, tz = False, ds.tz
    else:
        ticks, integer, tz = np.asarray(ds, dtype=np.int64), True, None
    lo, hi = (int(ticks.min()), int(ticks.max())) if len(ticks) else (0, 0)
    return _Axis(integer, tz, lo, hi), ticks


def _given_freq(freq: Freq | None, axis: _Axis) -> Freq | None:
    """``data.freq`` checked against the kind of ``ds``: an int step or a pandas alias."""
    if freq is None:
        return None
    if isinstance(freq, str) and freq.strip().isdigit():
        freq = int(freq)
    if isinstance(freq, (bool, np.bool_)):
        raise DataError(f"data.freq must be a pandas frequency alias or an integer step, got {freq!r}")
    if isinstance(freq, (int, np.integer)):
        if not axis.integer:
            raise DataError(
                f"data.freq={freq} is an integer step but ds holds dates; give a pandas alias "
                "such as 'D', 'MS' or '30min'"
            )
        if freq <= 0:
            raise DataError(f"data.freq must be a positive integer step, got {freq}")
        return int(freq)
    if axis.integer:
        raise DataError(
            f"data.freq={freq!r} is a date frequency but ds holds integer steps; give an int step"
        )
    try:
        offset = to_offset(freq)
    except (ValueError, TypeError):
        raise DataError(
            f"data.freq={freq!r} is not a pandas frequency alias (e.g. 'D', 'MS', '30min')"
        ) from None
    if offset.n <= 0:
        raise DataError(f"data.freq must step forward, got {freq!r}")
    return str(freq)


def _freq_text(freq: Freq) -> str:
    return f"step {freq}" if isinstance(freq, int) else f"frequency {freq!r}"


def _limit(n: int) -> int:
    return MAX_GRID_GROWTH * n + 1000


def _placed(grid: np.ndarray | None, ticks: np.ndarray) -> np.ndarray | None:
    """Each tick's position on ``grid``, or None when a tick is not on it."""
    if grid is None or len(grid) == 0 or grid[0] != ticks[0]:
        return None
    pos = np.searchsorted(grid, ticks)
    if (pos >= len(grid)).any() or (grid[pos] != ticks).any():
        return None
    return pos


def _on_grid(uid: str, ticks: np.ndarray, axis: _Axis, freq: Freq) -> np.ndarray:
    """The grid at ``freq`` spanning ``ticks``; ``DataError`` when a stamp is off it."""
    grid = axis.grid(ticks[0], ticks[-1], freq, _limit(len(ticks)))
    if grid is None:
        raise DataError(
            f"series {uid!r} spans {axis.stamp(ticks[0])} to {axis.stamp(ticks[-1])}: at "
            f"{_freq_text(freq)} that is more than {_limit(len(ticks))} time stamps for {len(ticks)} "
            "observations; check data.freq, or drop the series' old or isolated observations"
        )
    pos = np.searchsorted(grid, ticks)
    off = (pos >= len(grid)) | (grid[np.minimum(pos, len(grid) - 1)] != ticks)
    if off.any():
        raise DataError(
            f"series {uid!r} has time stamp {axis.stamp(ticks[off][0])} off its regular grid at "
            f"{_freq_text(freq)} (which starts {axis.stamp(ticks[0])}); set data.freq to the "
            "frequency the data follows, or resample the series"
        )
    return grid


def _regular_freq(ticks: np.ndarray, axis: _Axis, candidates: Sequence[Freq] = ()) -> Freq | None:
    """The frequency of a regularly spaced series (3+ observations), else None: the first
    candidate if it follows it exactly, else ``infer_freq`` (skipped, as slow, when the series
    sits on the candidate's grid with gaps)."""
    if candidates:
        grid = axis.grid(ticks[0], ticks[-1], candidates[0], _limit(len(ticks)))
        pos = _placed(grid, ticks)
        if pos is not None:
            return candidates[0] if len(grid) == len(ticks) else None
    try:
        return infer_freq(ticks) if axis.integer else pd.infer_freq(axis.index(ticks))
    except ValueError:
        return None


def _gapped_freq(uid: str, ticks: np.ndarray, axis: _Axis, candidates: Sequence[Freq]) -> Freq:
    """The frequency of a series of 3+ observations that is not regularly spaced (gaps).

    The coarsest grid that holds every stamp, with at least half of the steps between neighbours,
    wins: the gcd of the steps for integer ``ds``; else among the ``candidates`` (the panel's
    common frequencies) and those of the series' own runs of three. ``DataError`` when none fits.
    """
    steps = np.diff(ticks)
    if axis.integer:
        step = int(np.gcd.reduce(steps))
        if (steps == step).mean() >= 0.5 and (ticks[-1] - ticks[0]) // step < _limit(len(ticks)):
            return step
    else:
        options = list(dict.fromkeys(candidates))
        for i in np.unique(np.linspace(0, len(ticks) - 3, min(len(ticks) - 2, 12)).astype(int)):
            local = axis.local_freq(ticks[i : i + 3])
            if local is not None and local not in options:
                options.append(local)
        best: tuple[int, Freq] | None = None
        for option in options:
            grid = axis.grid(ticks[0], ticks[-1], option, _limit(len(ticks)))
            pos = _placed(grid, ticks)
            if (
                pos is not None
                and (np.diff(pos) == 1).mean() >= 0.5
                and (best is None or len(grid) < best[0])
            ):
                best = (len(grid), option)
        if best is not None:
            return best[1]
    change = int(np.flatnonzero(steps != steps[0])[0]) + 1 if (steps != steps[0]).any() else 1
    raise DataError(
        f"series {uid!r} is irregularly spaced: no regular frequency fits its time stamps (they "
        f"start {', '.join(axis.stamp(t) for t in ticks[:3])}; the step first changes at "
        f"{axis.stamp(ticks[change])}); set data.freq to the frequency the data should follow "
        "(missing time stamps then follow data.fill), or resample the series"
    )


def _short_freq(uid: str, ticks: np.ndarray, axis: _Axis, panel: Freq | None) -> Freq:
    """The frequency of a series of 1-2 observations: the panel's, else (int ds) its own step."""
    if panel is not None and (
        len(ticks) == 1
        or _placed(axis.grid(ticks[0], ticks[-1], panel, _limit(len(ticks))), ticks) is not None
    ):
        return panel
    if axis.integer and len(ticks) == 2:
        return int(ticks[1] - ticks[0])
    why = (
        f"its time stamps do not fit the panel's most common frequency {panel!r}"
        if panel is not None
        else "no other series shows the panel's frequency"
    )
    raise DataError(
        f"series {uid!r} has {len(ticks)} observation(s), too few to infer its frequency, and {why}; "
        "set data.freq (a pandas alias such as 'MS' or an integer step)"
    )


def _panel_freqs(
    keys: list[str], ticks: np.ndarray, spans: list[tuple[int, int]], axis: _Axis, given: Freq | None
) -> tuple[dict[str, Freq], set[str]]:
    """Each series' frequency (``given``, else inferred; series of 1-2 observations take the most
    common one), and the keys of the series already known to be regular (no gaps)."""
    if given is not None:
        return dict.fromkeys(keys, given), set()
    found: dict[str, Freq] = {}
    regular = set()
    seen: Counter[Freq] = Counter()
    for key, (s, e) in zip(keys, spans, strict=True):
        if e - s > 2:
            candidates = [f for f, _ in seen.most_common(3)]
            freq = _regular_freq(ticks[s:e], axis, candidates)
            if freq is None:
                freq = _gapped_freq(key, ticks[s:e], axis, candidates)
            else:
                regular.add(key)
            found[key] = freq
            seen[freq] += 1
    common = Counter(found.values()).most_common(1)
    panel = common[0][0] if common else None
    freqs = {}
    for key, (s, e) in zip(keys, spans, strict=True):
        freqs[key] = found[key] if key in found else _short_freq(key, ticks[s:e], axis, panel)
    return freqs, regular


# -- values -------------------------------------------------------------------------------------
def _check_values(
    y: np.ndarray,
    cov: np.ndarray,
    names: Sequence[str],
    codes: np.ndarray,
    keys: list[str],
    ticks: np.ndarray,
    axis: _Axis,
) -> None:
    """Inf in ``y``, and magnitudes above ``MAX_ABS_VALUE`` anywhere: ``DataError`` naming the row."""
    inf = np.isinf(y)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise DataError(
            f"column 'y' is infinite in {_rows(inf)}, the first in series {keys[codes[i]]!r} at "
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


def _check_duplicates(
    codes: np.ndarray, ticks: np.ndarray, keys: list[str], rows: np.ndarray, axis: _Axis
) -> None:
    dup = np.r_[False, (codes[1:] == codes[:-1]) & (ticks[1:] == ticks[:-1])]
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"series {keys[codes[i]]!r} has duplicate time stamp ds={axis.stamp(ticks[i])} (rows "
            f"{int(rows[i - 1])} and {int(rows[i])}; {int(dup.sum())} extra row(s) in all); keep one "
            "row per series and time"
        )


def _observed(uid: str, y: np.ndarray) -> tuple[int, int]:
    """Positions ``[first, last + 1)`` of a series' first and last observed (non-NaN) ``y``."""
    seen = np.flatnonzero(~np.isnan(y))
    if len(seen) == 0:
        raise DataError(
            f"series {uid!r} has no observation: y is NaN in all its {len(y)} row(s); drop the series"
        )
    return int(seen[0]), int(seen[-1]) + 1


def _regularize(
    uid: str,
    ticks: np.ndarray,
    y: np.ndarray,
    cov: np.ndarray,
    axis: _Axis,
    freq: Freq,
    fill: str,
    names: Sequence[str],
    rows: np.ndarray,
    regular: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(grid, y, cov, inserted)``: the series on its grid with gaps filled, or ``DataError``.
    ``regular``: the stamps are known to be the whole grid."""
    grid = ticks if regular or len(ticks) == 1 else _on_grid(uid, ticks, axis, freq)
    cov = np.where(np.isfinite(cov), cov, np.nan)  # inf in a covariate is a missing value
    missing_y = np.isnan(y)
    missing_cov = np.isnan(cov)
    inserted = len(grid) - len(ticks)
    if not inserted and not missing_y.any() and not missing_cov.any():
        return grid, y, cov, 0
    if fill == "none":
        if inserted or missing_y.any():
            absent = grid[~np.isin(grid, ticks)]
            nan = np.flatnonzero(missing_y)
            if len(absent) and (not len(nan) or absent[0] < ticks[nan[0]]):
                what = f"no row for time stamp {axis.stamp(absent[0])}"
            else:
                what = f"y is NaN at {axis.stamp(ticks[nan[0]])} (row {int(rows[nan[0]])})"
            raise DataError(
                f"series {uid!r} has {inserted + int(missing_y.sum())} gap(s) at {_freq_text(freq)} "
                f"({inserted} missing time stamp(s), {int(missing_y.sum())} NaN value(s) of y); the "
                f"first: {what}; {_FILL_HINT}"
            )
        column = int(np.flatnonzero(missing_cov.any(axis=0))[0])
        i = int(np.flatnonzero(missing_cov[:, column])[0])
        raise DataError(
            f"column {names[column]!r} has {int(missing_cov[:, column].sum())} NaN/inf value(s) in "
            f"series {uid!r}, the first at ds={axis.stamp(ticks[i])} (row {int(rows[i])}); {_FILL_HINT}"
        )
    pos = np.searchsorted(grid, ticks)
    full_y = np.full(len(grid), np.nan)
    full_y[pos] = y
    full_cov = np.full((len(grid), cov.shape[1]), np.nan)
    full_cov[pos] = cov
    full_y = _fill(full_y, fill)
    for j in range(full_cov.shape[1]):
        if fill != "zero" and np.isnan(full_cov[:, j]).all():
            raise DataError(
                f"column {names[j]!r} has no value in series {uid!r}, so data.fill={fill} has "
                "nothing to fill from; give it values, or use data.fill: zero"
            )
        full_cov[:, j] = _fill(full_cov[:, j], fill)
    return grid, full_y, full_cov, inserted


def _fill(values: np.ndarray, fill: str) -> np.ndarray:
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


def _check_length(uid: str, n: int, min_length: int) -> None:
    need = max(int(min_length), 1)
    if n < need:
        raise DataError(
            f"series {uid!r} has {n} observations but needs at least {need} "
            "(window + horizon + 1); shorten the window or horizon, or drop the series"
        )


def _check_regular(
    uid: str,
    regular: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    transform: str,
    min_length: int,
    axis: _Axis,
) -> None:
    grid, y, _, _ = regular
    _check_length(uid, len(y), min_length)
    _check_domain(uid, y, grid, axis, transform)


def _check_domain(uid: str, y: np.ndarray, ticks: np.ndarray, axis: _Axis, transform: str) -> None:
    if transform == "log_ratio" and (y <= 0).any():
        i = int(np.flatnonzero(y <= 0)[0])
        raise DataError(
            f"series {uid!r} has a value <= 0 ({y[i]}) at position {i} (ds={axis.stamp(ticks[i])}), "
            "which the log_ratio transform cannot take; use data.transform: auto (log_ratio only "
            "where a series is positive) or diff for such data"
        )


def _assemble(
    keys: list[str],
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]],
    covs: list[str],
    axis: _Axis,
) -> pd.DataFrame:
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
