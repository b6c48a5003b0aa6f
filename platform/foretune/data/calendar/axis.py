"""A panel's time axis as int64 ticks: regular grids at a frequency, and stamps for messages.

    axis, ticks = axis_of(parse_ds(frame["ds"]))          # parse_ds: data.checks
    grid = axis.grid(ticks[0], ticks[-1], "MS", grid_limit(len(ticks)))  # None: too many stamps
    on_grid("a", ticks, axis, "MS")                        # the grid; DataError for a stamp off it
    axis.index(grid), axis.stamp(ticks[0])                 # a DatetimeIndex, "2020-01-01"

Integer ``ds`` are their own ticks; datetimes are int64 ns since the epoch (UTC), shown in the
axis' time zone. A series' grid may hold at most ``MAX_GRID_GROWTH`` times its observations
(+1000) stamps, so a wrong frequency fails with a message instead of exhausting memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from foretune.errors import DataError

if TYPE_CHECKING:
    from .infer import Freq

MAX_GRID_GROWTH = 100
"""A series' regular grid may hold at most this many times its observations (+1000) stamps."""
#: Above this many steps between a panel's first and last stamp, grids are built per series.
_PANEL_GRID_STEPS = 5_000_000


class TimeAxis:
    """Integer steps, or datetimes as int64 ns since the epoch (UTC) in time zone ``tz``.

    Grids of anchored offsets (``MS``, ``W-SUN``, ``B``) are cut from one grid over the whole
    panel (``lo`` .. ``hi``) that is built once per frequency: ``pd.date_range`` is slow for them.
    ``local_freqs`` memoises the frequencies of three neighbouring stamps (``resolve`` fills it:
    the series of a panel share calendars).
    """

    def __init__(self, integer: bool, tz: Any = None, lo: int = 0, hi: int = 0) -> None:
        self.integer, self.tz, self.lo, self.hi = integer, tz, lo, hi
        self._panel: dict[Freq, np.ndarray | None] = {}
        self.local_freqs: dict[tuple[int, ...], Freq | None] = {}

    def index(self, ticks: np.ndarray) -> pd.Index:
        """``ticks`` as an int64 ``Index`` or a ``DatetimeIndex`` in the axis' time zone."""
        if self.integer:
            return pd.Index(np.asarray(ticks, dtype=np.int64), dtype=np.int64)
        index = pd.DatetimeIndex(np.asarray(ticks, dtype=np.int64).view("M8[ns]"))
        return index if self.tz is None else index.tz_localize("UTC").tz_convert(self.tz)

    def stamp(self, tick: int) -> str:
        """One tick as text for a message: the date alone at midnight (without a time zone)."""
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
                if (self.hi - self.lo) // step > _PANEL_GRID_STEPS
                else pd.date_range(start=start, end=end, freq=offset).as_unit("ns").asi8
            )
        return self._panel[freq]


def axis_of(ds: pd.Index) -> tuple[TimeAxis, np.ndarray]:
    """The axis of parsed ``ds`` (``parse_ds``) and its ticks (int64, a copy)."""
    if isinstance(ds, pd.DatetimeIndex):
        ticks = ds.asi8.copy()
        integer, tz = False, ds.tz
    else:
        ticks, integer, tz = np.asarray(ds, dtype=np.int64), True, None
    lo, hi = (int(ticks.min()), int(ticks.max())) if len(ticks) else (0, 0)
    return TimeAxis(integer, tz, lo, hi), ticks


def _arange(first: int, last: int, step: int, limit: int) -> np.ndarray | None:
    count = (last - first) // step + 1
    return None if count > limit else first + step * np.arange(count, dtype=np.int64)


def grid_limit(n: int) -> int:
    """Most stamps the grid of a series of ``n`` observations may hold."""
    return MAX_GRID_GROWTH * n + 1000


def freq_text(freq: Freq) -> str:
    """A frequency for a message: ``step 5`` or ``frequency 'MS'``."""
    return f"step {freq}" if isinstance(freq, int) else f"frequency {freq!r}"


def placed(grid: np.ndarray | None, ticks: np.ndarray) -> np.ndarray | None:
    """Each tick's position on ``grid`` (which must start at the first tick), or None when a
    tick is not on it."""
    if grid is None or len(grid) == 0 or grid[0] != ticks[0]:
        return None
    pos = np.searchsorted(grid, ticks)
    if (pos >= len(grid)).any() or (grid[pos] != ticks).any():
        return None
    return pos


def on_grid(uid: str, ticks: np.ndarray, axis: TimeAxis, freq: Freq) -> np.ndarray:
    """The grid at ``freq`` spanning ``ticks``; ``DataError`` when a stamp is off it or the grid
    would be too large (``grid_limit``)."""
    grid = axis.grid(ticks[0], ticks[-1], freq, grid_limit(len(ticks)))
    if grid is None:
        raise DataError(
            f"series {uid!r} spans {axis.stamp(ticks[0])} to {axis.stamp(ticks[-1])}: at "
            f"{freq_text(freq)} that is more than {grid_limit(len(ticks))} time stamps for "
            f"{len(ticks)} observations; check data.freq, or drop the series' old or isolated "
            "observations"
        )
    pos = np.searchsorted(grid, ticks)
    off = (pos >= len(grid)) | (grid[np.minimum(pos, len(grid) - 1)] != ticks)
    if off.any():
        raise DataError(
            f"series {uid!r} has time stamp {axis.stamp(ticks[off][0])} off its regular grid at "
            f"{freq_text(freq)} (which starts {axis.stamp(ticks[0])}); set data.freq to the "
            "frequency the data follows, or resample the series"
        )
    return grid
