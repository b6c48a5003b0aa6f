"""Where a ``Foretune`` fit writes, and how its data gets there.

    run_dir = unused(local_dir("runs/exp"))              # a new local run directory
    data_path = stage_data(df, run_dir)                  # data.path: Parquet in place, else RUN/input.parquet
    static_path = stage_static(static_df, run_dir)       # data.static_path
    frame = frame_of(df)                                 # a long frame of any accepted input
    names = Columns("store", "date", "sales")            # the user's id, time and target columns
    df = names.inward(df)                                # unique_id, ds, y (a frame; as is if default)
    out = names.outward(forecast)                        # store, date, ... (sales for y)

Accepted data: a pandas DataFrame (long, or wide with ``ds`` and one column per series), a
Parquet file or directory, a CSV file, or a Ray Dataset; a URI (``s3://``, ``gs://``) is read
where it is.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from foretune.data.io import is_csv, read_table
from foretune.errors import ConfigError, DataError
from foretune.rundir import RunDir
from foretune.storage import check_uri, write_parquet

__all__ = [
    "STATIC_FILE",
    "Columns",
    "Data",
    "frame_of",
    "is_ray_dataset",
    "local_dir",
    "stage_data",
    "stage_static",
    "unused",
]

STATIC_FILE = "static.parquet"  # fit(static_df=frame) writes it in the run directory
#: Anything the estimator reads as data: a DataFrame, a Parquet/CSV path or a Ray Dataset.
Data = Any
CANONICAL = ("unique_id", "ds", "y")


@dataclass(frozen=True)
class Columns:
    """The user's names of the id, time and target columns (foretune's own: ``unique_id, ds,
    y``); data comes in renamed to foretune's and results go out renamed to the user's."""

    id_col: str = "unique_id"
    time_col: str = "ds"
    target_col: str = "y"

    @property
    def default(self) -> bool:
        return (self.id_col, self.time_col, self.target_col) == CANONICAL

    def or_these(self, id_col: str | None, time_col: str | None, target_col: str | None) -> Columns:
        """These names, with each one given replacing it."""
        return Columns(id_col or self.id_col, time_col or self.time_col, target_col or self.target_col)

    def inward(self, data: Any, *, time: bool = True, target: bool = True) -> Any:
        """``data`` with the user's columns named ``unique_id, ds, y`` (a frame; any accepted input
        passes through as it is when the names are foretune's own, and None stays None).
        ``target=False``: a frame without the target (``futr_df``); ``time=False`` neither
        (``static_df``). ``DataError`` names a column that is missing or would be shadowed."""
        if data is None or self.default:
            return data
        frame = _raw_frame(data)
        pairs = [(self.id_col, "unique_id"), (self.time_col, "ds"), (self.target_col, "y")]
        wanted = [pairs[0], *([pairs[1]] if time else []), *([pairs[2]] if target else [])]
        missing = [mine for mine, _ in wanted if mine not in frame.columns]
        if missing:
            raise DataError(
                f"column(s) {missing} are not in the data, which has {list(frame.columns)}; pass "
                "id_col=, time_col= and target_col= with the names of its id, time and target columns"
            )
        renames = {mine: ours for mine, ours in wanted if mine != ours}
        taken = [ours for ours in renames.values() if ours in frame.columns and ours not in renames]
        if taken:
            raise DataError(
                f"the data has a column {taken[0]!r} besides the one renamed to it; rename or drop it"
            )
        return frame.rename(columns=renames)

    def outward(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (foretune's columns) with ``unique_id, ds, y`` named as the user's."""
        if self.default:
            return frame
        ours = dict(zip(CANONICAL, (self.id_col, self.time_col, self.target_col), strict=True))
        return frame.rename(columns={k: v for k, v in ours.items() if k in frame.columns})

    def to_dict(self) -> dict[str, str]:
        return {"id_col": self.id_col, "time_col": self.time_col, "target_col": self.target_col}


def _raw_frame(data: Any) -> pd.DataFrame:
    """``data`` as a frame with the columns it has (nothing renamed or melted)."""
    if is_ray_dataset(data):
        return data.to_pandas()
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        return read_table(data)
    raise DataError(
        "the data must be a pandas DataFrame, a Parquet or CSV path or a Ray Dataset, "
        f"not {type(data).__name__}"
    )


def local_dir(location: str | Path) -> Path:
    """An absolute local run directory; the estimator does not write to object storage (the CLI
    and ``jobs/`` do)."""
    if "://" in str(location):
        raise ConfigError(
            f"Foretune writes its run directory locally, not to {location}; give out= a local "
            "directory (or unset FORETUNE_RUNS), or run `foretune run --out "
            f"{location}` for a run directory on object storage"
        )
    return Path(location).resolve()


def unused(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``, ... when it exists (two fits within one second)."""
    candidate, n = path, 2
    while candidate.exists():
        candidate, n = path.with_name(f"{path.name}-{n}"), n + 1
    return candidate


def is_ray_dataset(data: Any) -> bool:
    """Whether ``data`` is a Ray Dataset (without importing Ray)."""
    return type(data).__module__.startswith("ray.data") and hasattr(data, "write_parquet")


def frame_of(data: Any) -> pd.DataFrame:
    """A long frame of a DataFrame, a Parquet/CSV path or a Ray Dataset."""
    from foretune.data import read_frame

    if is_ray_dataset(data):
        return read_frame(data.to_pandas())
    if isinstance(data, (pd.DataFrame, str, Path)):
        return read_frame(data)
    raise DataError(
        "the data must be a pandas DataFrame (unique_id, ds, y), a Parquet or CSV path or a Ray "
        f"Dataset, not {type(data).__name__}"
    )


def stage_data(df: Any, run_dir: Path) -> str:
    """``data.path`` for ``df``: a Parquet path as it is, anything else as ``RUN/input.parquet``."""
    target = RunDir(run_dir).input
    if isinstance(df, (str, Path)):
        check_uri(str(df), "data")  # credentials: refused before anything is written or read
    if isinstance(df, (str, Path)) and "://" in str(df):
        return str(df)  # a URI (s3://, gs://) every node can read
    if isinstance(df, (str, Path)) and not is_csv(str(df)):
        if not Path(df).exists():
            raise DataError(f"data path {df} does not exist")
        return str(Path(df).resolve())
    run_dir.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)  # an earlier fit's Ray Dataset
    elif target.exists() or target.is_symlink():
        target.unlink()
    if is_ray_dataset(df):
        df.write_parquet(str(target))
        return str(target)
    frame = frame_of(df)
    try:
        write_parquet(frame, target)
    except (TypeError, ValueError, NotImplementedError) as exc:  # a column pyarrow cannot store
        raise DataError(f"cannot write the data as Parquet ({target}): {exc}") from None
    return str(target)


def stage_static(static_df: Any, run_dir: Path) -> str:
    """``data.static_path`` for ``static_df``: a path as it is, a frame as ``RUN/static.parquet``."""
    if isinstance(static_df, (str, Path)):
        check_uri(str(static_df), "static_df")
        return str(static_df)
    if not isinstance(static_df, pd.DataFrame):
        raise DataError(f"static_df must be a DataFrame or a path, not {type(static_df).__name__}")
    target = run_dir / STATIC_FILE
    run_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(static_df, target)
    return str(target)
