"""Generated long-format panels of many series, for the tests and benchmarks.

Each series is a positive level path ``100 * exp(cumsum(drift + seasonal + noise))`` with its own
drift, noise scale and weekly seasonal amplitude (daily ``ds``).

- ``write_series_parquet(directory, rows, series)``: equal lengths, written as Parquet one slice
  of time at a time (``part-00000.parquet`` holds the first days of every series, and so on), the
  way event logs usually land, so every series is spread over every file and reading "by series"
  needs a real shuffle. Only one slice is in memory while writing.
- ``panel_frame(lengths)``: an in-memory long frame of ragged series (series ``i`` has
  ``lengths[i]`` days, all ending on the same day, as when new series join a panel).
- ``business_panel(series)``: a monthly panel shaped like a company's business series (the
  timing benchmark's panel, ``benchmarks/run_stages.py``): 48-144 months each, with trend and a
  yearly season, a few short series and a few that stopped reporting early (ragged ends).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

START = pd.Timestamp("2000-01-01")


def write_series_parquet(
    directory: str | Path,
    rows: int,
    series: int,
    *,
    files: int = 8,
    seed: int = 0,
    covariates: int = 0,
) -> Path:
    """Write ``rows`` rows (``series`` series of ``rows // series`` days) under ``directory``.

    ``covariates`` adds numeric columns ``x0, x1, ...`` (noisy weekly signals) beside ``y``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    length = rows // series
    if length < 2:
        raise ValueError(f"{rows} rows over {series} series leave fewer than 2 rows per series")
    rng = np.random.default_rng(seed)
    drift = rng.normal(2e-4, 5e-4, series)
    noise = rng.uniform(0.005, 0.03, series)
    amplitude = rng.uniform(0.0, 0.02, series)
    phase = rng.uniform(0, 2 * np.pi, series)
    ids = np.array([f"s{i:06d}" for i in range(series)])
    start = START
    level = np.zeros(series)
    bounds = np.linspace(0, length, files + 1).astype(int)
    for part, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        steps = np.arange(lo, hi)
        season = amplitude[:, None] * np.sin(2 * np.pi * steps[None, :] / 7 + phase[:, None])
        change = drift[:, None] + season + noise[:, None] * rng.standard_normal((series, hi - lo))
        path = level[:, None] + np.cumsum(change, axis=1)
        level = path[:, -1]
        columns = {
            "unique_id": np.repeat(ids, hi - lo),
            "ds": np.tile(start + pd.to_timedelta(steps, unit="D"), series),
            "y": (100.0 * np.exp(path)).ravel(),
        }
        for c in range(covariates):
            signal = np.cos(2 * np.pi * (steps[None, :] + c) / 7) + 0.1 * rng.standard_normal(
                (series, hi - lo)
            )
            columns[f"x{c}"] = signal.ravel()
        table = pa.table(columns)
        pq.write_table(table, directory / f"part-{part:05d}.parquet")
    return directory


def panel_frame(lengths: Sequence[int] | np.ndarray, *, seed: int = 0, covariates: int = 0) -> pd.DataFrame:
    """Long frame (``unique_id, ds, y[, x0, ...]``) of series ``s000000, s000001, ...`` where series
    ``i`` has ``lengths[i]`` daily observations ending on the same day; vectorised, so panels of
    millions of rows take a second or two. ``covariates`` adds noisy weekly signals."""
    lengths = np.asarray(lengths, dtype=np.int64)
    series, total = len(lengths), int(lengths.sum())
    rng = np.random.default_rng(seed)
    drift = rng.normal(2e-4, 5e-4, series)
    noise = rng.uniform(0.005, 0.03, series)
    amplitude = rng.uniform(0.0, 0.02, series)
    phase = rng.uniform(0, 2 * np.pi, series)
    seg = np.repeat(np.arange(series), lengths)
    starts = np.cumsum(lengths) - lengths
    step = (lengths.max(initial=0) - lengths)[seg] + np.arange(total) - starts[seg]  # common end day
    season = amplitude[seg] * np.sin(2 * np.pi * step / 7 + phase[seg])
    change = drift[seg] + season + noise[seg] * rng.standard_normal(total)
    path = np.cumsum(change)
    path -= np.repeat(path[starts] - change[starts], lengths)  # restart the sum at each series
    ids = np.array([f"s{i:06d}" for i in range(series)])
    columns = {
        "unique_id": ids[seg],
        "ds": START + pd.to_timedelta(step, unit="D"),
        "y": 100.0 * np.exp(path),
    }
    for c in range(covariates):
        columns[f"x{c}"] = np.cos(2 * np.pi * (step + c) / 7) + 0.1 * rng.standard_normal(total)
    return pd.DataFrame(columns)


#: ``business_panel``'s shape: most series have 48-144 months; ``SHORT_SHARE`` of them 24-47,
#: and ``RAGGED_SHARE`` end 1-12 months before the panel's last month.
MONTHS = (48, 144)
SHORT_MONTHS = (24, 47)
SHORT_SHARE = 0.05
RAGGED_SHARE = 0.1
MONTH_END = pd.Timestamp("2024-12-01")


def business_panel(series: int, *, seed: int = 0) -> pd.DataFrame:
    """Long monthly frame (``unique_id, ds, y``, ``ds`` month starts) of ``series`` positive
    series ``b000000, b000001, ...`` like a business panel's (sales, orders, revenue).

    Each is ``level * exp(trend * t + season + noise)``: a level spread over four orders of
    magnitude, a trend of -1%..+2% a month that may bend once, a yearly season of amplitude
    0-30% (its own phase) and AR(1) noise of 2-10%. Lengths are drawn from ``MONTHS``;
    ``SHORT_SHARE`` of the series are shorter (``SHORT_MONTHS``) and ``RAGGED_SHARE`` end
    1-12 months early, the rest on ``MONTH_END``. Vectorised: 14,000 series take a second.
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(MONTHS[0], MONTHS[1] + 1, series)
    short = rng.random(series) < SHORT_SHARE
    lengths[short] = rng.integers(SHORT_MONTHS[0], SHORT_MONTHS[1] + 1, int(short.sum()))
    early = np.where(rng.random(series) < RAGGED_SHARE, rng.integers(1, 13, series), 0)
    total = int(lengths.sum())
    seg = np.repeat(np.arange(series), lengths)
    starts = np.cumsum(lengths) - lengths
    t = np.arange(total) - starts[seg]  # months since the series' first observation
    trend = rng.uniform(-0.01, 0.02, series)
    bend = rng.uniform(0.3, 0.9, series) * lengths  # where the trend may change
    after = np.where(rng.random(series) < 0.3, rng.uniform(-0.02, 0.01, series), trend)
    end_month = (MONTH_END.year * 12 + MONTH_END.month - 1) - early  # each series' last month
    month = end_month[seg] - (lengths[seg] - 1 - t)  # absolute month index of each row
    amplitude = rng.uniform(0.0, 0.3, series)
    phase = rng.uniform(0, 2 * np.pi, series)
    noise = rng.uniform(0.02, 0.1, series)
    shocks = noise[:, None] * rng.standard_normal((series, int(lengths.max())))
    for k in range(1, shocks.shape[1]):  # AR(1) noise, coefficient 0.5: one pass over the months
        shocks[:, k] += 0.5 * shocks[:, k - 1]
    ar = shocks[seg, t]
    bent = np.minimum(t, bend[seg]) * trend[seg] + np.maximum(t - bend[seg], 0) * after[seg]
    season = amplitude[seg] * np.sin(2 * np.pi * month / 12 + phase[seg])
    level = np.exp(rng.uniform(np.log(10.0), np.log(1e5), series))
    y = level[seg] * np.exp(bent + season + ar)
    ds = (month - 1970 * 12).astype("datetime64[M]").astype("datetime64[ns]")
    ids = np.array([f"b{i:06d}" for i in range(series)])
    return pd.DataFrame({"unique_id": ids[seg], "ds": ds, "y": y})
