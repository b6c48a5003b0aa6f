"""What shapes a series store, and the Parquet input seen through its metadata only.

    settings = StoreSettings.from_config(config, covariates)
    dataset, filesystem, path = open_dataset(settings.source)     # reads no rows
    covariates = input_covariates(dataset.schema, config.data.covariates)
    estimated_window_bytes(source, longest_window, len(covariates))  # the in-memory path's need

``StoreSettings`` are saved with the store: opening it with other settings (``stream_cpus`` aside)
raises ``DataError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from foretune.errors import DataError

from .io import REQUIRED, resolve_source
from .splits import Splits
from .transform import DRIFT_PRIOR


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
    drift_prior: float = DRIFT_PRIOR

    @property
    def splits(self) -> Splits:
        """The split rule these settings give each series."""
        return Splits(self.horizon, self.val_windows, self.test_windows, self.holdout_windows)

    @classmethod
    def from_config(cls, config: Any, covariates: tuple[str, ...]) -> StoreSettings:
        """The settings of an experiment config, with the checked input ``covariates``."""
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
            data.drift_prior,
        )


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
