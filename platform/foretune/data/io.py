"""Read Parquet into the long format and validate it.

Long format: ``unique_id, ds, y`` plus optional numeric covariate columns. Wide format (``ds`` plus
one numeric column per series, no ``y``) is melted to long. Every problem a user can fix raises
``DataError`` naming the column, series or row and what to do; nothing is fixed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from foretune.errors import DataError

from .calendar import Freq, infer_freq

REQUIRED = ("unique_id", "ds", "y")


def builtin_dataset_path() -> Path:
    """The packaged quickstart data: 8 quarterly US macro series (statsmodels' public-domain
    ``macrodata``, Federal Reserve Bank of St. Louis), long format."""
    return Path(str(resources.files("foretune").joinpath("datasets/us_macro.parquet")))


def read_frame(source: str | Path | pd.DataFrame | None) -> pd.DataFrame:
    """Read a Parquet file or directory (or take a frame) and return it in long format.

    ``None`` reads the built-in data. The frame is not validated here: see ``validate``.
    """
    if source is None:
        source = builtin_dataset_path()
    if isinstance(source, pd.DataFrame):
        return to_long(source.copy())
    return to_long(_read_parquet(str(source)))


def _read_parquet(source: str) -> pd.DataFrame:
    """A local path, or a URI pyarrow understands (``s3://``, ``gs://``, ``hdfs://``, ``file://``)."""
    filesystem, path = resolve_source(source)
    try:
        return pq.read_table(path, filesystem=filesystem).to_pandas()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DataError(f"cannot read {source} as Parquet: {exc}") from None


def resolve_source(source: str) -> tuple[pafs.FileSystem | None, str]:
    """``(filesystem, path)`` of a local path (checked to exist) or a pyarrow URI."""
    if "://" in source:
        try:
            return pafs.FileSystem.from_uri(source)
        except Exception as exc:  # noqa: BLE001 - unknown scheme, missing credentials, ...
            raise DataError(f"cannot open {source}: {exc}") from None
    if not Path(source).exists():
        raise DataError(f"data path {source} does not exist")
    return None, source


def to_long(frame: pd.DataFrame) -> pd.DataFrame:
    """Melt a wide frame (``ds`` + one column per series) to long; pass long frames through."""
    if "ds" not in frame.columns:
        raise DataError(f"column 'ds' (the time stamp) is missing; found columns {list(frame.columns)}")
    if "y" in frame.columns or "unique_id" in frame.columns:
        return frame.reset_index(drop=True)
    value_columns = [c for c in frame.columns if c != "ds"]
    if not value_columns:
        raise DataError("wide data needs at least one series column besides 'ds'")
    long = frame.melt(id_vars="ds", value_vars=value_columns, var_name="unique_id", value_name="y")
    return long[["unique_id", "ds", "y"]]


@dataclass(frozen=True)
class SeriesFrame:
    """A validated long frame, sorted by series and time, plus what was learned about it."""

    frame: pd.DataFrame
    covariates: tuple[str, ...]
    freqs: dict[str, Freq]

    @property
    def series_ids(self) -> list[str]:
        return list(self.freqs)


def validate(
    frame: pd.DataFrame,
    *,
    transform: str = "log_ratio",
    min_length: int = 2,
    covariates: list[str] | tuple[str, ...] | None = None,
) -> SeriesFrame:
    """Check a long frame and return it sorted, typed and with each series' frequency.

    ``min_length`` is the fewest observations a series needs (window + horizon + 1 for training).
    ``covariates`` None means every extra numeric column.
    """
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"required column(s) {missing} missing; long format needs unique_id, ds, y "
            f"(found {list(frame.columns)})"
        )
    frame = frame.copy()
    frame["unique_id"] = frame["unique_id"].astype(str)
    if not pd.api.types.is_numeric_dtype(frame["y"]) or pd.api.types.is_bool_dtype(frame["y"]):
        raise DataError(f"column 'y' must be numeric, found dtype {frame['y'].dtype}")
    frame["y"] = frame["y"].astype("float64")
    covs = _covariates(frame, covariates)
    _check_finite(frame, ["y", *covs])
    if not (pd.api.types.is_datetime64_any_dtype(frame["ds"]) or _integer(frame["ds"])):
        try:
            frame["ds"] = pd.to_datetime(frame["ds"])
        except (ValueError, TypeError):
            raise DataError(
                "column 'ds' must hold dates or integer time steps; "
                f"could not parse e.g. {frame['ds'].iloc[0]!r}"
            ) from None
    dup = frame.duplicated(["unique_id", "ds"], keep=False)
    if dup.any():
        row = frame[dup].iloc[0]
        raise DataError(
            f"series {row['unique_id']!r} has duplicate time stamp ds={row['ds']} "
            f"({int(dup.sum())} rows in all); keep one row per series and time"
        )
    order = frame.groupby("unique_id", sort=False)["ds"].apply(lambda s: s.is_monotonic_increasing)
    if not order.all():
        bad = order[~order].index[0]
        raise DataError(f"series {bad!r} has unsorted time stamps; sort each series by ds ascending")
    # Series in sorted id order from here on: every later stage enumerates them in this order.
    frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    freqs: dict[str, Freq] = {}
    for uid, group in frame.groupby("unique_id", sort=False):
        freqs[str(uid)] = check_series(
            str(uid), group["ds"].to_numpy(), group["y"].to_numpy(), transform, min_length
        )
    return SeriesFrame(frame[["unique_id", "ds", "y", *covs]], tuple(covs), freqs)


def check_series(uid: str, ds: np.ndarray, y: np.ndarray, transform: str, min_length: int) -> Freq:
    """One series' length, regular spacing and value domain; its frequency. Raises ``DataError``."""
    n = len(y)
    if n < max(min_length, 3):
        raise DataError(
            f"series {uid!r} has {n} observations but needs at least {max(min_length, 3)} "
            "(window + horizon + 1); shorten the window or horizon, or drop the series"
        )
    try:
        freq = infer_freq(ds)
    except ValueError as exc:
        raise DataError(
            f"series {uid!r} is irregularly spaced ({exc}); resample it to a regular "
            "frequency and fill gaps before training"
        ) from None
    _check_domain(uid, y, transform)
    return freq


def _integer(ds: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(ds) and not pd.api.types.is_bool_dtype(ds)


def _covariates(frame: pd.DataFrame, requested: list[str] | tuple[str, ...] | None) -> list[str]:
    extra = [c for c in frame.columns if c not in REQUIRED]
    if requested is None:
        return [c for c in extra if pd.api.types.is_numeric_dtype(frame[c])]
    missing = [c for c in requested if c not in frame.columns]
    if missing:
        raise DataError(f"covariate column(s) {missing} not in the data (found {extra})")
    for c in requested:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            raise DataError(f"covariate column {c!r} must be numeric, found {frame[c].dtype}")
    return list(requested)


def _check_finite(frame: pd.DataFrame, columns: list[str]) -> None:
    for c in columns:
        values = frame[c].to_numpy(dtype="float64")
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"column {c!r} has {int(bad.sum())} NaN/inf value(s), first in series "
                f"{frame['unique_id'].iloc[i]!r} at row {i} (ds={frame['ds'].iloc[i]}); "
                "fill or drop them before training"
            )


def _check_domain(uid: str, y: np.ndarray, transform: str) -> None:
    if transform == "log_ratio" and (y <= 0).any():
        i = int(np.flatnonzero(y <= 0)[0])
        raise DataError(
            f"series {uid!r} has a value <= 0 ({y[i]}) at position {i}, which the log_ratio "
            "transform cannot take; use data.transform: diff (or none) for such data"
        )
