"""The experiment's data: read and validate it, prepare windows for every searched window length,
and decide whether it streams. The sweep and the ensemble stage both start here.

    series = load_series(config)             # SeriesFrame, validated (any length from 1 up)
    config = with_windows(config, series)    # auto splits and search.windows None -> from the data
    prepared = prepare_all(config, series)   # {window: PreparedData}, same splits and statistics
    print(next(iter(prepared.values())).summary.line())  # the caller reports the splits
    covariates = streamed_covariates(config) # None: in memory; a tuple: stream via Ray Data
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from foretune.config import ExperimentConfig
from foretune.errors import ConfigError

from .calendar import Freq, common_freq, season_lengths
from .covariates import InputSpec, data_columns, input_spec, read_static, require_windows, with_inputs
from .io import is_csv, read_frame
from .splits import Splits, auto_split_windows, default_windows
from .store_input import estimated_window_bytes, input_covariates, open_dataset
from .transform import RatioTransform
from .validate import SeriesFrame, validate
from .windows import PreparedData, prepare

#: The value of ``data.val_windows``/``test_windows`` resolved from the data.
AUTO = "auto"


def load_series(config: ExperimentConfig) -> SeriesFrame:
    """Read and validate the experiment's data (built-in data when no path is set).

    No series is too short here: one without a training window is still forecast (``prepare``).
    Its covariates are the model's input columns (``covariates.with_inputs``): past, future-known
    (``data.future_covariates``), calendar (``data.calendar``) and static (``data.static_path``).
    """
    data = config.data
    frame = read_frame(data.path)
    static = read_static(data.static_path) if data.static_path else None
    past, future = data_columns(
        frame, data.covariates, data.future_covariates, () if static is None else list(static.columns)
    )
    series = validate(
        frame,
        transform=data.transform,
        min_length=1,
        covariates=past + future,
        fill=data.fill,
        freq=data.freq,
    )
    return with_inputs(series, input_spec(data, past, future, series, static))


def run_splits(config: ExperimentConfig) -> Splits:
    """The experiment's split rule: validation, test and the held-out tail (``evaluate.windows``);
    ``config`` resolved by ``with_windows`` (or ``with_split_windows``)."""
    data = config.data
    if AUTO in (data.val_windows, data.test_windows):
        raise ConfigError("data.val_windows/test_windows 'auto' is resolved from the data first")
    return Splits(data.horizon, data.val_windows, data.test_windows, config.evaluate.windows)


def with_split_windows(
    config: ExperimentConfig, lengths: Sequence[int] | np.ndarray | None
) -> ExperimentConfig:
    """``config`` with ``data.val_windows``/``test_windows`` ``auto`` resolved for series of
    ``lengths`` (``auto_split_windows``; None, e.g. streamed data not yet read: 1)."""
    data = config.data
    if AUTO not in (data.val_windows, data.test_windows):
        return config
    k = 1 if lengths is None else auto_split_windows(data.horizon, lengths)
    resolved = config.model_copy(deep=True)
    if data.val_windows == AUTO:
        resolved.data.val_windows = k
    if data.test_windows == AUTO:
        resolved.data.test_windows = k
    return resolved


def panel_season(config: ExperimentConfig, freqs: Iterable[Freq]) -> int:
    """``data.season``, else the season length of the panel's most common frequency."""
    return int(season_lengths([common_freq(freqs)], config.data.season)[0])


def with_windows(config: ExperimentConfig, series: SeriesFrame) -> ExperimentConfig:
    """``config`` with what depends on the data filled in: ``auto`` validation and test windows
    (``with_split_windows``), and ``search.windows`` when it is None: multiples of the horizon and
    the season that the panel's series can give (``default_windows``). Explicit values win."""
    lengths = series.frame.groupby("unique_id", sort=False).size().to_numpy()
    config = with_split_windows(config, lengths)
    if config.search.windows is not None:
        return config
    resolved = config.model_copy(deep=True)
    resolved.search.windows = default_windows(
        config.data.horizon, panel_season(config, series.freqs.values()), lengths
    )
    return resolved


def prepare_all(config: ExperimentConfig, series: SeriesFrame) -> dict[int, PreparedData]:
    """Prepared windows for every window length the search may pick (one fitted transform)."""
    config = with_windows(config, series)
    data = config.data
    if series.inputs:
        require_windows(InputSpec.from_dict(series.inputs), config.search.windows)
    out = {}
    for window in sorted(set(config.search.windows)):
        transform = RatioTransform(data.transform, data.eps, data.flat_band, drift_prior=data.drift_prior)
        out[window] = prepare(
            series,
            window=window,
            horizon=data.horizon,
            transform=transform,
            val_windows=data.val_windows,
            test_windows=data.test_windows,
            holdout_windows=config.evaluate.windows,
            season=data.season,
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
    if is_csv(str(data.path)):  # CSV is read whole; streaming takes Parquet
        if data.streaming == "on":
            raise ConfigError(f"data.streaming: on needs Parquet input; {data.path} is CSV")
        return None
    dataset, _, _ = open_dataset(str(data.path))
    if data.streaming == "auto" and not {"unique_id", "ds", "y"} <= set(dataset.schema.names):
        return None  # wide format (or a missing column): read in memory, which says what is wrong
    if data.future_covariates or data.static_path or data.calendar:
        if data.streaming == "on":
            raise ConfigError(
                "streamed data (data.streaming: on) takes past covariates only; data.future_covariates, "
                "data.static_path and data.calendar need data.streaming: off (in memory)"
            )
        return None  # future-known, static and calendar inputs are built in memory
    covariates = input_covariates(dataset.schema, data.covariates)
    if data.streaming == "auto":
        longest = max(config.search.windows or [5 * max(data.horizon, data.season or 1)])
        need = estimated_window_bytes(str(data.path), longest, len(covariates))
        if need <= data.stream_above_gb * 1e9:
            return None
    return covariates
