"""A real ragged panel end to end, as a new user runs it: the only data settings are ``--data`` and
``--horizon`` (the search is smaller than the quickstart's, to keep the test short).

The M1 yearly panel (shipped inside aeon) has series of 15 to 58 observations for a horizon of
6: some are too short for validation windows, and every one must still get a forecast.
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_pipeline_cli import foretune

from support import m1_yearly_panel


@pytest.mark.slow
def test_run_with_only_data_and_horizon_forecasts_every_series(tmp_path):
    panel = m1_yearly_panel(series=40)  # the 20 shortest series and 20 others
    panel = pd.concat([panel, pd.DataFrame({"unique_id": ["new"], "ds": [2000], "y": [5.0]})])
    data = tmp_path / "m1.parquet"
    panel.to_parquet(data, index=False)
    # no data settings beyond --data and --horizon; the search is made smaller (the quickstart's
    # 8 trials of up to 25 epochs), which leaves the data handling under test unchanged
    small = ("--trials", "4", "--set", "train.max_epochs=5")  # >= the ASHA grace period (5)
    result = foretune("run", "--data", str(data), "--horizon", "6", *small, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # one line says how many series fed each split; the 1-observation series trains on nothing
    assert "data: 41 series" in result.stdout and "1 too short to train (still forecast)" in result.stdout
    artifact = next((tmp_path / "runs").glob("*/ensemble"))
    out = tmp_path / "forecast.parquet"
    result = foretune("predict", "--model", str(artifact), "--data", str(data), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    forecast = pd.read_parquet(out)
    counts = forecast.groupby("unique_id", sort=False).size()
    assert list(counts.index) == list(panel["unique_id"].unique())  # every series, input order
    assert (counts == 6).all()
    assert forecast[["mean", "q05", "q95"]].notna().all().all()
