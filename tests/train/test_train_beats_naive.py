"""A network trained with the default training settings beats seasonal naive out of sample on a
small real seasonal panel (statsmodels' monthly CO2 and El Nino sea-surface temperature)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from foretune import metrics as M
from foretune.data import RatioTransform, model_inputs, prepare, validate
from foretune.data.transform import RowTransform
from foretune.train import TrainSpec, fit

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
HORIZON, SEASON, WINDOWS = 12, 12, 3  # three held-out years, one rolling origin each


def seasonal_panel() -> pd.DataFrame:
    """Monthly CO2 at Mauna Loa and El Nino SST, long format: the accuracy benchmark's loaders
    (``benchmarks/datasets.py``, imported by path: one definition of each data set)."""
    spec = importlib.util.spec_from_file_location("benchmark_datasets", BENCHMARKS / "datasets.py")
    datasets = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(datasets)  # registered first: its dataclasses look their module up
    return pd.concat([datasets.co2(), datasets.elnino()], ignore_index=True)


def _without_last(frame: pd.DataFrame, points: int) -> pd.DataFrame:
    position = frame.groupby("unique_id").cumcount(ascending=False)
    return frame[position >= points].reset_index(drop=True)


def test_a_default_network_beats_seasonal_naive_on_held_out_years():
    frame = seasonal_panel()
    seen = _without_last(frame, WINDOWS * HORIZON)  # the network never sees the scored years
    window = 2 * max(HORIZON, SEASON)
    data = prepare(
        validate(seen), window=window, horizon=HORIZON, transform=RatioTransform("auto"), test_windows=0
    )
    spec = TrainSpec("nbeats", {}, window=window, horizon=HORIZON, max_epochs=6, seed=0)  # defaults otherwise
    assert spec.loss == "mase" and spec.input_levels and spec.steps_per_epoch == 100
    model = fit(spec, data, lambda metrics, checkpoint: None, device="cpu").model.eval()
    ours, naive = [], []
    for k in range(WINDOWS):  # rolling origins over the held-out years
        history = _without_last(frame, (WINDOWS - k) * HORIZON)
        for uid, series in history.groupby("unique_id"):
            y = series["y"].to_numpy(np.float64)
            actual = frame.loc[frame["unique_id"] == uid, "y"].to_numpy()[len(y) : len(y) + HORIZON]
            x = model_inputs(data.transform, uid, y, None, window)[None]
            with torch.no_grad():
                z = model(torch.as_tensor(x))[0].numpy().astype(np.float64)
            rows = RowTransform(data.transform, np.array([uid], dtype=object))
            forecast = rows.levels(np.array([y[-1]]), rows.changes(z))[0]
            scale = M.mase_scale(y, SEASON)
            ours.append(np.mean(np.abs(actual - forecast)) / scale)
            naive.append(np.mean(np.abs(actual - np.resize(y[-SEASON:], HORIZON))) / scale)
    assert np.all(np.isfinite(ours))
    assert np.mean(ours) < 0.8 * np.mean(naive), (ours, naive)
