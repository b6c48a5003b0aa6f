"""The cutoffs of ``Foretune.cross_validation`` and the actuals joined onto each one's forecast.

    frame, position, size = series_positions(df)
    for cutoff in cutoffs(frame, position, size, horizon=12, n_windows=3, step=12):
        forecast = ...  # a fit on cutoff.history, forecasting `horizon` steps
        piece = join_actuals(forecast, cutoff.history, cutoff.actual, series_key)

The last cutoff lies ``horizon`` rows before each series' end and each earlier one ``step`` rows
before the next; a series with nothing left before a cutoff sits that cutoff out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from foretune.errors import ConfigError, DataError

from .estimator_io import frame_of

__all__ = ["CV_DIR", "Cutoff", "check_windows", "cutoffs", "join_actuals", "series_positions"]

CV_DIR = "cv"  # cross-validation runs, one per cutoff


@dataclass(frozen=True)
class Cutoff:
    """Cutoff ``index`` (0 for the earliest): each series' ``history`` up to it (``back`` rows
    held back from its end) and its ``actual`` rows over the next ``horizon`` steps."""

    index: int
    back: int
    history: pd.DataFrame
    actual: pd.DataFrame


def check_windows(n_windows: int, step: int) -> tuple[int, int]:
    """``n_windows`` and ``step`` as integers; ``ConfigError`` when one is below 1."""
    n_windows, step = int(n_windows), int(step)
    if n_windows < 1:
        raise ConfigError(f"n_windows must be >= 1, got {n_windows}")
    if step < 1:
        raise ConfigError(f"step must be >= 1, got {step}")
    return n_windows, step


def series_positions(df: Any) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """``df`` as a long frame ordered by series (first appearance) and ``ds``, with each row's
    position in its series and its series' length."""
    frame = frame_of(df)
    if not {"unique_id", "y"} <= set(frame.columns):
        raise DataError(f"cross_validation needs columns unique_id, ds and y; found {list(frame.columns)}")
    order = frame.groupby("unique_id", sort=False, dropna=False).ngroup()
    frame = frame.assign(_order=order).sort_values(["_order", "ds"], kind="stable").reset_index(drop=True)
    groups = frame.groupby("_order", sort=False)
    position, size = groups.cumcount(), groups["ds"].transform("size")
    return frame.drop(columns="_order"), position, size


def cutoffs(
    frame: pd.DataFrame, position: pd.Series, size: pd.Series, horizon: int, n_windows: int, step: int
) -> Iterator[Cutoff]:
    """The ``n_windows`` cutoffs of ``series_positions``' frame, earliest first; ``DataError`` at
    a cutoff that leaves no series any history."""
    for k in range(n_windows):
        back = horizon + step * (n_windows - 1 - k)
        cut = size - 1 - back  # each series' last history row
        history = frame[position <= cut]
        if history.empty:
            raise DataError(
                f"no series has more than {back} rows, so cutoff {k} leaves no history; "
                "use fewer n_windows or a smaller step"
            )
        actual = frame[(position > cut) & (position <= cut + horizon)]
        yield Cutoff(index=k, back=back, history=history, actual=actual)


def join_actuals(
    forecast: pd.DataFrame,
    history: pd.DataFrame,
    actual: pd.DataFrame,
    series_key: Callable[[Any], str],
) -> pd.DataFrame:
    """``forecast`` with ``cutoff`` (each series' last history stamp) and the actual ``y``."""
    as_ds = _ds_converter(forecast["ds"])
    cutoffs = history.groupby("unique_id", sort=False, dropna=False)["ds"].last()
    cutoff_of = {series_key(uid): ds for uid, ds in cutoffs.items()}
    keys = forecast["unique_id"].map(series_key)
    values = actual.assign(_key=actual["unique_id"].map(series_key), ds=as_ds(actual["ds"]))
    values = values.drop_duplicates(["_key", "ds"], keep="last").set_index(["_key", "ds"])["y"]
    out = forecast.reset_index(drop=True)
    out.insert(2, "cutoff", as_ds(keys.map(cutoff_of)).to_numpy())
    lookup = pd.MultiIndex.from_arrays([keys.to_numpy(), out["ds"].to_numpy()])
    out.insert(3, "y", values.reindex(lookup).to_numpy(dtype=float))
    return out


def _ds_converter(target: pd.Series) -> Callable[[pd.Series], pd.Series]:
    """Convert time stamps of the input to the forecast's ``ds`` type, so that they compare."""
    if pd.api.types.is_datetime64_any_dtype(target):
        dtype = target.dtype

        def convert(values: pd.Series) -> pd.Series:
            return pd.to_datetime(pd.Series(values)).astype(dtype)

        return convert
    return lambda values: pd.Series(values)
