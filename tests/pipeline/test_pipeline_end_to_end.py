"""End to end on a real local Ray: 2-trial Tune/Optuna sweep -> ensemble -> predict -> reload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from foretune.data import builtin_dataset_path
from foretune.ensemble import ArtifactError, Ensemble

HORIZON = 4


@pytest.fixture(scope="module")
def finished_run(tiny_ensemble_run):
    run_dir, artifact = tiny_ensemble_run  # horizon HORIZON, shared with explain and evaluate tests
    return run_dir, pd.read_parquet(run_dir / "leaderboard.parquet"), artifact


def test_leaderboard_has_one_row_per_trial_with_metrics(finished_run):
    run_dir, board, _ = finished_run
    on_disk = pd.read_parquet(run_dir / "leaderboard.parquet")
    assert len(on_disk) == 2
    for column in (
        "trial_id",
        "architecture",
        "val_loss",
        "val_mae",
        "val_rmse",
        "val_smape",
        "val_mase",
        "train_seconds",
        "status",
        "checkpoint_path",
        "hyperparameters",
    ):
        assert column in on_disk.columns, column
    assert set(on_disk["status"]) == {"ok"}
    assert on_disk["val_loss"].is_monotonic_increasing
    for path in on_disk["checkpoint_path"]:
        assert (Path(path) / "model.pt").is_file()
    assert (on_disk["val_mase"] > 0).all() and np.isfinite(on_disk["val_mae"]).all()


def test_predict_returns_forecast_in_original_units(finished_run):
    _, _, artifact = finished_run
    history = pd.read_parquet(builtin_dataset_path())
    forecast = Ensemble.load(artifact).predict(history)
    expected = ["unique_id", "ds", "mean", "std_mc", "q05", "q50", "q95", "p_down", "p_flat", "p_up"]
    assert all(c in forecast.columns for c in expected)
    assert len(forecast) == history["unique_id"].nunique() * HORIZON
    # quarterly data continue quarterly after each series' last date
    gdp = forecast[forecast.unique_id == "realgdp"]
    assert list(gdp["ds"]) == list(pd.date_range("2009-10-01", periods=HORIZON, freq="QS-OCT"))
    # original units: near the last observed level, not standardised log-ratios
    last = history[history.unique_id == "realgdp"]["y"].iloc[-1]
    assert abs(gdp["mean"].iloc[0] / last - 1) < 0.1
    assert (forecast["q05"] <= forecast["q50"]).all() and (forecast["q50"] <= forecast["q95"]).all()
    assert (forecast["std_mc"] > 0).all()
    probs = forecast[["p_down", "p_flat", "p_up"]].sum(axis=1)
    np.testing.assert_allclose(probs, 1.0, atol=1e-5)


def test_shorter_horizon_and_too_long_horizon(finished_run):
    _, _, artifact = finished_run
    ens = Ensemble.load(artifact)
    short = ens.predict(builtin_dataset_path(), horizon=2, samples=8)
    assert short.groupby("unique_id").size().eq(2).all()
    with pytest.raises(ValueError, match="horizon=9"):
        ens.predict(builtin_dataset_path(), horizon=9)


def test_reload_in_new_process_predicts_the_same(finished_run, tmp_path):
    _, _, artifact = finished_run
    here = Ensemble.load(artifact).predict(builtin_dataset_path(), samples=8, seed=3)
    out = tmp_path / "forecast.parquet"
    code = (
        "from foretune import Ensemble; import sys;"
        "Ensemble.load(sys.argv[1]).predict(sys.argv[2], samples=8, seed=3)"
        ".to_parquet(sys.argv[3], index=False)"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(artifact), str(builtin_dataset_path()), str(out)],
        check=True,
    )
    there = pd.read_parquet(out)
    pd.testing.assert_frame_equal(here, there, check_exact=False, rtol=1e-6)


def test_artifact_is_self_describing_and_tamper_evident(finished_run, tmp_path):
    import shutil

    _, _, artifact = finished_run
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert manifest["versions"]["torch"] and manifest["files"]
    assert manifest["input_schema"]["required"] == ["unique_id", "ds", "y"]
    copy = tmp_path / "ensemble"
    shutil.copytree(artifact, copy)
    weights = next(copy.glob("members/*/model.pt"))
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ArtifactError, match="checksum"):
        Ensemble.load(copy)


def test_new_series_of_the_same_kind_is_forecast(finished_run):
    _, _, artifact = finished_run
    history = pd.read_parquet(builtin_dataset_path())
    new = history[history.unique_id == "cpi"].assign(unique_id="cpi_copy", y=lambda d: d.y * 3)
    forecast = Ensemble.load(artifact).predict(new, samples=8)
    assert set(forecast.unique_id) == {"cpi_copy"}
    assert abs(forecast["mean"].iloc[0] / new["y"].iloc[-1] - 1) < 0.1
