"""Naive, seasonal naive and statsforecast baselines."""

import numpy as np
import pandas as pd
import pytest

from foretune.errors import DataError
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


# ------------------------------------------------------ the panel implementation vs one series
def _real_panel() -> pd.DataFrame:
    """Real series at four frequencies, ragged lengths and calendars, rows shuffled."""
    import statsmodels.api as sm

    from foretune.data import builtin_dataset_path

    macro = pd.read_parquet(builtin_dataset_path())
    parts = [
        macro[macro.unique_id == uid].tail(n)  # quarterly (QS-OCT), each ending 2009-07-01
        for uid, n in (("realgdp", 30), ("cpi", 9), ("pop", 17), ("m1", 4))
    ]
    parts.append(macro[macro.unique_id == "realinv"].iloc[-40:-11])  # ends earlier
    elnino = sm.datasets.elnino.load_pandas().data
    months = elnino.melt(id_vars="YEAR", var_name="month", value_name="y")
    months["ds"] = pd.to_datetime(
        months["YEAR"].astype(int).astype(str) + "-" + months["month"], format="%Y-%b"
    )
    months = months.sort_values("ds")
    parts.append(months.tail(30).assign(unique_id="elnino"))  # monthly (MS)
    parts.append(months.iloc[100:113].assign(unique_id="elnino_early"))
    co2 = sm.datasets.co2.load_pandas().data.dropna().tail(60)  # weekly (W-SAT)
    parts.append(pd.DataFrame({"unique_id": "co2", "ds": co2.index, "y": co2["co2"].to_numpy()}))
    spots = sm.datasets.sunspots.load_pandas().data.tail(25)  # integer years, step 1
    parts.append(
        pd.DataFrame({"unique_id": "sunspots", "ds": spots["YEAR"].astype(int), "y": spots["SUNACTIVITY"]})
    )
    frame = pd.concat([p[["unique_id", "ds", "y"]] for p in parts[:-1]], ignore_index=True)
    return frame.sample(frac=1.0, random_state=0), parts[-1][["unique_id", "ds", "y"]]


def _reference(history: pd.DataFrame, horizon: int, season: int | None, column: str) -> pd.DataFrame:
    """The baselines one series at a time: continue the dates, repeat the last (season) values."""
    from foretune.data import future_dates, infer_freq, season_length

    parts = []
    for uid, g in history.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True):
        freq = infer_freq(g["ds"])
        y = g["y"].to_numpy(np.float64)
        if column == "Naive":
            values = np.full(horizon, y[-1])
        else:
            m = season if season is not None else season_length(freq)
            values = y[len(y) - m + np.arange(horizon) % m]
        ds = future_dates(g["ds"].iloc[-1], freq, horizon)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, column: values}))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("horizon", [1, 5, 14])
def test_panel_baselines_match_one_series_at_a_time(horizon):
    dated, years = _real_panel()
    for history in (dated[dated.unique_id != "m1"], years):  # m1 (4 points) is shorter than a season
        got = naive(history, horizon)
        pd.testing.assert_frame_equal(got, _reference(history, horizon, None, "Naive"))
        got = seasonal_naive(history, horizon)
        pd.testing.assert_frame_equal(got, _reference(history, horizon, None, "SeasonalNaive"))
        got = seasonal_naive(history, horizon, season=3)
        pd.testing.assert_frame_equal(got, _reference(history, horizon, 3, "SeasonalNaive"))
    # m1 has 4 quarters: enough for naive and a quarterly season
    pd.testing.assert_frame_equal(naive(dated, horizon), _reference(dated, horizon, None, "Naive"))
    zoned = dated.assign(ds=dated["ds"].dt.tz_localize("Europe/Rome"))
    assert naive(zoned, horizon)["ds"].dt.tz is not None
    pd.testing.assert_frame_equal(naive(zoned, horizon), _reference(zoned, horizon, None, "Naive"))


def test_panel_baselines_raise_for_the_first_failing_series_as_before():
    dated, _ = _real_panel()
    lengths = dated.groupby("unique_id").size().sort_index()  # the order series were forecast in
    for season in (5, 10, 14, 20):
        first = lengths.index[lengths < season][0]
        with pytest.raises(
            DataError,
            match=rf"series '{first}' has {lengths[first]} points, fewer than one season \({season}\)",
        ):
            seasonal_naive(dated, 2, season=season)
    # without a season, each series' own (m1: 4 quarters, elnino_early: 13 months of 12) fits
    assert len(seasonal_naive(dated, 2)) == 2 * len(lengths)
    short = dated[~((dated.unique_id == "elnino_early") & (dated.ds < "1958-07-01"))]
    assert short.groupby("unique_id").size()["elnino_early"] == 11
    with pytest.raises(DataError, match=r"series 'elnino_early' has 11 points, fewer than one season \(12\)"):
        seasonal_naive(short, 2)
    # a series whose frequency cannot be inferred fails first if it comes first
    odd = _frame("a_odd", pd.to_datetime(["2001-01-01", "2001-01-02", "2001-01-05"]), [1, 2, 3])
    with pytest.raises(DataError, match=r"series 'a_odd'.*not regularly spaced"):
        seasonal_naive(pd.concat([dated, odd]), 2, season=14)
    with pytest.raises(DataError, match=r"series 'cpi' has 9"):
        seasonal_naive(pd.concat([dated, odd.assign(unique_id="z_odd")]), 2, season=14)
    with pytest.raises(DataError, match=r"series 'z_odd'.*not regularly spaced"):
        naive(pd.concat([dated, odd.assign(unique_id="z_odd")]), 2)
    with pytest.raises(ValueError, match="season must be >= 1"):
        seasonal_naive(dated, 2, season=0)


def test_infer_freqs_matches_infer_freq_per_series():
    from foretune.data.calendar import infer_freq, infer_freqs, series_seasons

    dated, years = _real_panel()
    odd = _frame("odd", pd.to_datetime(["2001-01-01", "2001-01-02", "2001-01-05"]), [1, 2, 3])
    two = _frame("two", pd.to_datetime(["2001-01-01", "2001-01-02"]), [1, 2])
    for history in (
        pd.concat([dated, odd, two]),
        years,
        dated.assign(ds=dated["ds"].dt.tz_localize("UTC")),
        dated.assign(ds=dated["ds"].astype(str)),  # not a datetime column: one series at a time
        dated.assign(unique_id=dated["unique_id"].astype("category")),
    ):
        expected = {}
        for uid, g in history.groupby("unique_id", sort=False, observed=True):
            try:
                expected[uid] = infer_freq(g["ds"])
            except ValueError:
                expected[uid] = None
        found = infer_freqs(history)
        assert found == expected and list(found) == list(expected)
    assert infer_freqs(pd.concat([dated, odd]))["odd"] is None
    seasons = series_seasons(pd.concat([dated, odd]))
    quarterly = dict.fromkeys(["realgdp", "cpi", "pop", "m1", "realinv"], 4)
    assert seasons == {**quarterly, "elnino": 12, "elnino_early": 12, "co2": 52, "odd": 1}
