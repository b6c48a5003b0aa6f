"""Cut validated series into model windows with chronological train / validation / test splits.

Per series with ``n`` observations there are ``n-1`` changes ``r`` (see ``transform``). The last
``test`` changes are the test part, the ``val`` before them the validation part, the rest train:
``val = max(horizon, round(val_fraction * (n-1)))`` and ``test`` likewise (0 when
``test_fraction`` is 0). A window's *targets* lie wholly inside one part; its inputs (the ``window``
changes before the targets) may reach back into earlier parts, as at forecast time. Statistics are
fit on the training part only.

Arrays: ``x [N, T, F]`` (feature 0 the standardised change, then standardised covariates observed
at the same time stamps), ``y_reg [N, H]`` standardised future changes, ``y_dir [N, H]`` direction
labels, plus ``series [N]`` (index into ``series_ids``) and ``origin [N]`` (index of the last
observed level in the series), ``last [N]`` (that level) and ``future [N, H]`` (the true future
levels) so every window can be traced back to its data and scored in original units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from foretune.evaluate.metrics import mase_scale

from .calendar import season_length
from .io import DataError, SeriesFrame
from .transform import RatioTransform


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

    @property
    def n_features(self) -> int:
        return int(self.train.x.shape[-1])


def split_lengths(n_changes: int, horizon: int, val_fraction: float, test_fraction: float):
    """Lengths (train, val, test) of the change series of one series."""
    val = max(horizon, round(val_fraction * n_changes))
    test = max(horizon, round(test_fraction * n_changes)) if test_fraction > 0 else 0
    return n_changes - val - test, val, test


def minimum_length(window: int, horizon: int, val_fraction: float, test_fraction: float) -> int:
    """Fewest observations a series needs so that every split has at least one window."""
    n = window + horizon + 1
    while split_lengths(n - 1, horizon, val_fraction, test_fraction)[0] < window + horizon:
        n += 1
    return n


def prepare(
    data: SeriesFrame,
    *,
    window: int,
    horizon: int,
    transform: RatioTransform,
    val_fraction: float = 0.15,
    test_fraction: float = 0.1,
) -> PreparedData:
    """Fit ``transform`` on each series' training part and cut all three splits into windows."""
    parts: dict[str, list[WindowSet]] = {"train": [], "val": [], "test": []}
    scales = []
    need = minimum_length(window, horizon, val_fraction, test_fraction)
    ids = data.series_ids
    for index, (uid, group) in enumerate(data.frame.groupby("unique_id", sort=False)):
        y = group["y"].to_numpy(np.float64)
        cov = group[list(data.covariates)].to_numpy(np.float64)
        n_train = split_lengths(len(y) - 1, horizon, val_fraction, test_fraction)[0]
        if n_train < window + horizon:
            raise DataError(
                f"series {uid!r} has {len(y)} observations, too few for a training window with "
                f"window={window}, horizon={horizon} and the validation/test fractions (needs "
                f"at least {need}). Use a shorter window or horizon, smaller fractions, or drop "
                "the series"
            )
        transform.fit_series(uid, y[: n_train + 1], cov[: n_train + 1])
        scales.append(mase_scale(y[: n_train + 1], season_length(data.freqs[uid])))
        cut = series_splits(transform, uid, index, y, cov, window, horizon, val_fraction, test_fraction)
        for name, windows in cut.items():
            parts[name].append(windows)
    merged = {name: _concat(sets) for name, sets in parts.items()}
    return PreparedData(
        merged["train"],
        merged["val"],
        merged["test"],
        transform,
        window,
        horizon,
        data.covariates,
        ids,
        dict(data.freqs),
        np.asarray(scales),
    )


def features(transform: RatioTransform, uid: str, y: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Model features ``[n-1, F]`` of a whole series: standardised changes, then covariates."""
    z = transform.standardize(uid, transform.changes(y))[:, None]
    if cov.shape[-1] == 0:
        return z.astype(np.float32)
    c = transform.standardize_covariates(uid, cov[1:])
    return np.concatenate([z, c], axis=1).astype(np.float32)


def series_splits(
    transform: RatioTransform,
    uid: str,
    index: int,
    y: np.ndarray,
    cov: np.ndarray,
    window: int,
    horizon: int,
    val_fraction: float,
    test_fraction: float,
    parts: tuple[str, ...] = ("train", "val", "test"),
) -> dict[str, WindowSet]:
    """One series' windows of each split in ``parts`` (``transform`` already fit on it).

    Each split is cut from only the levels it needs (its targets and the ``window`` changes
    before them), so asking for one split costs that split alone.
    """
    n_train, n_val, n_test = split_lengths(len(y) - 1, horizon, val_fraction, test_fraction)
    bounds = {
        "train": (0, n_train),
        "val": (n_train, n_train + n_val),
        "test": (n_train + n_val, n_train + n_val + n_test),
    }
    out = {}
    for name in parts:
        # targets r[o : o+H] must lie in the split's changes [lo, hi): origins o run from
        # max(lo, window) to hi - H; their inputs start `window` changes before the first one.
        lo, hi = bounds[name]
        first = max(lo, window)
        if hi - horizon < first:
            out[name] = _empty(window, horizon, 1 + cov.shape[-1])
            continue
        start = first - window
        cut = _series_windows(transform, uid, index, y[start : hi + 1], cov[start : hi + 1], window, horizon)
        cut.origin += start
        out[name] = cut
    return out


def _empty(window: int, horizon: int, n_features: int) -> WindowSet:
    return WindowSet(
        np.zeros((0, window, n_features), np.float32),
        np.zeros((0, horizon), np.float32),
        np.zeros((0, horizon), np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, np.float64),
        np.zeros((0, horizon), np.float64),
    )


def window_counts(
    n_obs: int, window: int, horizon: int, val_fraction: float, test_fraction: float
) -> tuple[int, int, int]:
    """How many (train, val, test) windows ``series_splits`` cuts from ``n_obs`` observations."""
    n_train, n_val, n_test = split_lengths(n_obs - 1, horizon, val_fraction, test_fraction)
    # origins run window..n-1-horizon; a split [lo, hi) keeps max(lo, window)..hi-horizon
    counts = []
    for lo, hi in ((0, n_train), (n_train, n_train + n_val), (n_train + n_val, n_obs - 1)):
        counts.append(max(0, hi - horizon - max(lo, window) + 1))
    return counts[0], counts[1], counts[2] if n_test else 0


def _series_windows(transform, uid, index, y, cov, window, horizon) -> WindowSet:
    feats = features(transform, uid, y, cov)  # [n-1, F]
    r = transform.changes(y)
    n_windows = len(r) - window - horizon + 1
    x = sliding_window_view(feats, window, axis=0)[:n_windows].transpose(0, 2, 1)
    targets = sliding_window_view(r, horizon)[window : window + n_windows]
    origin = np.arange(window, window + n_windows)  # index of first target change = last level
    y_dir = transform.direction(uid, y[origin], targets)
    y_reg = transform.standardize(uid, targets).astype(np.float32)
    series = np.full(n_windows, index, dtype=np.int64)
    future = sliding_window_view(y[1:], horizon)[window : window + n_windows]
    return WindowSet(np.ascontiguousarray(x), y_reg, y_dir, series, origin, y[origin], future)


def _concat(sets: list[WindowSet]) -> WindowSet:
    return WindowSet(*(np.concatenate([getattr(s, f) for s in sets]) for f in WindowSet.__dataclass_fields__))
