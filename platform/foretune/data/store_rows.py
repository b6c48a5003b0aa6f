"""The series store's row format: one row per series, written once, read back as a ``Panel``.

    table = profile_series(group, settings)   # ``map_groups``: one series in, its store row out
    panel = rows_panel(table, covariates)      # store rows -> Panel (levels and covariates)

A row holds the series' levels and covariates as list columns (``y``, ``cov:<name>``), its
transform statistics (``STATS``) and MASE scale as plain columns, its length and frequency, and
``problem``: the ``DataError`` that makes it unusable (empty when none). Each series is checked
and fit by the in-memory path's code (``regularize_series``, ``check_series``,
``fit_train_parts``), so both paths accept the same data and give the same statistics.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from foretune.errors import DataError

from .calendar import season_lengths
from .frame import series_key
from .panel import Panel
from .store_input import StoreSettings
from .transform import RatioTransform
from .validate import check_series, regularize_series
from .windows import fit_train_parts

#: A series' transform statistics as store columns (what windows are cut with).
STATS = ["mu", "sigma", "scale", "cov_mu", "cov_sigma", "kind"]
#: The per-series columns the driver reads (everything but the levels).
SUMMARY = ["unique_id", "n", "freq", *STATS, "constant", "mase_scale", "problem"]


def profile_series(table: pa.Table, settings: StoreSettings) -> pa.Table:
    """``map_groups`` function: one series in, its store row out (``problem`` set if unusable)."""
    frame = table.to_pandas()
    uid = series_key(frame["unique_id"].iloc[0])
    covs = list(settings.covariates)
    row = _empty_row(uid, len(frame), covs)
    try:
        row.update(_profile(uid, frame, settings))
    except DataError as exc:
        row["problem"] = str(exc)
    schema = _store_schema(covs)
    return pa.Table.from_arrays([_one(row[f.name], f.type) for f in schema], schema=schema)


def _empty_row(uid: str, n: int, covs: list[str]) -> dict[str, Any]:
    """The row of a series before (or without) its checks and statistics."""
    row: dict[str, Any] = {
        "unique_id": uid,
        "n": n,
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
    return row


def _profile(uid: str, frame: pd.DataFrame, settings: StoreSettings) -> dict[str, Any]:
    """One series checked by the in-memory path's rules (gaps, NaN, frequency, values) and fit
    on its training part: its row's levels, covariates, statistics and MASE scale."""
    covs = list(settings.covariates)
    frame = _series_frame(uid, frame)
    regular = regularize_series(
        uid,
        frame["ds"],
        frame["y"].to_numpy(np.float64),
        frame[covs].to_numpy(np.float64),
        fill=settings.fill,
        freq=settings.freq,
        covariates=covs,
    )
    y, cov, freq = regular.y, regular.cov, regular.freq
    check_series(uid, regular.ds, y, settings.transform, 1, freq=freq)
    transform = RatioTransform(
        settings.transform, settings.eps, settings.flat_band, drift_prior=settings.drift_prior
    )
    seasons = season_lengths([freq], settings.season)
    scale = fit_train_parts(transform, [uid], Panel.one(y, cov), settings.splits, seasons)
    row = {"n": len(y), **vars(transform.stats[uid])}
    row.update(freq=json.dumps(freq), y=y, mase_scale=float(scale[0]))
    row.update({f"cov:{c}": cov[:, i] for i, c in enumerate(covs)})
    return row


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


def rows_panel(table: pa.Table, covariates: tuple[str, ...], index: np.ndarray | None = None) -> Panel:
    """The store rows' series as a ``Panel``, read straight from the Arrow list buffers."""
    offsets, y = list_column(table, "y")
    covs = [list_column(table, f"cov:{c}")[1] for c in covariates]
    cov = np.stack(covs, axis=1) if covs else np.zeros((len(y), 0))
    index = np.arange(table.num_rows) if index is None else np.asarray(index)
    return Panel(offsets - offsets[0], y, cov, index)


def list_column(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and values of a list column (the values each row's list covers)."""
    column = table.column(name).combine_chunks()
    offsets = column.offsets.to_numpy().astype(np.int64)
    values = column.values.to_numpy(zero_copy_only=False)
    return offsets, values[offsets[0] : offsets[-1]]
