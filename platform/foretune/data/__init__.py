"""Data: read Parquet, validate, transform to standardised changes, cut windows, split.

Flow: ``read_frame`` (Parquet/frame -> long) -> ``validate`` (-> ``SeriesFrame``) ->
``prepare`` (fit ``RatioTransform`` on training parts, cut ``WindowSet`` splits by the ``Splits``
rule; ``PreparedData.summary.line()`` reports them). ``model_inputs`` builds a forecast's input
from a history the way the windows are built. ``covariates`` adds the model's covariate columns
(past, future-known, calendar and static) to a validated frame, for training and forecasts
alike. Data larger than memory takes the same steps on Ray Data instead (``store``: one shuffle
into a per-series store, windows cut per block as they stream to training). Frequencies are
resolved once, by ``validate`` (``SeriesFrame.freqs``); ``calendar`` holds every frequency rule
and the season rule (``season_lengths``).
"""

from .calendar import Freq, future_dates, infer_freq, season_length, season_lengths
from .io import builtin_dataset_path, read_frame, to_long
from .transform import RatioTransform, RowTransform, SeriesStats
from .validate import DataError, SeriesFrame, resolve_freqs, series_key, validate
from .windows import (
    DataSummary,
    PreparedData,
    Splits,
    WindowSet,
    default_windows,
    features,
    minimum_length,
    model_inputs,
    prepare,
)

__all__ = [
    "DataError",
    "DataSummary",
    "Freq",
    "PreparedData",
    "RatioTransform",
    "RowTransform",
    "SeriesFrame",
    "SeriesStats",
    "Splits",
    "WindowSet",
    "builtin_dataset_path",
    "default_windows",
    "features",
    "future_dates",
    "infer_freq",
    "minimum_length",
    "model_inputs",
    "prepare",
    "read_frame",
    "resolve_freqs",
    "season_length",
    "season_lengths",
    "series_key",
    "to_long",
    "validate",
]
