"""``foretune predict``: forecast every series of a history with a saved ensemble.

    forecast = predict(model="RUN/ensemble", data="history.parquet", horizon=None, samples=None,
                       out="forecast.parquet")

Without ``out`` the forecast is printed; with it, written as Parquet.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from foretune.ensemble import Ensemble


def predict(
    model: str | Path,
    data: str | Path | pd.DataFrame,
    horizon: int | None = None,
    samples: int | None = None,
    out: str | Path | None = None,
) -> pd.DataFrame:
    """Load the ensemble at ``model``, forecast ``data``'s series, write or print the forecast."""
    forecast = Ensemble.load(model).predict(data, horizon=horizon, samples=samples)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        forecast.to_parquet(out, index=False)
        print(f"forecast ({len(forecast)} rows) written to {out}")
    else:
        print(forecast.to_string(index=False))
    return forecast
