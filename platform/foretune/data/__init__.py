"""Data: read Parquet, validate, transform to standardised changes, cut windows, split.

Flow: ``read_frame`` (Parquet/frame -> long) -> ``validate`` (-> ``SeriesFrame``) ->
``prepare`` (fit ``RatioTransform`` on training parts, cut ``WindowSet`` splits). Data larger
than memory takes the same steps on Ray Data instead (``store``: one shuffle into a per-series
store, windows cut per block as they stream to training).
"""

from .calendar import Freq, future_dates, infer_freq, season_length
from .io import DataError, SeriesFrame, builtin_dataset_path, read_frame, to_long, validate
from .transform import RatioTransform, SeriesStats
from .windows import PreparedData, WindowSet, features, minimum_length, prepare, split_lengths

__all__ = [
    "DataError",
    "Freq",
    "PreparedData",
    "RatioTransform",
    "SeriesFrame",
    "SeriesStats",
    "WindowSet",
    "builtin_dataset_path",
    "features",
    "future_dates",
    "infer_freq",
    "minimum_length",
    "prepare",
    "read_frame",
    "season_length",
    "split_lengths",
    "to_long",
    "validate",
]
