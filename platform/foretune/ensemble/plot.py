"""Fan charts of an ensemble's forecast: ``plot_forecast(ensemble, history, series=["a"])``.

``Ensemble.plot`` is this function; matplotlib is imported only when a chart is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from foretune.data import DataError, read_frame

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .model import Ensemble


def plot_forecast(
    ensemble: Ensemble,
    data: pd.DataFrame | str | Path,
    series: Iterable[Any] | None = None,
    horizon: int | None = None,
    samples: int | None = None,
    seed: int | None = None,
    history_factor: int = 4,
    *,
    futr_df: pd.DataFrame | str | Path | None = None,
    static_df: pd.DataFrame | str | Path | None = None,
) -> Figure:
    """Forecast ``series`` of ``data`` (default: its first six) and draw each one's recent
    history, forecast mean, median and shaded calibrated intervals (``ensemble.fan_chart``);
    ``futr_df`` and ``static_df`` are the covariates, as for ``Ensemble.predict``.

    Returns a matplotlib ``Figure``: a notebook shows it, ``fig.savefig(path)`` writes it.
    """
    from .fan_chart import MAX_SERIES, fan_chart  # matplotlib only when drawing

    history = read_frame(data)
    ids = list(pd.unique(history["unique_id"]))
    chosen = ids[:MAX_SERIES] if series is None else list(series)
    unknown = [uid for uid in chosen if uid not in set(ids)]
    if unknown:
        raise DataError(f"series {unknown[:5]} are not in the data to plot; it has {ids[:5]} ...")
    history = history[history["unique_id"].isin(chosen)]
    forecast = ensemble.predict(
        history, horizon=horizon, samples=samples, seed=seed, futr_df=futr_df, static_df=static_df
    )
    return fan_chart(forecast, history, chosen, history_factor=history_factor)
