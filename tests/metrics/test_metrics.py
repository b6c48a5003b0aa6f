"""Metrics against values computed by hand (the arithmetic is in the comments)."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foretune.metrics import (
    central_interval,
    coverage,
    crps_from_samples,
    crps_gaussian,
    direction_accuracy,
    evaluate_forecasts,
    interval_pairs,
    interval_width,
    level_name,
    log_loss,
    mae,
    mase,
    mase_scale,
    pinball,
    quantile_columns,
    quantile_level,
    quantile_name,
    rmse,
    smape,
)


def test_mae_rmse():
    # errors 1, 0, 2
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))
    # 2-D [series, horizon]: |errors| 0, 1, 2, 0
    assert mae([[1, 2], [3, 4]], [[1, 3], [5, 4]]) == pytest.approx(0.75)
    # broadcasting a scalar forecast
    assert mae([1, 2, 3], 2) == pytest.approx(2 / 3)


def test_nan_points_are_skipped():
    assert mae([1, np.nan, 3], [2, 2, 2]) == pytest.approx(1.0)
    assert rmse([1, 2], [np.nan, 4]) == pytest.approx(2.0)
    assert math.isnan(mae([np.nan], [1.0]))


def test_smape_m4_and_both_zero():
    # point 0: both zero -> 0; point 1: 200*2/(1+3) = 100; point 2: 0
    assert smape([0, 1, 2], [0, 3, 2]) == pytest.approx(100 / 3)
    assert smape([0.0], [0.0]) == 0.0
    # one zero, other not: 200*|0-5|/5 = 200 (the maximum)
    assert smape([0.0], [5.0]) == pytest.approx(200.0)


def test_mase_seasonal_scale():
    insample = [1, 3, 2, 5, 2, 5, 3, 8]
    # season 4: |2-1|, |5-3|, |3-2|, |8-5| = 1, 2, 1, 3 -> scale 7/4
    # forecast |errors| 1 and 3.5 -> mean 2.25 -> 2.25 / 1.75 = 9/7
    assert mase([4, 6], [3, 9.5], insample, season=4) == pytest.approx(9 / 7)
    # season 1: diffs 2, 1, 3, 3, 3, 2, 5 -> scale 19/7 -> 2.25 * 7 / 19
    assert mase([4, 6], [3, 9.5], insample) == pytest.approx(2.25 * 7 / 19)


def test_mase_per_series_scale_and_padding():
    # scales 1 and 2; scaled errors 1/1 and 2/2
    assert mase([[3], [6]], [[4], [4]], [[0, 1, 2], [0, 2, 4]]) == pytest.approx(1.0)
    # a shorter history padded with NaN on the left gives the same scale
    assert mase([[3], [6]], [[4], [4]], [[np.nan, 0, 1], [0, 2, 4]]) == pytest.approx(1.0)


def test_mase_undefined_scale_is_nan():
    assert math.isnan(mase([1, 2], [1, 3], [5, 5, 5, 5]))  # constant history
    assert math.isnan(mase([1], [2], [1], season=4))  # no difference at all
    # a history not longer than its season falls back to the one-step scale |2 - 1| = 1
    assert mase([1], [3], [1, 2], season=4) == pytest.approx(2.0)
    assert mase_scale([np.nan, 1, 2, 4], season=4) == pytest.approx(1.5)
    # the undefined series is skipped in a multi-series mean: only 1/1 remains
    assert mase([[3], [6]], [[4], [4]], [[0, 1, 2], [2, 2, 2]]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        mase([1], [1], [1, 2], season=0)


def test_pinball():
    # q=0.9: under-forecast by 2 -> 0.9*2 = 1.8; over-forecast by 2 -> 0.1*2 = 0.2
    assert pinball([10, 10], [8, 12], 0.9) == pytest.approx(1.0)
    # several levels on a trailing axis: q=.1 pred 8 -> .2, q=.9 pred 12 -> .2
    assert pinball(np.array([10.0])[:, None], [[8, 12]], [0.1, 0.9]) == pytest.approx(0.2)


def test_pinball_edges():
    assert pinball([10], [10], 0.3) == 0.0  # exact hit
    assert pinball([10, 10], [12, 8], 0.0) == pytest.approx(1.0)  # q=0 charges only over-forecasts: 2, 0
    assert pinball([10, 10], [12, 8], 1.0) == pytest.approx(1.0)  # q=1 only under-forecasts: 0, 2
    assert pinball([1, 2, 4], [2, 2, 2], 0.5) == pytest.approx(0.5 * 1.0)  # half the MAE (1)
    with pytest.raises(ValueError):
        pinball([1], [1], 1.5)
    with pytest.raises(ValueError):
        pinball([1], [1], -0.1)


def test_crps_from_samples_by_hand():
    assert crps_from_samples(1.0, [3.0]) == pytest.approx(2.0)  # one draw: |x - y|
    # draws {0, 2}, y = 1: E|X-y| = 1, E|X-X'| = (0+2+2+0)/4 = 1 -> 1 - 0.5 = 0.5
    assert crps_from_samples(1.0, [0.0, 2.0]) == pytest.approx(0.5)
    # fair: 0.5 * (2+2)/(2*1) = 1 -> 0
    assert crps_from_samples(1.0, [2.0, 0.0], fair=True) == pytest.approx(0.0)
    # vectorised over trailing dims: points (y=1, {0,2}) -> .5 and (y=5, {5,5}) -> 0
    assert crps_from_samples([1.0, 5.0], [[0.0, 5.0], [2.0, 5.0]]) == pytest.approx(0.25)
    # a point with a NaN draw is skipped
    assert crps_from_samples([1.0, 5.0], [[0.0, np.nan], [2.0, 5.0]]) == pytest.approx(0.5)


def test_crps_from_samples_matches_pairwise_sum():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=3)
    pair = np.abs(x[:, None, :] - x[None, :, :]).mean(axis=(0, 1))
    expected = (np.abs(x - y).mean(axis=0) - 0.5 * pair).mean()
    assert crps_from_samples(y, x) == pytest.approx(expected)


def test_crps_gaussian_closed_form_by_hand():
    # y = mu: sigma * (2 phi(0) - 1/sqrt(pi)) = sigma * (sqrt(2) - 1) / sqrt(pi)
    assert crps_gaussian(0.0, 0.0, 1.0) == pytest.approx((math.sqrt(2) - 1) / math.sqrt(math.pi))
    assert crps_gaussian(3.0, 3.0, 2.0) == pytest.approx(2 * (math.sqrt(2) - 1) / math.sqrt(math.pi))
    assert crps_gaussian([1.0, 4.0], [3.0, 4.0], 0.0) == pytest.approx(1.0)  # sigma 0: |y - mu|
    with pytest.raises(ValueError):
        crps_gaussian(0.0, 0.0, -1.0)


def test_crps_samples_converge_to_gaussian():
    rng = np.random.default_rng(1)
    mu, sigma = np.array([1.0, -2.0, 0.5]), np.array([2.0, 0.5, 1.0])
    y = np.array([0.5, -1.0, 3.0])
    samples = mu + sigma * rng.standard_normal((100_000, 3))
    assert crps_from_samples(y, samples) == pytest.approx(crps_gaussian(y, mu, sigma), rel=1e-2)
    assert crps_from_samples(y, samples, fair=True) == pytest.approx(crps_gaussian(y, mu, sigma), rel=1e-2)


def test_coverage_and_width():
    # 1 in [0,2] yes; 2 in [2,2] yes (inclusive); 3 in [4,5] no; 4 in [3,5] yes
    assert coverage([1, 2, 3, 4], [0, 2, 4, 3], [2, 2, 5, 5]) == pytest.approx(0.75)
    assert interval_width([0, 1], [2, 4]) == pytest.approx(2.5)
    assert interval_width([1.0], [1.0]) == 0.0


def test_coverage_edges():
    assert coverage([1, np.nan], [0, 0], [2, 2]) == 1.0  # NaN actual skipped
    assert coverage([5, 5], [0, 0], [1, 1]) == 0.0
    assert math.isnan(coverage([np.nan], [0], [1]))
    assert coverage([0, 1], -np.inf, np.inf) == 1.0
    with pytest.raises(ValueError):
        coverage([1], [2], [1])
    with pytest.raises(ValueError):
        interval_width([2], [1])


def test_direction_accuracy():
    probs = [[0.6, 0.2, 0.2], [0.1, 0.2, 0.7], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]]
    # argmax 0, 2, 2, 1 vs labels 0, 1, 2, 2 -> 2 of 4
    assert direction_accuracy([0, 1, 2, 2], probs) == pytest.approx(0.5)
    assert direction_accuracy([0, np.nan], [[1, 0, 0], [0, 0, 1]]) == 1.0  # NaN label skipped
    with pytest.raises(ValueError):
        direction_accuracy([3], [[0.2, 0.3, 0.5]])


def test_log_loss():
    # -(ln 0.5 + ln 0.5) / 2 = ln 2
    assert log_loss([0, 2], [[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]]) == pytest.approx(math.log(2))
    assert log_loss([1], [[0.0, 1.0, 0.0]]) == pytest.approx(0.0)
    assert log_loss([0], [[0.0, 1.0, 0.0]]) == pytest.approx(-math.log(1e-15))  # clipped
    with pytest.raises(ValueError):
        log_loss([0], [[0.5, 0.5, 0.5]])


def _forecast_frames():
    history = pd.DataFrame(
        {
            "unique_id": ["a"] * 4 + ["b"] * 4,
            "ds": [0, 1, 2, 3] * 2,
            "y": [1, 2, 3, 4, 10, 10, 12, 12],
        }
    )
    frame = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "ds": [4, 5, 4, 5],
            "y": [5.0, 6.0, 12.0, 12.0],
            "mean": [6.0, 6.0, 12.0, 14.0],
            "q05": [4.0, 5.0, 13.0, 13.0],
            "q95": [6.0, 7.0, 14.0, 15.0],
            "direction": [2, 2, 1, 1],
            "p_down": [0.1, 0.8, 0.2, 0.2],
            "p_flat": [0.1, 0.1, 0.6, 0.6],
            "p_up": [0.8, 0.1, 0.2, 0.2],
        }
    )
    return history, frame


def test_evaluate_forecasts_by_hand():
    history, frame = _forecast_frames()
    per, agg = evaluate_forecasts(frame, history)
    a, b = per.set_index("unique_id").loc["a"], per.set_index("unique_id").loc["b"]
    # a: |errors| 1, 0; scale (season 1 for integer ds) = 1; sMAPE (200/11 + 0)/2
    assert a["mae"] == pytest.approx(0.5) and a["mase"] == pytest.approx(0.5)
    assert a["smape"] == pytest.approx(100 / 11)
    # b: |errors| 0, 2; scale (0 + 2 + 0)/3; sMAPE (0 + 400/26)/2
    assert b["mae"] == pytest.approx(1.0) and b["mase"] == pytest.approx(1.5)
    assert b["smape"] == pytest.approx(100 / 13)
    # a: both actuals inside [q05, q95], widths 2; b: both below q05, widths 1, 2
    assert (a["coverage_90"], a["width_90"]) == (1.0, 2.0)
    assert (b["coverage_90"], b["width_90"]) == (0.0, 1.5)
    # a: every quantile is off by 1 on its "cheap" side -> 0.05 each
    assert a["quantile_loss"] == pytest.approx(0.05)
    # a: argmax up, down vs up, up -> 0.5; b: flat, flat vs flat, flat -> 1
    assert a["direction_accuracy"] == 0.5 and b["direction_accuracy"] == 1.0
    assert b["log_loss"] == pytest.approx(-math.log(0.6))
    assert agg["mase"] == pytest.approx(1.0)
    assert agg["smape"] == pytest.approx((100 / 11 + 100 / 13) / 2)
    assert agg["coverage_90"] == pytest.approx(0.5) and agg["width_90"] == pytest.approx(1.75)
    assert (agg["n_series"], agg["n_points"], agg["mase_n_undefined"]) == (2, 4, 0)
    assert "crps" not in agg


def test_evaluate_forecasts_crps_sources_and_undefined_mase():
    history, frame = _forecast_frames()
    history.loc[history["unique_id"] == "b", "y"] = 7.0  # constant: MASE undefined for b
    frame = frame[["unique_id", "ds", "y", "mean"]].assign(std=0.0)
    per, agg = evaluate_forecasts(frame, history)
    assert agg["crps"] == pytest.approx(agg["mae"])  # sigma 0 -> CRPS is the absolute error
    assert math.isnan(per.set_index("unique_id").loc["b", "mase"])
    assert agg["mase"] == pytest.approx(0.5) and agg["mase_n_undefined"] == 1
    # samples take precedence over std: draws {y-1, y+1} -> E|X-y| = 1, E|X-X'|/2 = 0.5
    frame = frame.assign(sample_0=frame["y"] - 1, sample_1=frame["y"] + 1)
    _, agg = evaluate_forecasts(frame, point="mean")
    assert agg["crps"] == pytest.approx(0.5)
    assert "mase" not in agg


def test_evaluate_forecasts_checks_columns():
    _, frame = _forecast_frames()
    with pytest.raises(ValueError, match="Naive"):
        evaluate_forecasts(frame, point="Naive")
    with pytest.raises(ValueError, match="one fold"):
        evaluate_forecasts(pd.concat([frame, frame]))


def test_central_interval_matches_configured_quantiles():
    assert central_interval(0.9) == (0.05, 0.95)
    assert central_interval(0.8) == (0.1, 0.9)  # 0.1 exactly, not 0.09999999999999998
    assert central_interval(0.5) == (0.25, 0.75)


def test_quantile_names_spell_the_decimal_digits():
    names = {0.05: "q05", 0.5: "q50", 0.95: "q95", 0.1: "q10", 0.025: "q025", 0.975: "q975"}
    names |= {0.005: "q005", 0.995: "q995", 0.001: "q001", 0.123: "q123", 0.0001: "q0001"}
    for q, name in names.items():
        assert quantile_name(q) == name and quantile_level(name) == q
    # every interval level's bounds are named by the same function (no "q2.5", no "lo_95")
    assert [quantile_name(q) for q in central_interval(0.95)] == ["q025", "q975"]
    assert level_name(0.9) == "90" and level_name(0.975) == "97.5"
    for q in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            quantile_name(q)


def test_only_canonical_quantile_names_are_read():
    for name in ("q5", "q500", "q00", "q2.5", "q0.5", "q97.5", "lo_90", "qq05", "q05x", "mean"):
        assert quantile_level(name) is None, name
    columns = ["unique_id", "q95", "q05", "q500", "lo_90", "q975", "q025", "q50"]
    assert quantile_columns(columns) == {0.025: "q025", 0.05: "q05", 0.5: "q50", 0.95: "q95", 0.975: "q975"}
    assert interval_pairs(columns) == [(0.95, "q025", "q975"), (0.9, "q05", "q95")]  # widest first


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=999))
def test_every_quantile_with_up_to_three_decimals_round_trips(thousandths):
    q = thousandths / 1000
    name = quantile_name(q)
    assert quantile_level(name) == q  # exactly, as a float
    assert name.startswith("q") and name[1:].isdigit() and len(name) >= 3
    assert quantile_name(quantile_level(name)) == name


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(min_value=1, max_value=999), min_size=2, max_size=12))
def test_distinct_quantiles_get_distinct_names(thousandths):
    names = {quantile_name(k / 1000) for k in thousandths}
    assert len(names) == len(thousandths)
    assert list(quantile_columns(names)) == sorted(k / 1000 for k in thousandths)


# --------------------------------------------- the panel implementation vs one series at a time
def _panel_forecasts(seed=0):
    """Real histories and actuals (built-in macro series, ragged, one with NaN and one constant
    history, one without history) and random forecasts with every optional column."""
    from foretune.data import builtin_dataset_path

    rng = np.random.default_rng(seed)
    data = pd.read_parquet(builtin_dataset_path())
    histories, frames = [], []
    for i, (uid, g) in enumerate(data.groupby("unique_id", sort=False)):
        y = g["y"].to_numpy(np.float64)[-(20 + 3 * i) :]
        ds = g["ds"].to_numpy()[-(20 + 3 * i) :]
        cut = len(y) - 1 - i % 4  # horizons 1..4
        hist = pd.DataFrame({"unique_id": uid, "ds": ds[:cut], "y": y[:cut]})
        if uid == "cpi":
            hist.loc[3, "y"] = np.nan
        if uid == "m1":
            hist["y"] = 5.0  # constant: MASE undefined
        if uid != "pop":  # pop has no history: MASE NaN
            histories.append(hist)
        actual = y[cut:]
        if uid == "realgdp":
            actual = actual.copy()
            actual[0] = np.nan
        h = len(actual)
        spread = np.abs(rng.normal(0, 0.05, h)) * np.abs(y[:cut]).mean()
        mean = y[cut - 1] + rng.normal(0, 1, h) * spread
        frame = pd.DataFrame({"unique_id": uid, "ds": ds[cut:], "y": actual, "mean": mean, "std": spread})
        for q, z in ((0.05, -1.64), (0.25, -0.67), (0.5, 0.0), (0.75, 0.67), (0.95, 1.64)):
            frame[f"q{round(q * 100):02d}"] = mean + z * spread
        for s in range(7):
            frame[f"sample_{s}"] = mean + rng.normal(0, 1, h) * spread
        frame["direction"] = rng.integers(0, 3, h).astype(float)
        frame[["p_down", "p_flat", "p_up"]] = rng.dirichlet(np.ones(3), h)
        frames.append(frame)
    return pd.concat(histories).sample(frac=1, random_state=1), pd.concat(frames).sample(
        frac=1, random_state=2
    )


def _one_at_a_time(frame, history, season):
    """Each series scored alone with the array metrics."""
    rows = {}
    for uid, f in frame.sort_values("ds").groupby("unique_id"):
        y, yhat = f["y"].to_numpy(), f["mean"].to_numpy()
        row = {
            "n": int(np.sum(~np.isnan(y))),
            "mae": mae(y, yhat),
            "rmse": rmse(y, yhat),
            "smape": smape(y, yhat),
        }
        h = history[history.unique_id == uid].sort_values("ds")["y"].to_numpy()
        m = season.get(uid, 1) if isinstance(season, dict) else season
        row["mase"] = mase(y, yhat, h, m) if len(h) else np.nan
        if "sample_0" in f:
            row["crps"] = crps_from_samples(y, f[[f"sample_{s}" for s in range(7)]].to_numpy().T)
        elif "std" in f:
            row["crps"] = crps_gaussian(y, yhat, f["std"].to_numpy())
        levels = [0.05, 0.25, 0.5, 0.75, 0.95]
        row["quantile_loss"] = pinball(y[:, None], f[["q05", "q25", "q50", "q75", "q95"]].to_numpy(), levels)
        for name, lo, hi in (("50", "q25", "q75"), ("90", "q05", "q95")):
            row[f"coverage_{name}"] = coverage(y, f[lo], f[hi])
            row[f"width_{name}"] = interval_width(f[lo], f[hi])
        probs = f[["p_down", "p_flat", "p_up"]].to_numpy()
        row["direction_accuracy"] = direction_accuracy(f["direction"].to_numpy(), probs)
        row["log_loss"] = log_loss(f["direction"].to_numpy(), probs)
        rows[uid] = row
    return pd.DataFrame.from_dict(rows, orient="index")


@pytest.mark.parametrize("season", [1, 4, {"realgdp": 2, "cpi": 8, "realinv": 30}])
def test_evaluate_forecasts_matches_the_metrics_one_series_at_a_time(season):
    history, frame = _panel_forecasts()
    for columns in (frame.columns, [c for c in frame.columns if not c.startswith("sample_")]):
        per, agg = evaluate_forecasts(frame[columns], history, season=season)
        expected = _one_at_a_time(frame[columns], history, season)
        assert list(per["unique_id"]) == sorted(frame["unique_id"].unique())
        per = per.set_index("unique_id")
        assert set(per.columns) == set(expected.columns)
        pd.testing.assert_frame_equal(
            per[expected.columns], expected.loc[per.index], rtol=1e-12, check_names=False
        )
        assert agg["mase_n_undefined"] == int(expected["mase"].isna().sum()) >= 2  # m1 and pop
        for col in expected.columns.drop("n"):
            assert agg[col] == pytest.approx(np.nanmean(expected[col]), rel=1e-12)


def test_series_mase_scales_match_mase_scale():
    from foretune.metrics import series_mase_scales

    history, _ = _panel_forecasts()
    for season in (1, 3, 12, {"cpi": 2, "realgdp": 30}):
        scales = series_mase_scales(history, season)
        for uid, g in history.groupby("unique_id"):
            m = season.get(uid, 1) if isinstance(season, dict) else season
            expected = mase_scale(g.sort_values("ds")["y"].to_numpy(), m)
            assert scales[uid] == pytest.approx(expected, rel=1e-12, nan_ok=True)
    assert math.isnan(series_mase_scales(history)["m1"])  # constant history
    with pytest.raises(ValueError, match="season must be >= 1"):
        series_mase_scales(history, 0)
