"""Naive, seasonal naive and statsforecast baselines."""

import numpy as np
import pandas as pd
import pytest

from foretune.evaluate import baselines
from foretune.evaluate.baselines import (
    naive,
    seasonal_naive,
    statistical,
)


def _frame(uid, ds, y):
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.asarray(y, dtype=float)})


@pytest.fixture
def mixed_history():
    monthly = _frame("m", pd.date_range("2020-01-01", periods=12, freq="MS"), np.arange(12))
    quarterly = _frame(
        "q",
        pd.date_range("2019-10-01", periods=8, freq="QS-OCT"),
        [1, 2, 3, 4, 5, 6, 7, 8],
    )
    return pd.concat([quarterly, monthly], ignore_index=True).assign(extra=0.0)  # extra columns ignored


def test_naive_continues_each_series_at_its_frequency(mixed_history):
    out = naive(mixed_history, 3)
    assert list(out.columns) == ["unique_id", "ds", "Naive"]
    m, q = out[out.unique_id == "m"], out[out.unique_id == "q"]
    assert list(m["ds"]) == list(pd.to_datetime(["2021-01-01", "2021-02-01", "2021-03-01"]))
    assert list(q["ds"]) == list(pd.to_datetime(["2021-10-01", "2022-01-01", "2022-04-01"]))
    assert list(m["Naive"]) == [11.0] * 3 and list(q["Naive"]) == [8.0] * 3


def test_seasonal_naive_repeats_last_season(mixed_history):
    out = seasonal_naive(mixed_history[mixed_history.unique_id == "q"], 6)  # season 4 from QS-OCT
    assert list(out["SeasonalNaive"]) == [5, 6, 7, 8, 5, 6]
    assert out["ds"].iloc[-1] == pd.Timestamp("2023-01-01")
    out = seasonal_naive(mixed_history, 2, season=3)
    assert list(out.loc[out.unique_id == "m", "SeasonalNaive"]) == [9, 10]
    with pytest.raises(ValueError, match="fewer than one season"):
        seasonal_naive(mixed_history, 2, season=9)  # series "q" has 8 points


def test_integer_ds_and_unordered_input():
    history = _frame(7, [2010, 2000, 2005], [3.0, 1.0, 2.0])
    out = naive(history, 2)
    assert list(out["ds"]) == [2015, 2020] and list(out["Naive"]) == [3.0, 3.0]
    assert out["unique_id"].dtype == history["unique_id"].dtype
    assert list(seasonal_naive(history, 3, season=2)["SeasonalNaive"]) == [
        2.0,
        3.0,
        2.0,
    ]


def test_bad_inputs():
    history = _frame("a", pd.to_datetime(["2020-01-01", "2020-01-02"]), [1, 2])
    with pytest.raises(ValueError, match="'a'.*pass freq"):
        naive(history, 1)
    assert naive(history, 1, freq="D")["ds"].iloc[0] == pd.Timestamp("2020-01-03")
    with pytest.raises(ValueError, match="horizon"):
        naive(history, 0, freq="D")
    with pytest.raises(ValueError, match="lacks"):
        naive(history.drop(columns="y"), 1)


def test_statistical_reports_missing_statsforecast(monkeypatch):
    monkeypatch.setattr(baselines, "statsforecast_available", lambda: False)
    with pytest.raises(ImportError, match="statsforecast"):
        statistical(_frame("a", [0, 1, 2], [1, 2, 3]), 1)


def test_statistical_on_realgdp():
    import statsmodels.api as sm

    data = sm.datasets.macrodata.load_pandas().data
    ds = pd.PeriodIndex.from_fields(
        year=data["year"].astype(int), quarter=data["quarter"].astype(int), freq="Q"
    )
    history = _frame("realgdp", ds.to_timestamp(how="start"), data["realgdp"])  # 1959Q1..2009Q3, 'QS-JAN'
    out = statistical(history, 8)
    assert list(out.columns) == ["unique_id", "ds", "AutoETS", "AutoTheta"]
    assert out.shape == (8, 4)
    assert list(out["ds"]) == list(pd.date_range("2009-10-01", periods=8, freq="QS"))
    values = out[["AutoETS", "AutoTheta"]].to_numpy()
    last = history["y"].iloc[-1]
    assert np.isfinite(values).all() and (np.abs(values / last - 1) < 0.2).all()


def test_statistical_naive_models_agree_with_ours():
    history = _frame(1, np.arange(0, 60, 5), [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
    out = statistical(history, 5, season=4, models=("Naive", "SeasonalNaive"))
    assert list(out["ds"]) == [60, 65, 70, 75, 80]
    np.testing.assert_allclose(out["Naive"], naive(history, 5)["Naive"])
    np.testing.assert_allclose(out["SeasonalNaive"], seasonal_naive(history, 5, season=4)["SeasonalNaive"])


def test_statistical_levels_give_each_models_own_nested_intervals():
    rng = np.random.default_rng(0)
    history = _frame("walk", np.arange(80), 100 + np.cumsum(rng.normal(0, 1, 80)))
    out = statistical(history, 4, models=("Naive",), level=[50, 90])
    assert sorted(out.columns) == sorted(
        ["unique_id", "ds", "Naive", "Naive-lo-90", "Naive-lo-50", "Naive-hi-50", "Naive-hi-90"]
    )
    lo90, lo50, mid, hi50, hi90 = (
        out[c].to_numpy() for c in ("Naive-lo-90", "Naive-lo-50", "Naive", "Naive-hi-50", "Naive-hi-90")
    )
    assert (lo90 < lo50).all() and (lo50 < mid).all() and (mid < hi50).all() and (hi50 < hi90).all()
    width = hi90 - lo90
    assert (np.diff(width) > 0).all()  # a random walk's interval widens with the horizon
