"""Cut validated series into model windows, split per series into train | test | validation.

    prepared = prepare(series, window=24, horizon=6, transform=RatioTransform("auto"))
    prepared.train.x, prepared.train.y_reg     # [N, window, F] inputs, [N, horizon] targets
    prepared.summary.line()                    # how many series each split got
    x = model_inputs(transform, uid, y, cov, window)   # a forecast's input, built the same way

``Splits`` (``data.splits``) is the split rule; statistics are fit on training parts only, and
every series stays in ``series_ids`` (to be forecast), even one without a training window. A
window with origin ``o`` (its last observed level) has targets ``r[o : o+H]`` and inputs
``r[o-window : o]`` as ``x [T, F]``: the standardised change, the standardised covariates (past,
future-known and static: ``covariates``), and a mask (1 real, 0 left padding before the series
start). ``series``, ``origin``, ``last`` and ``future`` trace each window back to its data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import as_strided

from foretune.metrics import segment_scales

from .calendar import season_lengths
from .covariates import unscaled
from .frame import SeriesFrame
from .moments import series_pairs
from .panel import Panel
from .paths import level_paths
from .splits import (
    AUTO_WINDOWS_MAX,
    AUTO_WINDOWS_SHARE,
    AUTO_WINDOWS_TARGET,
    MIN_INPUT_CHANGES,
    SPLITS,
    DataSummary,
    Splits,
    auto_split_windows,
    default_windows,
    minimum_length,
)
from .transform import RatioTransform

__all__ = [
    "AUTO_WINDOWS_MAX",
    "AUTO_WINDOWS_SHARE",
    "AUTO_WINDOWS_TARGET",
    "MIN_INPUT_CHANGES",
    "SPLITS",
    "DataSummary",
    "Panel",
    "PreparedData",
    "Splits",
    "WindowSet",
    "auto_split_windows",
    "cut_windows",
    "default_windows",
    "features",
    "fit_train_parts",
    "minimum_length",
    "model_inputs",
    "prepare",
    "series_splits",
]


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
    path: np.ndarray | None = None  # [N, H + 5] the level path in MASE units (``data.paths``)

    def __len__(self) -> int:
        return len(self.x)


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
    scales: np.ndarray | None = None,
) -> dict[str, WindowSet]:
    """Every series' windows of each split in ``parts``, by series then origin, from the
    statistics ``stats`` (``RatioTransform.stat_arrays`` of the panel's series, in its order).
    ``scales``: the series' MASE scales, for each window's level path (None: undefined)."""
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
        last_level, future = panel.y[at], panel.y[at[:, None] + steps]
        scale = np.full(len(series), np.nan) if scales is None else np.asarray(scales)[series]
        out[name] = WindowSet(
            view[base[series] + origin],
            ((targets - mu) / sigma).astype(np.float32),
            transform.labels(stats["scale"][series], last_level, targets, stats["kind"][series]),
            panel.index[series].astype(np.int64),
            origin.astype(np.int64),
            last_level,
            future,
            level_paths(stats["kind"][series], sigma[:, 0], mu[:, 0], last_level, future, scale),
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
    cut = cut_windows(transform, transform.stat_arrays(ids), panel, window, splits, scales=scales)
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
