"""Data larger than memory: Ray Data streams the Parquet input, partitioned by series.

The in-memory path (``read_frame`` -> ``validate`` -> ``prepare``) holds the whole frame and every
window on the driver; windows overlap, so they take ``window`` times the bytes of the data. For
input that does not fit, the same steps run on Ray Data, and the driver never holds more than
one small row per series:

1. ``build_store``: ``read_parquet`` -> ``groupby("unique_id").map_groups`` (Ray Data's hash
   shuffle, spilling to disk) brings each series together once. Each group is validated with
   the in-memory path's checks (``check_series``), its ``RatioTransform`` statistics and MASE scale
   are fit on its training part (``Splits``, ``fit_train_parts``: the in-memory rule and code), and
   it is written as **one row per series** (levels and
   covariates as list columns, statistics as plain columns) to ``<run_dir>/data/series/``,
   staged and renamed so that a crash never leaves a half store. The driver then reads only
   the per-series columns (id, length, frequency, statistics, problem) and raises the first
   problem as ``DataError`` naming the series, as the in-memory path does (and the same error
   when no series is long enough for a validation window).
2. ``SeriesStore.windows(window, split)``: a lazy dataset that reads the store and cuts the
   windows of one split per block of series (``cut_windows``, the in-memory cutter) with the
   statistics carried in each row. A series is one row, so a block never splits a series.
   Every epoch re-reads the store: windows exist only while they stream through.
3. ``SeriesStore.stream(window)``: a ``WindowStream`` (train and validation datasets plus the
   exact window counts) for ``fit``. Ray Train splits the datasets across its workers
   (``get_dataset_shard``); an inline trial iterates them itself.
4. ``SeriesStore.sample(window, max_windows)``: the validation and test windows of a seeded
   sample of whole series, in memory, for the ensemble stage (weights and conformal
   calibration need every member's predictions on the same windows).

Ray Data tasks take ``data.stream_cpus`` CPUs each, so they run beside the trials' reservations.
This module builds and opens the store; ``store_input`` holds its settings and reads the input's
metadata, ``store_rows`` the one-row-per-series format, ``store_windows`` the streamed windows.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from foretune.console import bars_enabled
from foretune.errors import DataError
from foretune.rundir import STORE_MANIFEST

from .calendar import Freq
from .io import resolve_source
from .store_input import StoreSettings, estimated_window_bytes, input_covariates, open_dataset
from .store_rows import SUMMARY, profile_series, rows_panel
from .store_windows import WindowStream, file_windows
from .transform import RatioTransform, SeriesStats
from .windows import DataSummary, PreparedData, WindowSet, cut_windows

__all__ = [
    "MAX_PARTITIONS",
    "STORE_FORMAT",
    "TARGET_BATCH_BYTES",
    "TARGET_FILE_BYTES",
    "SeriesStore",
    "StoreSettings",
    "WindowStream",
    "build_store",
    "estimated_window_bytes",
    "input_covariates",
    "open_dataset",
    "store_partitions",
]

STORE_FORMAT = "foretune-series-store"
#: Bytes of windows one ``map_batches`` call should produce (a few blocks of Ray Data's 128 MiB).
TARGET_BATCH_BYTES = 8 * 2**20
#: Levels per store file (and shuffle partition); at most MAX_PARTITIONS partitions.
TARGET_FILE_BYTES, MAX_PARTITIONS = 64 * 2**20, 1000


def store_partitions(settings: StoreSettings) -> int:
    """Shuffle partitions = store files: ~``TARGET_FILE_BYTES`` of levels each, and at least two
    per CPU of the cluster so that reading the store each epoch runs in parallel (Ray Data
    starts a task per file: hundreds of tiny files cost more than the windows they hold)."""
    import ray

    dataset, _, _ = open_dataset(settings.source)
    level_bytes = dataset.count_rows() * 8 * (1 + len(settings.covariates))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return int(min(MAX_PARTITIONS, max(2 * cpus, -(-level_bytes // TARGET_FILE_BYTES))))


def build_store(settings: StoreSettings, directory: Path, *, reuse: bool = False) -> SeriesStore:
    """Shuffle the input into one row per series under ``directory``.

    ``reuse`` (a resumed run) opens the store already there instead of rebuilding it. Raises
    ``DataError`` for the first unusable series (in id order), before any training.
    """
    import ray

    directory = Path(directory)
    if reuse and (directory / STORE_MANIFEST).is_file():
        return SeriesStore.open(directory, settings)
    remote = {"num_cpus": settings.stream_cpus}
    filesystem, path = resolve_source(settings.source)  # a URI: foretune's file system for it
    dataset = ray.data.read_parquet(
        path,
        filesystem=filesystem,
        columns=["unique_id", "ds", "y", *settings.covariates],
        num_cpus=settings.stream_cpus,
    )
    grouped = dataset.groupby("unique_id", num_partitions=store_partitions(settings)).map_groups(
        profile_series, fn_kwargs={"settings": settings}, batch_format="pyarrow", **remote
    )
    staging = directory.with_name(f".{directory.name}.{uuid.uuid4().hex[:8]}.tmp")
    context = ray.data.DataContext.get_current()
    shown = context.enable_progress_bars
    context.enable_progress_bars = bars_enabled()  # Ray Data's tqdm bars, where someone sees them
    try:
        grouped.write_parquet(str(staging / "series"), ray_remote_args=remote)
    finally:
        context.enable_progress_bars = shown
    (staging / STORE_MANIFEST).write_text(json.dumps({"format": STORE_FORMAT, "settings": vars(settings)}))
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(staging, directory)
    return SeriesStore.open(directory, settings)


@dataclass
class SeriesStore:
    """The series-partitioned copy of the input, plus what the driver keeps: one row per series."""

    directory: Path
    settings: StoreSettings
    series_ids: list[str]
    lengths: np.ndarray
    freqs: dict[str, Freq]
    transform: RatioTransform
    mase_scale: np.ndarray

    @classmethod
    def open(cls, directory: Path, settings: StoreSettings) -> SeriesStore:
        """Read the per-series summary; raise the first series problem as ``DataError``."""
        saved = json.loads((Path(directory) / STORE_MANIFEST).read_text())["settings"]
        saved["covariates"] = tuple(saved["covariates"])
        differ = [k for k, v in vars(settings).items() if k != "stream_cpus" and saved.get(k) != v]
        if differ:
            raise DataError(
                f"the series store in {directory} was built with other data settings "
                f"({differ}); use a new run directory"
            )
        table = pq.read_table(Path(directory) / "series", columns=SUMMARY)
        summary = table.to_pandas().sort_values("unique_id", kind="stable").reset_index(drop=True)
        if summary.empty:
            raise DataError(f"{settings.source} holds no rows")
        problems = summary[summary["problem"] != ""]
        if len(problems):
            extra = f" ({len(problems)} series have problems; this is the first)" if len(problems) > 1 else ""
            raise DataError(problems["problem"].iloc[0] + extra)
        settings.splits.require_validation(summary["n"].to_numpy())
        transform = RatioTransform(
            settings.transform, settings.eps, settings.flat_band, drift_prior=settings.drift_prior
        )
        for r in summary.itertuples(index=False):
            transform.stats[r.unique_id] = SeriesStats(
                r.mu, r.sigma, r.scale, list(r.cov_mu), list(r.cov_sigma), r.kind, bool(r.constant)
            )
        ids = summary["unique_id"].tolist()
        freqs = {uid: json.loads(f) for uid, f in zip(ids, summary["freq"], strict=True)}
        return cls(
            Path(directory),
            settings,
            ids,
            summary["n"].to_numpy(),
            freqs,
            transform,
            summary["mase_scale"].to_numpy(np.float64),
        )

    def files(self) -> list[str]:
        """The store's files in a fixed order (by their smallest series id), whatever names and
        order the shuffle's tasks gave them."""
        first = {}
        for path in (self.directory / "series").glob("*.parquet"):
            ids = pq.read_table(path, columns=["unique_id"]).column(0)
            first[str(path)] = min(ids.to_pylist(), default="")
        return sorted(first, key=lambda p: (first[p], p))

    @property
    def covariates(self) -> tuple[str, ...]:
        return self.settings.covariates

    @property
    def n_features(self) -> int:
        return 2 + len(self.covariates)  # change, covariates, mask

    def counts(self, window: int) -> dict[str, int]:
        """Exact numbers of windows per split for ``window``."""
        per = self.settings.splits.counts(self.lengths, window)
        return {name: int(c.sum()) for name, c in zip(("train", "val", "test"), per, strict=True)}

    def summary(self, window: int) -> DataSummary:
        """The series per split, as ``PreparedData.summary`` of the in-memory path."""
        return self.settings.splits.summary(self.lengths, window)

    def windows(self, window: int, split: str, *, scoring: bool = False):
        """A lazy Ray dataset of one split's windows (``x``, ``y_reg``, ``y_dir``).

        ``scoring`` adds what scoring in original units needs per window: ``last``, ``future``,
        ``mu``, ``sigma`` and ``mase_scale`` of its series.
        """
        import ray

        s = self.settings
        per_series = max(1.0, self.counts(window)[split] / max(1, len(self.series_ids)))
        rows = int(max(1, TARGET_BATCH_BYTES // (per_series * window * self.n_features * 4)))
        files = self.files()
        # One task per store file, reading it in slices of `rows` series: Ray Data's own
        # read_parquet lists files in a task of 1 CPU that a full cluster never schedules.
        dataset = ray.data.from_items(
            [{"path": f} for f in files], override_num_blocks=len(files)
        ).map_batches(
            file_windows,
            batch_size=1,
            batch_format="numpy",
            num_cpus=s.stream_cpus,
            fn_kwargs={"settings": s, "window": window, "split": split, "scoring": scoring, "rows": rows},
        )
        # Blocks in file order whatever task finishes first, so a seeded epoch is repeatable.
        dataset.context.execution_options.preserve_order = True
        return dataset

    def stream(self, window: int) -> WindowStream:
        """Train and validation windows of ``window`` for ``fit``, streamed."""
        counts = self.counts(window)
        return WindowStream(
            train=self.windows(window, "train"),
            val=self.windows(window, "val", scoring=True),
            window=window,
            horizon=self.settings.horizon,
            n_features=self.n_features,
            n_train=counts["train"],
            n_val=counts["val"],
            transform_kind=self.settings.transform,
            eps=self.settings.eps,
        )

    def sample(self, window: int, max_windows: int, seed: int) -> PreparedData:
        """Validation and test windows of whole series drawn by ``seed``, up to ``max_windows``.

        The series indices, transform and MASE scales are the full store's, so the result scores
        and calibrates like the in-memory ``prepare`` output restricted to those series (its
        training split is empty).
        """
        s = self.settings
        order = np.random.default_rng(seed).permutation(len(self.series_ids))
        _, val, test = s.splits.counts(self.lengths[order], window)
        take = max(1, int(np.searchsorted(np.cumsum(val + test), max_windows, side="right")))
        chosen = np.sort(order[:take])
        ids = [self.series_ids[i] for i in chosen]
        table = pq.read_table(
            self.directory / "series",
            filters=[("unique_id", "in", ids)],
            columns=["unique_id", "y", *[f"cov:{c}" for c in s.covariates]],
        ).sort_by("unique_id")  # = the order of `chosen` (series_ids are sorted)
        panel = rows_panel(table, s.covariates, chosen)
        stats = self.transform.stat_arrays(ids)
        cut = cut_windows(self.transform, stats, panel, window, s.splits, ("val", "test"))
        empty = WindowSet(*(a[:0] for a in vars(cut["val"]).values()))
        return PreparedData(
            empty,
            cut["val"],
            cut["test"],
            self.transform,
            window,
            s.horizon,
            s.covariates,
            list(self.series_ids),
            dict(self.freqs),
            self.mase_scale,
        )
