"""``evaluate_forecasts`` gives utilsforecast's numbers on a real panel (MAE, RMSE, sMAPE, the
quantile loss and coverage, with the same formulas, computed for the whole panel at once); MASE
follows foretune's rule, and here is where the two MASE rules part."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from utilsforecast.evaluation import evaluate
from utilsforecast.losses import coverage, mae, mase, mqloss, rmse, smape

from foretune.data import builtin_dataset_path
from foretune.ensemble.nixtla import to_nixtla
from foretune.metrics import evaluate_forecasts, quantile_name

HORIZON = 6
LEVELS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)


def panel_forecast(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The built-in panel's last ``HORIZON`` quarters, forecast by a drifting naive forecast with
    normal quantiles, and the history before them; one actual is missing."""
    rng = np.random.default_rng(seed)
    data = pd.read_parquet(builtin_dataset_path())
    last = data.groupby("unique_id").cumcount(ascending=False) < HORIZON
    history, future = data[~last], data[last].reset_index(drop=True)
    level = history.groupby("unique_id")["y"].last()
    spread = history.groupby("unique_id")["y"].apply(lambda y: y.diff().abs().mean())
    step = future.groupby("unique_id").cumcount() + 1
    scale = future["unique_id"].map(spread) * np.sqrt(step)
    frame = future.assign(mean=future["unique_id"].map(level) + rng.normal(0, 0.5, len(future)) * scale)
    for q in LEVELS:
        frame[quantile_name(q)] = frame["mean"] + norm.ppf(q) * scale
    frame.loc[3, "y"] = np.nan  # a missing actual is skipped by both
    return history, frame


def test_the_library_metrics_equal_utilsforecasts_on_a_real_panel():
    history, frame = panel_forecast()
    ours, _ = evaluate_forecasts(frame, history, season=4)
    ours = ours.set_index("unique_id")
    view = to_nixtla(frame).dropna(subset=["y"])
    table = evaluate(view, [mae, rmse, smape, coverage], level=[50, 80, 90, 95])
    theirs = table.pivot(index="unique_id", columns="metric", values="foretune").loc[ours.index]
    np.testing.assert_allclose(ours["mae"], theirs["mae"], rtol=1e-12)
    np.testing.assert_allclose(ours["rmse"], theirs["rmse"], rtol=1e-12)
    np.testing.assert_allclose(ours["smape"], 200 * theirs["smape"], rtol=1e-12)  # M4's 0..200
    for level in (50, 80, 90, 95):
        np.testing.assert_allclose(ours[f"coverage_{level}"], theirs[f"coverage_level{level}"], rtol=1e-12)
    columns = [quantile_name(q) for q in LEVELS]
    quantile = mqloss(frame.dropna(subset=["y"]), {"m": columns}, np.array(LEVELS)).set_index("unique_id")
    np.testing.assert_allclose(ours["quantile_loss"], quantile.loc[ours.index, "m"], rtol=1e-12)
    assert ours["n"].sum() == len(frame) - 1


def test_mase_stays_foretunes_where_the_two_rules_part():
    """Equal on ordinary series; a constant history makes utilsforecast's MASE infinite (it would
    swamp any mean) where foretune's is undefined (NaN, left out of the mean and counted)."""
    history, frame = panel_forecast()
    history = history.assign(y=history["y"].where(history["unique_id"] != "pop", 5.0))  # constant
    ours, aggregate = evaluate_forecasts(frame, history, season=4)
    ours = ours.set_index("unique_id")["mase"]
    view = frame[["unique_id", "ds", "y", "mean"]].dropna(subset=["y"])
    theirs = mase(view, ["mean"], seasonality=4, train_df=history).set_index("unique_id")["mean"]
    ordinary = ours.index != "pop"
    np.testing.assert_allclose(ours[ordinary], theirs.loc[ours.index[ordinary]], rtol=1e-12)
    assert math.isnan(ours["pop"]) and math.isinf(theirs["pop"])
    assert aggregate["mase_n_undefined"] == 1 and math.isfinite(aggregate["mase"])


def test_crossed_bounds_are_still_refused():
    history, frame = panel_forecast()
    frame.loc[0, ["q05", "q95"]] = frame.loc[0, ["q95", "q05"]].to_numpy()
    with pytest.raises(ValueError, match="crossed"):
        evaluate_forecasts(frame, history)
