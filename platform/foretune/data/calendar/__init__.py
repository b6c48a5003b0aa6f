"""Frequencies and seasons, in one place: infer, resolve a panel's, pick seasons, continue dates.

    infer_freq(ds)                       # "QS-OCT", "MS", "h" for dates; 5 for 1990, 1995, 2000
    data = validate(frame)               # resolves each series' frequency once (panel_freqs)
    season_lengths(data.freqs, season)   # the season rule on the validated frequencies
    future_dates(last_ds, "MS", 3)       # the next 3 time stamps

A *frequency* is a pandas offset alias (``"MS"``, ``"QS-OCT"``, ``"W-SUN"``, ``"h"``) for
datetime ``ds``, or a positive ``int`` step for integer ``ds``: what statsforecast's ``freq``
takes. Past validation, every stage reads ``SeriesFrame.freqs`` (or what a series store saved
from it) and gets seasons from ``season_lengths``: ``data.season`` if set, else each
frequency's ``season_length``. ``infer_freqs``/``series_seasons`` are for raw frames that were
not validated (a forecaster's history).

Modules: ``infer`` (one series, a raw frame), ``resolve`` (validate's rule for given, regular,
gapped and short series), ``axis`` (ticks and regular grids), ``seasons``, ``future``.
"""

from .axis import TimeAxis, axis_of
from .future import future_dates, future_index
from .infer import Freq, common_freq, infer_freq, infer_freqs, try_infer_freq
from .resolve import gapped_freq, given_freq, own_freq, panel_freqs, regular_freq, series_freq
from .seasons import season_length, season_lengths, series_seasons

__all__ = [
    "Freq",
    "TimeAxis",
    "axis_of",
    "common_freq",
    "future_dates",
    "future_index",
    "gapped_freq",
    "given_freq",
    "infer_freq",
    "infer_freqs",
    "own_freq",
    "panel_freqs",
    "regular_freq",
    "season_length",
    "season_lengths",
    "series_freq",
    "series_seasons",
    "try_infer_freq",
]
