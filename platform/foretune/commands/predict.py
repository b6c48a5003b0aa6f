"""``foretune predict``: forecast every series of a history with a saved ensemble.

    forecast = predict(model="RUN/ensemble", data="history.parquet", horizon=None, samples=None,
                       out="forecast.parquet")

Every series with at least one observation is forecast, under its own id and in input order; the
history is read with the run's ``data.fill`` and ``data.freq`` (recorded in the artifact). A
series with one observation gets a flat forecast, flagged in the ``fallback`` column and counted
here; series the ensemble was not trained on are named in a warning. Without ``out`` the forecast
is printed; with it, written as Parquet. A problem with the data (``DataError``, e.g. a forecast
that is not finite) stops before anything is written, and the CLI exits 2.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from foretune.ensemble import Ensemble
from foretune.storage import is_uri, resolve, write_parquet


def predict(
    model: str | Path,
    data: str | Path | pd.DataFrame,
    horizon: int | None = None,
    samples: int | None = None,
    out: str | Path | None = None,
    futr: str | Path | pd.DataFrame | None = None,
    static: str | Path | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Load the ensemble at ``model``, forecast ``data``'s series, write or print the forecast.

    ``futr``: future-known covariates for the horizon; ``static``: statics of unseen series."""
    forecast = Ensemble.load(model).predict(
        data, horizon=horizon, samples=samples, futr_df=futr, static_df=static
    )
    if out:
        if is_uri(out):  # s3://bucket/forecast.parquet
            write_parquet(forecast, resolve(out))
        else:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            forecast.to_parquet(out, index=False)
        print(f"forecast ({len(forecast)} rows) written to {out}")
    else:
        print(forecast.to_string(index=False))
    fallback = forecast.loc[forecast["fallback"], "unique_id"].drop_duplicates()
    if len(fallback):
        shown = ", ".join(repr(v) for v in fallback.iloc[:10]) + (" ..." if len(fallback) > 10 else "")
        print(
            f"{len(fallback)} series with one observation forecast flat at their last value, with "
            f"the other series' relative spread (fallback): {shown}"
        )
    return forecast
