"""The experiment's data: read and validate it, prepare windows for every searched window length,
and decide whether it streams. The sweep and the ensemble stage both start here.

    series = load_series(config)             # SeriesFrame, validated for the longest window
    prepared = prepare_all(config, series)   # {window: PreparedData}, one fitted transform
    covariates = streamed_covariates(config) # None: in memory; a tuple: stream via Ray Data
"""

from __future__ import annotations

from foretune.config import ExperimentConfig

from .io import SeriesFrame, read_frame, validate
from .store import estimated_window_bytes, input_covariates, open_dataset
from .transform import RatioTransform
from .windows import PreparedData, prepare


def load_series(config: ExperimentConfig) -> SeriesFrame:
    """Read and validate the experiment's data (built-in data when no path is set)."""
    data = config.data
    longest = max(config.search.windows)
    return validate(
        read_frame(data.path),
        transform=data.transform,
        min_length=longest + data.horizon + 1,
        covariates=data.covariates,
    )


def prepare_all(config: ExperimentConfig, series: SeriesFrame) -> dict[int, PreparedData]:
    """Prepared windows for every window length the search may pick (one fitted transform)."""
    data = config.data
    out = {}
    for window in sorted(set(config.search.windows)):
        transform = RatioTransform(data.transform, data.eps, data.flat_band)
        out[window] = prepare(
            series,
            window=window,
            horizon=data.horizon,
            transform=transform,
            val_fraction=data.val_fraction,
            test_fraction=data.test_fraction,
        )
    return out


def streamed_covariates(config: ExperimentConfig) -> tuple[str, ...] | None:
    """The covariates when the experiment's data stream through Ray Data, else ``None``.

    ``data.streaming`` on/off decides; ``auto`` streams when the in-memory windows (estimated from
    the Parquet metadata, no rows read) would exceed ``data.stream_above_gb``. The built-in data
    never streams. The input's columns are checked here, before Ray starts.
    """
    data = config.data
    if data.path is None or data.streaming == "off":
        return None
    dataset, _, _ = open_dataset(str(data.path))
    if data.streaming == "auto" and not {"unique_id", "y"} <= set(dataset.schema.names):
        return None  # wide format: melted in memory (streaming takes long format only)
    covariates = input_covariates(dataset.schema, data.covariates)
    if data.streaming == "auto":
        need = estimated_window_bytes(str(data.path), max(config.search.windows), len(covariates))
        if need <= data.stream_above_gb * 1e9:
            return None
    return covariates
