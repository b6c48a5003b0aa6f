"""The split rule, per series and counted from its end: train | test | validation | held out.

    splits = Splits(horizon, val_windows=1, test_windows=1, holdout_windows=0)
    splits.lengths(n_obs)                  # changes (train, val, test) of each series
    splits.origins(n_obs, window)          # each split's first and last window origin
    splits.summary(n_obs, window).line()   # "data: 8 series; train windows from 8 (0 padded), ..."

In changes (a series of ``n`` observations has ``n-1``): the last ``val_windows * horizon`` are
validation, the ``test_windows * horizon`` before them test, the rest training; a series too short
for those trains on everything, and one shorter than ``minimum_length(horizon)`` has no window but
is still forecast. ``auto_split_windows`` and ``default_windows`` pick the counts and lookbacks a
run leaves open (``data.val_windows: auto``, ``search.windows: null``) from the series' lengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from foretune.errors import DataError

SPLITS = ("train", "val", "test")
#: Real input changes a training window needs at least (the rest of its input may be padding).
MIN_INPUT_CHANGES = 1


def minimum_length(horizon: int) -> int:
    """Fewest observations that give a training window: ``MIN_INPUT_CHANGES`` input change plus
    ``horizon`` target changes, i.e. ``horizon + 2``. Shorter series are still forecast."""
    return MIN_INPUT_CHANGES + horizon + 1


@dataclass(frozen=True)
class DataSummary:
    """How many series each split got (a series counts once per split it has windows in)."""

    series: int
    train: int
    padded: int  # series with left-padded windows
    val: int
    test: int
    too_short: int  # series without a training window (still forecast)
    held_out: int = 0  # series whose last steps are held out of the run (for its report)
    held_steps: int = 0  # how many steps each of them holds out

    def line(self) -> str:
        """The summary as one line of the run's log (``data: 8 series; train windows from ...``)."""
        held = (
            f"; the last {self.held_steps} steps of {self.held_out} series held out for the report"
            if self.held_out
            else ""
        )
        return (
            f"data: {self.series} series; train windows from {self.train} ({self.padded} padded), "
            f"validation from {self.val}, test from {self.test}; {self.too_short} too short to "
            f"train (still forecast){held}"
        )


@dataclass(frozen=True)
class Splits:
    """The split rule, per series, in changes (``n_obs - 1`` of them).

    First the last ``holdout_windows * horizon`` observations of a series are held out of
    everything (``held_out``: the run's report scores them), where what remains still gives a
    training and a validation window; a shorter series is used whole. Of the rest, validation is
    the last ``val_windows * horizon`` changes and test the ``test_windows * horizon`` before them
    while training keeps ``horizon + 1`` changes (one window); else test is dropped, then
    validation. Every method takes a length or an array of lengths.

    Training origins run from ``first`` to ``m = n_train - horizon`` with ``first = window`` (full
    inputs) when that leaves at least ``window - 1`` windows, else the earliest origin that does,
    never before 1. So a short series gives all its windows (padded), and a longer one never
    gets fewer training windows than a shorter one of the same splits. When a series becomes
    long enough to hold out validation (or test), those changes leave training: the only places
    where its training count drops.
    """

    horizon: int
    val_windows: int = 1
    test_windows: int = 1
    holdout_windows: int = 0

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.val_windows < 1 or self.test_windows < 0 or self.holdout_windows < 0:
            raise ValueError(
                f"invalid {self}: needs horizon >= 1, val_windows >= 1, test_windows >= 0, "
                "holdout_windows >= 0"
            )

    def held_out(self, n_obs):
        """Observations held out at each series' end: ``holdout_windows * horizon`` where the rest
        still gives a training and a validation window, else 0 (the series is used whole)."""
        n = np.asarray(n_obs, dtype=np.int64)
        steps = self.holdout_windows * self.horizon
        keep = minimum_length(self.horizon) + self.val_windows * self.horizon
        held = np.where((steps > 0) & (n - steps >= keep), steps, 0)
        return int(held) if np.ndim(n) == 0 else held.astype(np.int64)

    def lengths(self, n_obs):
        """Changes ``(train, val, test)``; chronological order is train, test, validation (then
        the held-out observations)."""
        n = np.asarray(n_obs, dtype=np.int64)
        changes = np.maximum(n - self.held_out(n) - 1, 0)
        keep = minimum_length(self.horizon) - 1
        val, test = self.val_windows * self.horizon, self.test_windows * self.horizon
        has_val = changes >= keep + val
        has_test = has_val & (changes >= keep + val + test) & (test > 0)
        n_val = np.where(has_val, val, 0)
        n_test = np.where(has_test, test, 0)
        return _out(n, changes - n_val - n_test, n_val, n_test)

    def origins(self, n_obs, window: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each split's first and last origin (inclusive; none when last < first)."""
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        train, val, test = (np.asarray(a) for a in self.lengths(n_obs))
        m = train - self.horizon
        return {
            "train": (np.clip(m - window + 2, MIN_INPUT_CHANGES, window), m),
            "val": (train + test, train + test + val - self.horizon),
            "test": (train, train + test - self.horizon),
        }

    def counts(self, n_obs, window: int):
        """Windows ``(train, val, test)`` a series of ``n_obs`` observations gives."""
        spans = self.origins(n_obs, window)
        counts = [np.maximum(spans[k][1] - spans[k][0] + 1, 0) for k in SPLITS]
        return _out(np.asarray(n_obs), *counts)

    def summary(self, n_obs: np.ndarray, window: int) -> DataSummary:
        """The counts of series per split for a panel of lengths ``n_obs``."""
        spans = self.origins(n_obs, window)
        train, val, test = (np.asarray(c) for c in self.counts(n_obs, window))
        padded = (train > 0) & (spans["train"][0] < window)
        held = np.asarray(self.held_out(n_obs))
        return DataSummary(
            series=int(np.size(n_obs)),
            train=int(np.count_nonzero(train)),
            padded=int(np.count_nonzero(padded)),
            val=int(np.count_nonzero(val)),
            test=int(np.count_nonzero(test)),
            too_short=int(np.count_nonzero(train == 0)),
            held_out=int(np.count_nonzero(held)),
            held_steps=self.holdout_windows * self.horizon,
        )

    def require_validation(self, n_obs: np.ndarray) -> None:
        """Raise ``DataError`` when no series of a panel gives a validation window."""
        n_obs = np.asarray(n_obs)
        if np.any(np.asarray(self.lengths(n_obs)[1]) > 0):
            return
        need = minimum_length(self.horizon) + self.val_windows * self.horizon
        longest = int(n_obs.max()) if n_obs.size else 0
        raise DataError(
            f"no series is long enough for a validation window: with data.horizon={self.horizon} "
            f"and data.val_windows={self.val_windows} a series needs at least {need} observations "
            f"({minimum_length(self.horizon)} for a training window, then {self.val_windows} x "
            f"{self.horizon} validation steps); the longest has {longest}. Use a shorter "
            "data.horizon or fewer data.val_windows, or add longer series"
        )


#: ``auto`` validation (and test) windows aim at about this many in the panel: few series get
#: more windows each, so that selection and calibration see more than one stretch of time ...
AUTO_WINDOWS_TARGET = 10
#: ... at most this many per series ...
AUTO_WINDOWS_MAX = 5
#: ... and validation and test together at most this share of the median series' length (the
#: served members are retrained on all of it by ``evaluate.refit_full``).
AUTO_WINDOWS_SHARE = 0.4


def auto_split_windows(horizon: int, lengths: Sequence[int] | np.ndarray) -> int:
    """Validation windows per series (and as many test windows) for ``data.val_windows: auto``
    on series of ``lengths``: see the constants above; at least 1."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if not len(lengths):
        return 1
    wanted = -(-AUTO_WINDOWS_TARGET // len(lengths))
    room = int(AUTO_WINDOWS_SHARE * float(np.median(lengths)) // (2 * horizon))
    return int(max(1, min(wanted, AUTO_WINDOWS_MAX, room)))


def _out(n: np.ndarray, *arrays: np.ndarray):
    """Python ints for a scalar length, arrays for an array of lengths."""
    if np.ndim(n) == 0:
        return tuple(int(a) for a in arrays)
    return tuple(np.asarray(a, dtype=np.int64) for a in arrays)


#: Default lookbacks, as multiples of ``max(horizon, season)``: the short one sees half a season
#: or horizon (what changed lately), the long ones two or three (a season's shape, repeated).
LOOKBACK_MULTIPLES = (0.5, 1, 2, 3)


def default_windows(horizon: int, season: int | None, lengths: Sequence[int] | np.ndarray) -> list[int]:
    """Lookbacks to search: ``LOOKBACK_MULTIPLES`` of ``max(horizon, season)`` (each at least 2),
    without those above the median series length minus ``horizon`` (no cap without lengths); the
    smallest is always kept."""
    base = max(horizon, season or 1)
    candidates = sorted({max(2, round(k * base)) for k in LOOKBACK_MULTIPLES})
    lengths = np.asarray(lengths)
    cap = int(np.median(lengths)) - horizon if lengths.size else candidates[-1]
    return [w for w in candidates if w <= cap] or candidates[:1]
