"""Windows cut from the series store as they stream, and the stream ``fit`` consumes.

    dataset = ray.data.from_items(paths).map_batches(file_windows, batch_size=1, fn_kwargs=...)
    stream = WindowStream(train, val, window, horizon, ...)   # SeriesStore.stream builds it

``file_windows`` reads one store file in slices of whole series and cuts one split's windows with
the in-memory cutter (``cut_windows``) and the statistics carried in each row, so a task holds one
file's levels and one slice's windows, never all windows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .store_input import StoreSettings
from .store_rows import STATS, list_column, rows_panel
from .transform import KINDS, RatioTransform
from .windows import cut_windows


def file_windows(
    batch: dict[str, np.ndarray],
    settings: StoreSettings,
    window: int,
    split: str,
    scoring: bool,
    rows: int,
):
    """``map_batches`` generator: store file paths in, one split's windows out, ``rows`` series
    at a time (a task holds one file's levels and one slice's windows, never all windows)."""
    columns = ["unique_id", "y", *STATS, "mase_scale", *[f"cov:{c}" for c in settings.covariates]]
    for path in batch["path"]:
        # Sorted by id: the shuffle writes a file's rows in whatever order its inputs arrived.
        table = pq.read_table(str(path), columns=columns).sort_by("unique_id")
        for start in range(0, table.num_rows, rows):
            out = _windows_of_rows(table.slice(start, rows), settings, window, split, scoring)
            if out:
                yield out


def _windows_of_rows(
    table: pa.Table, settings: StoreSettings, window: int, split: str, scoring: bool
) -> dict[str, np.ndarray]:
    """Store rows (whole series) in, one split's windows out (``x``, ``y_reg``, ``y_dir``, ``path``;
    ``scoring`` adds ``last``, ``future``, ``mu``, ``sigma`` and ``mase_scale`` per window)."""
    if not table.num_rows:
        return {}
    transform = RatioTransform(
        settings.transform, settings.eps, settings.flat_band, drift_prior=settings.drift_prior
    )
    n_cov = len(settings.covariates)
    stats = {k: table.column(k).to_numpy().astype(np.float64) for k in ("mu", "sigma", "scale")}
    for k in ("cov_mu", "cov_sigma"):
        stats[k] = list_column(table, k)[1].astype(np.float64).reshape(table.num_rows, n_cov)
    own = table.column("kind").to_numpy(zero_copy_only=False).astype(object)
    stats["kind"] = np.where(own == "", transform.kind, own)
    panel = rows_panel(table, settings.covariates)
    mase = table.column("mase_scale").to_numpy().astype(np.float64)
    ws = cut_windows(transform, stats, panel, window, settings.splits, (split,), scales=mase)[split]
    if not len(ws):
        return {}
    out = {"x": ws.x, "y_reg": ws.y_reg, "y_dir": ws.y_dir, "path": ws.path}
    if scoring:
        out.update(last=ws.last, future=ws.future, mu=stats["mu"][ws.series], sigma=stats["sigma"][ws.series])
        # each window's series kind as its index in KINDS: batches become tensors, strings cannot
        kinds = stats["kind"][ws.series].astype(str)
        out["kind"] = np.select([kinds == k for k in KINDS], list(range(len(KINDS))), -1)
        out["mase_scale"] = mase[ws.series]
    return out


@dataclass
class WindowStream:
    """Streamed windows of one window length: lazy Ray datasets (or a Ray Train worker's shards)
    plus the exact global window counts the schedules and progress need."""

    train: Any  # ray.data.Dataset, or a DataIterator on a Ray Train worker
    val: Any
    window: int
    horizon: int
    n_features: int
    n_train: int
    n_val: int
    transform_kind: str
    eps: float

    def with_shards(self, train: Any, val: Any) -> WindowStream:
        """The same stream reading a worker's shards (``ray.train.get_dataset_shard``)."""
        return replace(self, train=train, val=val)

    def without_data(self) -> WindowStream:
        """The metadata only (what travels in a ``TorchTrainer``'s ``train_loop_config``)."""
        return replace(self, train=None, val=None)
