"""Model inputs of an ensemble: each series' last windows, built one way for forecasts and attributions.

    history = read_history(data, transform_kind, covariates, min_length, series=None)
    inputs = build_inputs(history, transform, covariates, windows, scales=None)
    inputs.windows[w]   # [N, w, F] float32: the last w feature rows of each of the N series

Series seen in training use the transform's saved statistics; a new series of the same kind
(global models) gets statistics fit on the history it comes with, in a copy of the transform.
Everything that feeds the members (``Ensemble.predict``, attributions) builds its inputs here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foretune.data import (
    DataError,
    RatioTransform,
    SeriesFrame,
    features,
    read_frame,
    season_length,
    validate,
)
from foretune.evaluate import metrics as M


@dataclass
class ModelInputs:
    """The last windows of ``N`` series and what a forecast needs to know of each."""

    uids: list[str]
    windows: dict[int, np.ndarray]  # window length -> [N, window, F]
    transform: RatioTransform  # the given one plus statistics of the series it had not seen
    last: np.ndarray  # [N] last observed level
    last_ds: list[Any]  # [N] last time stamp
    freqs: list[Any]  # [N] frequency
    scale: np.ndarray | None  # [N] MASE scale, when ``build_inputs`` got ``scales``


def read_history(
    data: pd.DataFrame | str | Path,
    transform_kind: str,
    covariates: Sequence[str],
    min_length: int,
    series: Sequence[Any] | None = None,
) -> SeriesFrame:
    """Read and validate ``data`` (a frame or Parquet path), keeping only ``series`` if given.

    Raises ``DataError`` naming the requested series that are not in ``data``.
    """
    frame = read_frame(data)
    if series:
        wanted = list(dict.fromkeys(str(s) for s in series))
        present = set(frame["unique_id"].astype(str))
        missing = [s for s in wanted if s not in present]
        if missing:
            shown = ", ".join(sorted(present)[:20]) + (" ..." if len(present) > 20 else "")
            raise DataError(f"series {missing} not in the data; available: {shown}")
        frame = frame[frame["unique_id"].astype(str).isin(wanted)]
    return validate(frame, transform=transform_kind, min_length=min_length, covariates=list(covariates))


def build_inputs(
    history: SeriesFrame,
    transform: RatioTransform,
    covariates: Sequence[str],
    windows: Iterable[int],
    scales: Mapping[str, float] | None = None,
) -> ModelInputs:
    """The last ``window`` feature rows of every series of ``history`` for each of ``windows``.

    ``scales``: the saved MASE scale per series; when given, ``scale`` holds it for every series
    (fit on the history for a series without one). ``transform`` itself is not modified.
    """
    assert history.series_ids, "no series to build inputs for"
    windows = sorted(set(windows))
    longest = windows[-1]
    own = copy.copy(transform)
    own.stats = dict(transform.stats)
    covariates = list(covariates)
    uids, last, last_ds, freqs, scale = [], [], [], [], []
    tails: list[np.ndarray] = []
    for uid, group in history.frame.groupby("unique_id", sort=False):
        y = group["y"].to_numpy(np.float64)
        cov = group[covariates].to_numpy(np.float64)
        if uid not in own.stats:
            own.fit_series(uid, y, cov)
        # features are per step, so the tail's last rows equal those of the whole series
        tails.append(features(own, uid, y[-(longest + 1) :], cov[-(longest + 1) :]))
        uids.append(uid)
        last.append(y[-1])
        last_ds.append(group["ds"].iloc[-1])
        freqs.append(history.freqs[uid])
        if scales is not None:
            scale.append(scales[uid] if uid in scales else M.mase_scale(y, season_length(history.freqs[uid])))
    stacked = np.stack(tails)  # [N, longest, F]
    return ModelInputs(
        uids=uids,
        windows={w: np.ascontiguousarray(stacked[:, -w:]) for w in windows},
        transform=own,
        last=np.asarray(last),
        last_ds=last_ds,
        freqs=freqs,
        scale=None if scales is None else np.asarray(scale),
    )
