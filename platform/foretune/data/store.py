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
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from foretune.console import bars_enabled
from foretune.rundir import STORE_MANIFEST

from .calendar import Freq, season_lengths
from .io import REQUIRED, resolve_source
from .transform import KINDS, RatioTransform, SeriesStats
from .validate import DataError, check_series, regularize_series, series_key
from .windows import DataSummary, Panel, PreparedData, Splits, WindowSet, cut_windows, fit_train_parts

STORE_FORMAT = "foretune-series-store"
#: Bytes of windows one ``map_batches`` call should produce (a few blocks of Ray Data's 128 MiB).
TARGET_BATCH_BYTES = 8 * 2**20
#: Levels per store file (and shuffle partition); at most MAX_PARTITIONS partitions.
TARGET_FILE_BYTES, MAX_PARTITIONS = 64 * 2**20, 1000
#: A series' transform statistics as store columns (what windows are cut with).
_STATS = ["mu", "sigma", "scale", "cov_mu", "cov_sigma", "kind"]
_SUMMARY = ["unique_id", "n", "freq", *_STATS, "constant", "mase_scale", "problem"]


@dataclass(frozen=True)
class StoreSettings:
    """What shapes the store: the data settings of the experiment (``config.data`` + windows)."""

    source: str
    covariates: tuple[str, ...]
    transform: str
    eps: float
    flat_band: float
    horizon: int
    val_windows: int = 1
    test_windows: int = 1
    stream_cpus: float = 0.5
    season: int | None = None
    fill: str = "none"
    freq: Any = None
    holdout_windows: int = 0  # the run's evaluate.windows (held out of everything)

    @property
    def splits(self) -> Splits:
        return Splits(self.horizon, self.val_windows, self.test_windows, self.holdout_windows)

    @classmethod
    def from_config(cls, config: Any, covariates: tuple[str, ...]) -> StoreSettings:
        data = config.data
        return cls(
            str(data.path),
            covariates,
            data.transform,
            data.eps,
            data.flat_band,
            data.horizon,
            data.val_windows,
            data.test_windows,
            data.stream_cpus,
            data.season,
            data.fill,
            data.freq,
            config.evaluate.windows,
        )


# -- the input, seen through its Parquet metadata only -------------------------------------------
def open_dataset(source: str) -> tuple[pads.Dataset, pafs.FileSystem | None, str]:
    """A pyarrow dataset over a Parquet file or directory (local path or URI); reads no rows."""
    filesystem, path = resolve_source(source)
    try:
        return pads.dataset(path, format="parquet", filesystem=filesystem), filesystem, path
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DataError(f"cannot read {source} as Parquet: {exc}") from None


def input_covariates(schema: pa.Schema, requested: list[str] | None) -> tuple[str, ...]:
    """Check the input's columns (long format) and return the covariates, as ``validate`` does."""
    names = schema.names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise DataError(
            f"required column(s) {missing} missing; streamed data must be in long format "
            f"(unique_id, ds, y, [covariates]); found {names}"
        )
    if not _numeric(schema.field("y").type):
        raise DataError(f"column 'y' must be numeric, found type {schema.field('y').type}")
    extra = [c for c in names if c not in REQUIRED]
    if requested is None:
        return tuple(c for c in extra if _numeric(schema.field(c).type))
    absent = [c for c in requested if c not in names]
    if absent:
        raise DataError(f"covariate column(s) {absent} not in the data (found {extra})")
    for c in requested:
        if not _numeric(schema.field(c).type):
            raise DataError(f"covariate column {c!r} must be numeric, found {schema.field(c).type}")
    return tuple(requested)


def estimated_window_bytes(source: str, longest_window: int, n_covariates: int) -> int:
    """Bytes the in-memory path's windows would take (float32, every split), from metadata."""
    dataset, _, _ = open_dataset(source)
    return int(dataset.count_rows()) * longest_window * (2 + n_covariates) * 4


def _numeric(kind: pa.DataType) -> bool:
    return (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and not pa.types.is_boolean(kind)


# -- step 1: one row per series -----------------------------------------------------------------
def _profile_series(table: pa.Table, settings: StoreSettings) -> pa.Table:
    """``map_groups`` function: one series in, its store row out (``problem`` set if unusable)."""
    frame = table.to_pandas()
    uid = series_key(frame["unique_id"].iloc[0])
    covs = list(settings.covariates)
    row: dict[str, Any] = {
        "unique_id": uid,
        "n": len(frame),
        "freq": "",
        "mu": np.nan,
        "sigma": np.nan,
        "scale": np.nan,
        "cov_mu": [],
        "cov_sigma": [],
        "kind": "",
        "constant": False,
        "mase_scale": np.nan,
        "problem": "",
        "y": [],
    }
    row.update({f"cov:{c}": [] for c in covs})
    try:
        frame = _series_frame(uid, frame)
        regular = regularize_series(
            uid,
            frame["ds"],
            frame["y"].to_numpy(np.float64),
            frame[covs].to_numpy(np.float64),
            fill=settings.fill,
            freq=settings.freq,
            covariates=covs,
        )  # the in-memory path's gap, NaN and frequency rule
        y, cov, freq = regular.y, regular.cov, regular.freq
        check_series(uid, regular.ds, y, settings.transform, 1, freq=freq)
        row["n"] = len(y)
        transform = RatioTransform(settings.transform, settings.eps, settings.flat_band)
        scale = fit_train_parts(
            transform,
            [uid],
            Panel.one(y, cov),
            settings.splits,
            season_lengths([freq], settings.season),
        )
        row.update(vars(transform.stats[uid]))
        row.update(freq=json.dumps(freq), y=y, mase_scale=float(scale[0]))
        row.update({f"cov:{c}": cov[:, i] for i, c in enumerate(covs)})
    except DataError as exc:
        row["problem"] = str(exc)
    schema = _store_schema(covs)
    return pa.Table.from_arrays([_one(row[f.name], f.type) for f in schema], schema=schema)


def _one(value: Any, kind: pa.DataType) -> pa.Array:
    """A one-row Arrow array; list values go in from NumPy without a Python list."""
    if pa.types.is_list(kind):
        values = pa.array(np.asarray(value, dtype=np.float64))
        return pa.ListArray.from_arrays(pa.array([0, len(values)], pa.int32()), values)
    return pa.array([value], kind)


def _series_frame(uid: str, frame: pd.DataFrame) -> pd.DataFrame:
    """One series sorted by time with ``ds`` parsed, checked for duplicates."""
    ds = frame["ds"]
    if not (pd.api.types.is_datetime64_any_dtype(ds) or pd.api.types.is_integer_dtype(ds)):
        try:
            frame = frame.assign(ds=pd.to_datetime(ds))
        except (ValueError, TypeError):
            raise DataError(
                f"series {uid!r}: column 'ds' must hold dates or integer time "
                f"steps; could not parse e.g. {ds.iloc[0]!r}"
            ) from None
    frame = frame.sort_values("ds", kind="stable").reset_index(drop=True)
    dup = frame["ds"].duplicated()
    if dup.any():
        raise DataError(
            f"series {uid!r} has duplicate time stamp ds={frame['ds'][dup].iloc[0]} "
            f"({int(dup.sum())} extra rows); keep one row per series and time"
        )
    return frame


def _store_schema(covariates: list[str]) -> pa.Schema:
    values = pa.list_(pa.float64())
    return pa.schema(
        [
            ("unique_id", pa.string()),
            ("n", pa.int64()),
            ("freq", pa.string()),
            ("mu", pa.float64()),
            ("sigma", pa.float64()),
            ("scale", pa.float64()),
            ("cov_mu", values),
            ("cov_sigma", values),
            ("kind", pa.string()),
            ("constant", pa.bool_()),
            ("mase_scale", pa.float64()),
            ("problem", pa.string()),
            ("y", values),
            *[(f"cov:{c}", values) for c in covariates],
        ]
    )


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
        _profile_series, fn_kwargs={"settings": settings}, batch_format="pyarrow", **remote
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


# -- the store ----------------------------------------------------------------------------------
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
        table = pq.read_table(Path(directory) / "series", columns=_SUMMARY)
        summary = table.to_pandas().sort_values("unique_id", kind="stable").reset_index(drop=True)
        if summary.empty:
            raise DataError(f"{settings.source} holds no rows")
        problems = summary[summary["problem"] != ""]
        if len(problems):
            extra = f" ({len(problems)} series have problems; this is the first)" if len(problems) > 1 else ""
            raise DataError(problems["problem"].iloc[0] + extra)
        settings.splits.require_validation(summary["n"].to_numpy())
        transform = RatioTransform(settings.transform, settings.eps, settings.flat_band)
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
            _file_windows,
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
        panel = _panel(table, s.covariates, chosen)
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


def _panel(table: pa.Table, covariates: tuple[str, ...], index: np.ndarray | None = None) -> Panel:
    """The store rows' series as a ``Panel``, read straight from the Arrow list buffers."""
    offsets, y = _list_column(table, "y")
    covs = [_list_column(table, f"cov:{c}")[1] for c in covariates]
    cov = np.stack(covs, axis=1) if covs else np.zeros((len(y), 0))
    index = np.arange(table.num_rows) if index is None else np.asarray(index)
    return Panel(offsets - offsets[0], y, cov, index)


def _list_column(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and values of a list column (the values each row's list covers)."""
    column = table.column(name).combine_chunks()
    offsets = column.offsets.to_numpy().astype(np.int64)
    values = column.values.to_numpy(zero_copy_only=False)
    return offsets, values[offsets[0] : offsets[-1]]


def _file_windows(
    batch: dict[str, np.ndarray],
    settings: StoreSettings,
    window: int,
    split: str,
    scoring: bool,
    rows: int,
):
    """``map_batches`` generator: store file paths in, one split's windows out, ``rows`` series
    at a time (a task holds one file's levels and one slice's windows, never all windows)."""
    columns = ["unique_id", "y", *_STATS, "mase_scale", *[f"cov:{c}" for c in settings.covariates]]
    for path in batch["path"]:
        # Sorted by id: the shuffle writes a file's rows in whatever order its inputs arrived.
        table = pq.read_table(str(path), columns=columns).sort_by("unique_id")
        for start in range(0, table.num_rows, rows):
            out = _cut_windows(table.slice(start, rows), settings, window, split, scoring)
            if out:
                yield out


def _cut_windows(
    table: pa.Table, settings: StoreSettings, window: int, split: str, scoring: bool
) -> dict[str, np.ndarray]:
    """Store rows (whole series) in, one split's windows out (``x``, ``y_reg``, ``y_dir``;
    ``scoring`` adds ``last``, ``future``, ``mu``, ``sigma`` and ``mase_scale`` per window)."""
    if not table.num_rows:
        return {}
    transform = RatioTransform(settings.transform, settings.eps, settings.flat_band)
    n_cov = len(settings.covariates)
    stats = {k: table.column(k).to_numpy().astype(np.float64) for k in ("mu", "sigma", "scale")}
    for k in ("cov_mu", "cov_sigma"):
        stats[k] = _list_column(table, k)[1].astype(np.float64).reshape(table.num_rows, n_cov)
    own = table.column("kind").to_numpy(zero_copy_only=False).astype(object)
    stats["kind"] = np.where(own == "", transform.kind, own)
    ws = cut_windows(transform, stats, _panel(table, settings.covariates), window, settings.splits, (split,))
    ws = ws[split]
    if not len(ws):
        return {}
    out = {"x": ws.x, "y_reg": ws.y_reg, "y_dir": ws.y_dir}
    if scoring:
        mase = table.column("mase_scale").to_numpy().astype(np.float64)
        out.update(last=ws.last, future=ws.future, mu=stats["mu"][ws.series], sigma=stats["sigma"][ws.series])
        # each window's series kind as its index in KINDS: batches become tensors, strings cannot
        kinds = stats["kind"][ws.series].astype(str)
        out["kind"] = np.select([kinds == k for k in KINDS], list(range(len(KINDS))), -1)
        out["mase_scale"] = mase[ws.series]
    return out


# -- what fit consumes --------------------------------------------------------------------------
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
