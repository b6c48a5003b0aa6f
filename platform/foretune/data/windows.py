"""Cut validated series into model windows, split per series into train | test | validation.

``Splits`` is the one split rule (in changes: a series of ``n`` observations has ``n-1``): the last
``val_windows * horizon`` are validation, the ``test_windows * horizon`` before them test, the rest
training; a series too short for those trains on everything, and one shorter than
``minimum_length(horizon)`` has no window but is still forecast. Statistics are fit on training
parts only. ``prepare(series, window=..., horizon=..., transform=...)`` returns ``PreparedData``
(``summary.line()`` reports the splits). A window with origin ``o`` (its last observed level) has
targets ``r[o : o+H]`` and inputs ``r[o-window : o]`` as ``x [T, F]``: the standardised change,
the standardised covariates (past, future-known and static: ``covariates``), and a mask (1 real,
0 left padding before the series start);
``model_inputs`` builds a forecast's input from a history the same way. ``series``, ``origin``,
``last`` and ``future`` trace each window back to its data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import as_strided

from foretune.metrics import segment_scales

from .calendar import season_lengths
from .covariates import unscaled
from .transform import RatioTransform, series_pairs
from .validate import DataError, SeriesFrame

SPLITS = ("train", "val", "test")
#: Real input changes a training window needs at least (the rest of its input may be padding).
MIN_INPUT_CHANGES = 1


def minimum_length(horizon: int) -> int:
    """Fewest observations that give a training window: ``MIN_INPUT_CHANGES`` input change plus
    ``horizon`` target changes, i.e. ``horizon + 2``. Shorter series are still forecast."""
    return MIN_INPUT_CHANGES + horizon + 1


@dataclass
class WindowSet:
    """Windows of one split."""

    x: np.ndarray
    y_reg: np.ndarray
    y_dir: np.ndarray
    series: np.ndarray
    origin: np.ndarray
    last: np.ndarray  # [N] last observed level (original units)
    future: np.ndarray  # [N, H] the actual future levels (original units)

    def __len__(self) -> int:
        return len(self.x)


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


@dataclass
class PreparedData:
    """Everything training needs: the three splits and the fitted transform."""

    train: WindowSet
    val: WindowSet
    test: WindowSet
    transform: RatioTransform
    window: int
    horizon: int
    covariates: tuple[str, ...]
    series_ids: list[str]
    freqs: dict[str, object] = field(default_factory=dict)
    mase_scale: np.ndarray | None = None  # [n_series] in-sample seasonal-naive MAE (train part)
    summary: DataSummary | None = None

    @property
    def n_features(self) -> int:
        return int(self.train.x.shape[-1])


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


def default_windows(horizon: int, season: int | None, lengths: Sequence[int] | np.ndarray) -> list[int]:
    """Lookbacks to search: 1, 2, 3 and 5 times ``max(horizon, season)`` (each at least 2), without
    those above the median series length minus ``horizon`` (no cap without lengths); the smallest is
    always kept."""
    base = max(horizon, season or 1)
    candidates = sorted({max(2, k * base) for k in (1, 2, 3, 5)})
    lengths = np.asarray(lengths)
    cap = int(np.median(lengths)) - horizon if lengths.size else candidates[-1]
    return [w for w in candidates if w <= cap] or candidates[:1]


# -- the panel as flat arrays -------------------------------------------------------------------
@dataclass
class Panel:
    """Series one after another: levels ``y [N]`` and covariates ``cov [N, C]``; series ``i`` is
    rows ``offsets[i] : offsets[i+1]`` and has index ``index[i]`` into ``series_ids``."""

    offsets: np.ndarray
    y: np.ndarray
    cov: np.ndarray
    index: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def seg(self) -> np.ndarray:
        """The series (position in this panel) of each row."""
        return np.repeat(np.arange(len(self.offsets) - 1), self.lengths)

    @classmethod
    def of(cls, data: SeriesFrame) -> Panel:
        """A validated frame's series in ``series_ids`` order (each in its time order)."""
        frame, ids = data.frame, data.series_ids
        y = frame["y"].to_numpy(np.float64)
        cov = frame[list(data.covariates)].to_numpy(np.float64)
        uid = frame["unique_id"].to_numpy()
        starts = np.flatnonzero(np.r_[True, uid[1:] != uid[:-1]]) if len(uid) else np.zeros(0, np.int64)
        if len(starts) == len(ids) and [str(u) for u in uid[starts]] == ids:  # grouped in id order
            return cls(np.r_[starts, len(uid)], y, cov, np.arange(len(ids)))
        codes, uniques = pd.factorize(frame["unique_id"].astype(str))
        rank = pd.Index(ids).get_indexer(uniques)
        if (rank < 0).any():
            raise DataError(f"series {uniques[np.flatnonzero(rank < 0)[0]]!r} has no frequency")
        pos = rank[codes]
        order = np.argsort(pos, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(pos, minlength=len(ids)))])
        return cls(offsets, y[order], cov[order], np.arange(len(ids)))

    @classmethod
    def one(cls, y: np.ndarray, cov: np.ndarray | None = None, index: int = 0) -> Panel:
        y = np.asarray(y, dtype=np.float64)
        cov = np.zeros((len(y), 0)) if cov is None else np.asarray(cov, dtype=np.float64)
        return cls(np.array([0, len(y)]), y, cov, np.array([index]))

    def head(self, levels: np.ndarray) -> Panel:
        """The first ``levels[i]`` rows of each series."""
        seg = self.seg
        keep = np.arange(len(self.y)) - self.offsets[seg] < levels[seg]
        offsets = np.concatenate([[0], np.cumsum(levels)])
        return Panel(offsets, self.y[keep], self.cov[keep], self.index)


def fit_train_parts(
    transform: RatioTransform, uids: Sequence[str], panel: Panel, splits: Splits, seasons: np.ndarray
) -> np.ndarray:
    """Fit ``transform`` on each series' training levels; return their MASE scales ``[S]``."""
    n_train = np.asarray(splits.lengths(panel.lengths)[0])
    train = panel.head(np.minimum(n_train + 1, panel.lengths))
    # an auto transform picks each series' kind on all its levels, so later ones fit it too
    kinds = transform.choose_many(panel.offsets, panel.y) if transform.kind == "auto" else None
    transform.fit_many(uids, train.offsets, train.y, train.cov, kinds)
    return segment_scales(train.y, train.offsets, seasons)


# -- windows ------------------------------------------------------------------------------------
def _level_changes(
    transform: RatioTransform, panel: Panel, kinds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The change into every level ``r [N]`` (0 at a series' first level) and ``inner [N]``, False
    at a series' first level (no change into it). ``kinds``: each series' kind."""
    pairs, pair_seg = series_pairs(panel.y, panel.seg)
    inner = np.ones(len(panel.y), dtype=bool)
    inner[panel.offsets[:-1][panel.lengths > 0]] = False
    r = np.zeros(len(panel.y))
    r[inner] = transform.changes(pairs, kinds[pair_seg])[:, 0]
    return r, inner


def _level_rows(stats: dict[str, np.ndarray], panel: Panel, r: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Feature row of every level ``[N, F]``: the standardised change into it, the standardised
    covariates at it, and 1; a series' first level is all zeros."""
    seg = panel.seg
    z = (r - stats["mu"][seg]) / stats["sigma"][seg]
    c = (panel.cov - stats["cov_mu"][seg]) / stats["cov_sigma"][seg] if panel.cov.shape[1] else panel.cov
    rows = np.concatenate([z[:, None], c, inner[:, None]], axis=1).astype(np.float32)
    rows[~inner] = 0.0
    return rows


def _rows_of(transform: RatioTransform, uid: str, panel: Panel) -> np.ndarray:
    stats = transform.stat_arrays([uid])
    return _level_rows(stats, panel, *_level_changes(transform, panel, stats["kind"]))


def _padded(rows: np.ndarray, panel: Panel, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` with ``window - 1`` zero rows before each series, as a strided view of every
    ``window`` consecutive rows ``[L, window, F]``, and where each series' level 0 starts in
    it: the window ending at origin ``o`` of series ``i`` is ``view[base[i] + o]``."""
    n_series, pad = len(panel.lengths), window - 1
    padded = np.zeros((len(rows) + n_series * pad + 1, rows.shape[1]), dtype=np.float32)
    padded[np.arange(len(rows)) + pad * (panel.seg + 1)] = rows
    base = panel.offsets[:-1] + pad * np.arange(n_series)
    step, width = padded.strides
    view = as_strided(padded, (len(padded) - window + 1, window, rows.shape[1]), (step, step, width))
    return view, base


def cut_windows(
    transform: RatioTransform,
    stats: dict[str, np.ndarray],
    panel: Panel,
    window: int,
    splits: Splits,
    parts: Sequence[str] = SPLITS,
) -> dict[str, WindowSet]:
    """Every series' windows of each split in ``parts``, by series then origin, from the
    statistics ``stats`` (``RatioTransform.stat_arrays`` of the panel's series, in its order)."""
    horizon = splits.horizon
    r, inner = _level_changes(transform, panel, stats["kind"])
    view, base = _padded(_level_rows(stats, panel, r, inner), panel, window)
    spans = splits.origins(panel.lengths, window)
    steps = np.arange(1, horizon + 1)
    out = {}
    for name in parts:
        first, last = spans[name]
        count = np.maximum(last - first + 1, 0)
        series = np.repeat(np.arange(len(count)), count)
        origin = first[series] + np.arange(len(series)) - (np.cumsum(count) - count)[series]
        at = panel.offsets[:-1][series] + origin  # the origin's row
        targets = r[at[:, None] + steps]
        mu, sigma = stats["mu"][series, None], stats["sigma"][series, None]
        last_level = panel.y[at]
        out[name] = WindowSet(
            view[base[series] + origin],
            ((targets - mu) / sigma).astype(np.float32),
            transform.labels(stats["scale"][series], last_level, targets, stats["kind"][series]),
            panel.index[series].astype(np.int64),
            origin.astype(np.int64),
            last_level,
            panel.y[at[:, None] + steps],
        )
    return out


def prepare(
    data: SeriesFrame,
    *,
    window: int,
    horizon: int,
    transform: RatioTransform,
    val_windows: int = 1,
    test_windows: int = 1,
    holdout_windows: int = 0,
    season: int | None = None,
) -> PreparedData:
    """Fit ``transform`` on each series' training part and cut all three splits into windows.

    Every series is kept in ``series_ids`` (to be forecast), even one without a training window.
    ``season`` (default: each series' ``season_length`` of its frequency) scales MASE.
    ``holdout_windows``: see ``Splits`` (no window reaches the held-out observations).
    Raises ``DataError`` when no series is long enough for a validation window.
    """
    splits = Splits(horizon, val_windows, test_windows, holdout_windows)
    ids = data.series_ids
    transform.unscaled = unscaled(data.covariates)  # calendar and static columns stay as they are
    panel = Panel.of(data)
    splits.require_validation(panel.lengths)
    seasons = season_lengths([data.freqs[uid] for uid in ids], season)
    scales = fit_train_parts(transform, ids, panel, splits, seasons)
    cut = cut_windows(transform, transform.stat_arrays(ids), panel, window, splits)
    return PreparedData(
        cut["train"],
        cut["val"],
        cut["test"],
        transform,
        window,
        horizon,
        data.covariates,
        ids,
        dict(data.freqs),
        scales,
        splits.summary(panel.lengths, window),
    )


def series_splits(
    transform: RatioTransform,
    uid: str,
    index: int,
    y: np.ndarray,
    cov: np.ndarray,
    window: int,
    splits: Splits,
    parts: Sequence[str] = SPLITS,
) -> dict[str, WindowSet]:
    """One series' windows of each split in ``parts`` (``transform`` already fit on it)."""
    panel = Panel.one(y, cov, index)
    return cut_windows(transform, transform.stat_arrays([uid]), panel, window, splits, parts)


def features(transform: RatioTransform, uid: str, y: np.ndarray, cov: np.ndarray | None) -> np.ndarray:
    """Model features ``[n-1, F]`` of a whole series: standardised changes, covariates, mask 1."""
    return _rows_of(transform, uid, Panel.one(y, cov))[1:]


def model_inputs(
    transform: RatioTransform, uid: str, y: np.ndarray, cov: np.ndarray | None, window: int
) -> np.ndarray:
    """The input ``[window, F]`` of a forecast from the end of history ``y`` (and ``cov``): its
    last ``window`` feature rows, left-padded with zero rows (mask 0) when the history is shorter.
    Training windows are built the same way: a window equals ``model_inputs`` of its history."""
    panel = Panel.one(y, cov)
    rows = _rows_of(transform, uid, panel)
    if not len(panel.y):
        return np.zeros((window, rows.shape[1]), dtype=np.float32)
    view, base = _padded(rows, panel, window)
    return np.array(view[base[0] + len(panel.y) - 1])
