"""Read a panel (Parquet, CSV or a DataFrame; local paths or pyarrow URIs) into long format.

Long format: ``unique_id, ds, y`` plus optional numeric covariate columns. Wide format (``ds`` plus
one numeric column per series, no ``y``) is melted to long. Nothing is checked here beyond the
columns the format needs: ``validate`` (``data.validate``) checks the values.

    frame = read_frame("panel.csv")   # or .parquet, a directory, s3://..., a DataFrame, None
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from foretune.errors import DataError, StorageError
from foretune.storage import filesystem

REQUIRED = ("unique_id", "ds", "y")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst")


def builtin_dataset_path() -> Path:
    """The packaged quickstart data: 8 quarterly US macro series (statsmodels' public-domain
    ``macrodata``, Federal Reserve Bank of St. Louis), long format."""
    return Path(str(resources.files("foretune").joinpath("datasets/us_macro.parquet")))


def read_frame(source: str | Path | pd.DataFrame | None) -> pd.DataFrame:
    """Read a Parquet file or directory, or a CSV file (or take a frame), in long format.

    ``None`` reads the built-in data. A CSV's ``unique_id`` is read as text, so ids such as
    ``007`` keep their leading zeros. The frame is not validated here: see ``validate``.
    """
    if source is None:
        source = builtin_dataset_path()
    if isinstance(source, pd.DataFrame):
        return to_long(source.copy())
    return to_long(read_table(source))


def read_table(source: str | Path) -> pd.DataFrame:
    """A Parquet file or directory, or a CSV file, as it is (no format checked or changed)."""
    source = str(source)
    return _read_csv(source) if is_csv(source) else _read_parquet(source)


def _read_parquet(source: str) -> pd.DataFrame:
    """A local path, or a URI pyarrow understands (``s3://``, ``gs://``, ``hdfs://``, ``file://``)."""
    filesystem, path = resolve_source(source)
    try:
        frame = pq.read_table(path, filesystem=filesystem).to_pandas()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DataError(f"cannot read {source} as Parquet: {exc}") from None
    return _plain_partition_columns(frame)


def read_columns(source: str | Path | None) -> pd.DataFrame:
    """The columns of a Parquet file or directory, or a CSV file, with their types as
    ``read_frame`` reads them, and no rows: only the metadata (Parquet) or the first block (CSV)
    is read. ``None``: the built-in data."""
    source = str(builtin_dataset_path() if source is None else source)
    filesystem, path = resolve_source(source)
    try:
        if is_csv(source):
            convert = pacsv.ConvertOptions(column_types={"unique_id": pa.string()})
            if filesystem is None:
                schema = pacsv.open_csv(path, convert_options=convert).schema
            else:
                with filesystem.open_input_stream(path) as stream:
                    schema = pacsv.open_csv(stream, convert_options=convert).schema
        else:
            schema = pads.dataset(path, format="parquet", filesystem=filesystem, partitioning="hive").schema
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DataError(f"cannot read the columns of {source}: {exc}") from None
    return _plain_partition_columns(schema.empty_table().to_pandas(date_as_object=False))


def _plain_partition_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of a hive-partitioned directory (``.../unique_id=a/part.parquet``) come back as
    categories; give them their values' own type, as a single file would."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(frame[column].cat.categories.dtype)
    return frame


def is_csv(source: str) -> bool:
    """Whether ``source`` names a CSV file (plain or compressed), by its suffix."""
    return source.lower().endswith(_CSV_SUFFIXES)


def _read_csv(source: str) -> pd.DataFrame:
    """A CSV file (optionally compressed, by its suffix) at a local path or a pyarrow URI."""
    filesystem, path = resolve_source(source)
    convert = pacsv.ConvertOptions(column_types={"unique_id": pa.string()})
    try:
        if filesystem is None:
            table = pacsv.read_csv(path, convert_options=convert)
        else:
            with filesystem.open_input_stream(path) as stream:
                table = pacsv.read_csv(stream, convert_options=convert)
        return table.to_pandas(date_as_object=False, coerce_temporal_nanoseconds=True)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DataError(f"cannot read {source} as CSV: {exc}") from None


def resolve_source(source: str) -> tuple[pafs.FileSystem | None, str]:
    """``(filesystem, path)`` of a local path (checked to exist) or a pyarrow URI."""
    if "://" in source:
        try:
            return filesystem(source)
        except StorageError as exc:  # unknown scheme, credentials in the URI
            raise DataError(str(exc)) from None
    if not Path(source).exists():
        raise DataError(f"data path {source} does not exist")
    return None, source


def to_long(frame: pd.DataFrame) -> pd.DataFrame:
    """Melt a wide frame (``ds`` + one column per series) to long; pass long frames through."""
    if len(frame.columns) == 0:
        raise DataError(
            "the data is empty (no columns, no rows); give a long frame with unique_id, ds and y, "
            "or a wide one with ds and one column per series"
        )
    if "ds" not in frame.columns:
        raise DataError(f"column 'ds' (the time stamp) is missing; found columns {list(frame.columns)}")
    if "y" in frame.columns or "unique_id" in frame.columns:
        return frame.reset_index(drop=True)
    value_columns = [c for c in frame.columns if c != "ds"]
    if not value_columns:
        raise DataError("wide data needs at least one series column besides 'ds'")
    text = [c for c in value_columns if not _numbers(frame[c])]
    if text:
        shown = ", ".join(f"{c!r} ({frame[c].dtype})" for c in text[:5])
        raise DataError(
            f"wide data (ds plus one column per series, no y) has column(s) that are not numbers: "
            f"{shown}; every column besides ds is read as a series' values: drop them, or give "
            "long format (unique_id, ds, y and numeric covariates)"
        )
    long = frame.melt(id_vars="ds", value_vars=value_columns, var_name="unique_id", value_name="y")
    return long[["unique_id", "ds", "y"]]


def _numbers(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


# -- the validated panel ------------------------------------------------------------------------
