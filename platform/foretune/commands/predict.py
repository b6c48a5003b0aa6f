"""``foretune predict``: forecast every series of a history with a saved ensemble.

    forecast = predict(model="RUN/ensemble", data="history.parquet", horizon=None, samples=None,
                       out="forecast.parquet", overwrite=False)

Every series with at least one observation is forecast, under its own id and in input order; the
history is read with the run's ``data.fill`` and ``data.freq`` (recorded in the artifact). A
series with one observation gets a flat forecast, flagged in the ``fallback`` column and counted
here; series the ensemble was not trained on are named in a warning. Without ``out`` the forecast
is printed; with it, written atomically as Parquet or CSV by its suffix. ``out`` is checked
before any work (``storage.check_output``): another suffix, a path that is one of the inputs,
or an existing file without ``overwrite`` is refused. A problem with the data (``DataError``,
e.g. a forecast that is not finite) stops before anything is written, and the CLI exits 2.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from foretune import arguments
from foretune.ensemble import Ensemble
from foretune.storage import check_output, write_frame


def predict(
    model: str | Path,
    data: str | Path | pd.DataFrame,
    horizon: int | None = None,
    samples: int | None = None,
    out: str | Path | None = None,
    futr: str | Path | pd.DataFrame | None = None,
    static: str | Path | pd.DataFrame | None = None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Load the ensemble at ``model``, forecast ``data``'s series, write or print the forecast.

    ``futr``: future-known covariates for the horizon; ``static``: statics of unseen series;
    ``overwrite``: replace an existing ``out``."""
    arguments.samples(samples)
    inputs = {"--data": data, "--model": model, "--futr": futr, "--static": static}
    target = check_output(out, inputs=inputs, overwrite=overwrite) if out else None
    forecast = Ensemble.load(model).predict(
        data, horizon=horizon, samples=samples, futr_df=futr, static_df=static
    )
    if target is not None:
        write_frame(forecast, target)
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
