"""Real panels end to end on one tiny real ensemble (local Ray, 2 CPUs): every series a user brings
is forecast, under its own id and in input order, and degenerate data never gives silent nonsense.

The sweep trains on the built-in quarterly data under int ids 1..8, plus a constant series (9),
one too short for held-out windows (10, trains only), one with validation but no test windows
(11) and one that crosses zero (12: the auto transform makes it a difference series).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from foretune import metrics as M
from foretune.data import DataError, builtin_dataset_path
from foretune.ensemble import Ensemble, UnseenSeriesWarning
from support import tiny_config, tiny_run

HORIZON = 4
#: The quantile columns of the default levels (50, 80, 90, 95%) and quantiles, ascending.
QUANTILES = ["q025", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "q975"]
#: Input order of the forecast history: not sorted, so order is seen to be kept.
ORDER = [5, 1, 9, 2, 12, 3, 4, 6, 7, 8, 10, 11]
ONE, THREE, CONSTANT = 1, 2, 9  # series with 1 observation, with 3, constant
SETTINGS = {
    "data.horizon": HORIZON,
    "data.fill": "interpolate",
    "data.season": 2,
    "train.max_epochs": 3,
    "ensemble.samples": 8,
}

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def training_panel() -> pd.DataFrame:
    macro = pd.read_parquet(builtin_dataset_path())
    ids = {uid: i + 1 for i, uid in enumerate(macro["unique_id"].unique())}
    frame = macro.assign(unique_id=macro["unique_id"].map(ids).astype("int64"))
    ds = pd.Series(np.sort(frame["ds"].unique()))
    wave = 50 * np.sin(np.arange(len(ds)) / 3) + np.random.default_rng(0).normal(0, 5, len(ds))
    extra = [
        pd.DataFrame({"unique_id": 9, "ds": ds, "y": 5.0}),
        pd.DataFrame({"unique_id": 10, "ds": ds.iloc[-8:], "y": np.linspace(40.0, 47.0, 8)}),
        pd.DataFrame({"unique_id": 11, "ds": ds.iloc[-12:], "y": 30 + np.arange(12.0) ** 1.5}),
        pd.DataFrame({"unique_id": 12, "ds": ds, "y": wave}),
    ]
    return pd.concat([frame, *extra], ignore_index=True)


def forecast_history(panel: pd.DataFrame) -> pd.DataFrame:
    """``ORDER``'s series; ``ONE`` keeps its last observation, ``THREE`` its last three."""
    parts = []
    for uid in ORDER:
        rows = panel[panel["unique_id"] == uid]
        parts.append(rows.iloc[-1:] if uid == ONE else rows.iloc[-3:] if uid == THREE else rows)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def run(ray_session, tmp_path_factory):
    data = tmp_path_factory.mktemp("panel") / "panel.parquet"
    panel = training_panel()
    panel.to_parquet(data, index=False)
    overrides = {**SETTINGS, "data.path": str(data)}
    run_dir, artifact = tiny_run(tmp_path_factory, **overrides)
    return run_dir, artifact, tiny_config(**overrides), panel


@pytest.fixture(scope="module")
def forecast(run):
    _, artifact, _, panel = run
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnseenSeriesWarning)  # every series was trained on
        return Ensemble.load(artifact).predict(forecast_history(panel), seed=3)


def rows_of(frame: pd.DataFrame, uid) -> pd.DataFrame:
    return frame[frame["unique_id"] == uid].reset_index(drop=True)


def test_build_records_the_data_settings_and_uses_the_series_with_held_out_windows(run):
    from foretune.data.experiment import load_series, prepare_all

    run_dir, artifact, config, _ = run
    state = json.loads((artifact / "ensemble.json").read_text())
    assert {k: state[k] for k in ("fill", "freq", "season", "val_windows", "test_windows")} == {
        "fill": "interpolate",
        "freq": None,
        "season": 2,
        "val_windows": 1,
        "test_windows": 1,
    }
    saved = json.loads((run_dir / "config.json").read_text())
    windows = sorted({m.window for m in Ensemble.load(artifact).members if not m.statistical})
    assert set(windows) <= set(saved["search"]["windows"])
    data = prepare_all(config, load_series(config))[windows[0]]
    index = {uid: i for i, uid in enumerate(data.series_ids)}
    assert index["10"] not in data.val.series and index["10"] in data.train.series  # trains only
    assert index["11"] in data.val.series and index["11"] not in data.test.series
    assert state["selection"]["windows"] == len(data.val)  # weighted on every validation window
    # calibrated on every test window whose series has a MASE scale: not the constant one's
    defined = data.test.series != index[str(CONSTANT)]
    assert np.isnan(data.mase_scale[index[str(CONSTANT)]])
    assert np.isfinite(data.mase_scale[data.test.series[defined]]).all()
    assert state["calibration"]["90"]["n"] == int(defined.sum())
    scales = json.loads((artifact / "calibration.json").read_text())["series_scale"]
    assert scales[str(CONSTANT)] is None and set(scales) == set(data.series_ids)
    assert np.isnan(Ensemble.load(artifact).scales[str(CONSTANT)])


def test_every_series_gets_horizon_rows_in_input_order_under_its_own_id(run, forecast):
    _, _, _, panel = run
    history = forecast_history(panel)
    assert forecast["unique_id"].dtype == np.int64
    assert list(forecast["unique_id"].drop_duplicates()) == ORDER
    assert forecast.groupby("unique_id", sort=False).size().eq(HORIZON).all()
    for uid in ORDER:
        last = history[history["unique_id"] == uid]["ds"].iloc[-1]
        want = pd.date_range(last, periods=HORIZON + 1, freq="QS-OCT")[1:]
        assert list(rows_of(forecast, uid)["ds"]) == list(want)
    values = forecast[["mean", "std_mc", *QUANTILES, "p_down", "p_flat", "p_up"]].to_numpy()
    assert np.isfinite(values).all()
    assert (np.diff(forecast[QUANTILES].to_numpy(), axis=1) >= 0).all()
    assert [c for c in forecast.columns if c.startswith("q")] == QUANTILES  # no duplicates
    np.testing.assert_allclose(forecast[["p_down", "p_flat", "p_up"]].sum(axis=1), 1.0, atol=1e-6)
    assert forecast["fallback"].dtype == bool
    assert set(forecast.loc[forecast["fallback"], "unique_id"]) == {ONE}
    short = rows_of(forecast, THREE)  # 3 observations: a real, padded forecast
    assert not short["fallback"].any() and (short["q95"] > short["q05"]).all()


def test_one_observation_is_flat_with_the_panels_relative_spread(run, forecast):
    _, _, _, panel = run
    history = forecast_history(panel)
    last = history.groupby("unique_id", sort=False)["y"].last()
    one = rows_of(forecast, ONE)
    level = last[ONE]
    assert (one["mean"] == level).all() and (one["q50"] == level).all()
    assert (one["p_flat"] == 1.0).all() and (one["p_down"] == 0.0).all() and (one["p_up"] == 0.0).all()
    # by hand: per step and column, the median over the other modelled, non-constant series of
    # (column - q50) / |last|, times this series' |last|
    others = [u for u in ORDER if u not in (ONE, CONSTANT)]
    for column in [*QUANTILES, "std_mc"]:
        centre = 0.0 if column == "std_mc" else np.stack([rows_of(forecast, u)["q50"] for u in others])
        table = np.stack([rows_of(forecast, u)[column] for u in others])
        size = np.abs(last[others].to_numpy())[:, None]
        want = (0.0 if column == "std_mc" else level) + np.median((table - centre) / size, axis=0) * abs(
            level
        )
        np.testing.assert_allclose(one[column], want, rtol=1e-12)
    assert (one["q975"] > one["q75"]).all() and (one["q75"] > level).all() and (one["q25"] < level).all()


def test_when_every_series_has_one_observation_the_forecast_is_flat_with_no_width(run):
    _, artifact, _, panel = run
    last = panel.groupby("unique_id", sort=False).tail(1)
    history = last[last["unique_id"].isin([3, 7])]  # too short to show a frequency: the run's
    fc = Ensemble.load(artifact).predict(history)
    assert list(fc["unique_id"].drop_duplicates()) == [3, 7] and fc["fallback"].all()
    for uid, level in zip(history["unique_id"], history["y"], strict=True):
        rows = rows_of(fc, uid)
        assert (rows[["mean", *QUANTILES]].to_numpy() == level).all() and (rows["std_mc"] == 0).all()
        assert list(rows["ds"]) == list(pd.date_range("2009-10-01", periods=HORIZON, freq="QS-OCT"))


def test_a_constant_series_is_flat_with_a_zero_width_band(forecast):
    constant = rows_of(forecast, CONSTANT)
    assert not constant["fallback"].any()
    np.testing.assert_allclose(constant[["mean", *QUANTILES]].to_numpy(), 5.0, rtol=1e-9)
    assert (constant["q975"] - constant["q025"]).max() <= 1e-8
    assert (constant["p_flat"] == 1.0).all()


def test_float_ids_find_the_series_trained_under_int_ids(run, forecast):
    _, artifact, _, panel = run
    history = forecast_history(panel)
    floats = history.assign(unique_id=history["unique_id"].astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnseenSeriesWarning)
        again = Ensemble.load(artifact).predict(floats, seed=3)
    assert again["unique_id"].dtype == np.float64
    assert list(again["unique_id"].drop_duplicates()) == [float(u) for u in ORDER]
    pd.testing.assert_frame_equal(again.drop(columns="unique_id"), forecast.drop(columns="unique_id"))


def test_series_never_seen_are_named_and_scaled_with_data_season(run):
    _, artifact, _, panel = run
    ensemble = Ensemble.load(artifact)
    base = panel[panel["unique_id"] == 3]
    new = base.assign(unique_id=42, y=base["y"] * 3)
    history = pd.concat([forecast_history(panel), new], ignore_index=True)
    with pytest.warns(UnseenSeriesWarning, match=r"^1 series the ensemble was not trained on \(42\)"):
        fc = ensemble.predict(history, seed=3)
    assert list(fc["unique_id"].drop_duplicates()) == [*ORDER, 42]
    assert np.isfinite(rows_of(fc, 42)[["mean", *QUANTILES]].to_numpy()).all()
    with pytest.warns(UnseenSeriesWarning):
        inputs = ensemble.inputs(history)
    assert inputs.uids[-1] == "42" and inputs.unseen == ["42"]
    assert inputs.scale[-1] == pytest.approx(M.mase_scale(new["y"].to_numpy(), 2))  # data.season 2
    assert inputs.scale[ORDER.index(5)] == pytest.approx(ensemble.scales["5"])  # saved at build time
    many = pd.concat([new.assign(unique_id=100 + i) for i in range(12)], ignore_index=True)
    with pytest.warns(UnseenSeriesWarning, match=r"^12 series .*\(100, 101, .*, 109 and 2 more\)"):
        ensemble.inputs(many)


def test_gaps_are_filled_as_the_run_filled_them(run, forecast):
    _, artifact, _, panel = run
    history = forecast_history(panel)
    gap = history.index[history["unique_id"] == 3][-5]
    filled = history.copy()
    rows = filled.index[filled["unique_id"] == 3]
    at = list(rows).index(gap)
    filled.loc[gap, "y"] = (filled.loc[rows[at - 1], "y"] + filled.loc[rows[at + 1], "y"]) / 2
    again = Ensemble.load(artifact).predict(history.drop(index=gap), seed=3)  # data.fill interpolate
    by_hand = Ensemble.load(artifact).predict(filled, seed=3)
    pd.testing.assert_frame_equal(again, by_hand)


def test_values_that_cannot_give_a_finite_forecast_raise_data_error(run, tmp_path):
    from foretune.cli import main

    _, artifact, _, panel = run
    ensemble = Ensemble.load(artifact)
    history = forecast_history(panel)
    huge = history.copy()
    huge.loc[huge.index[huge["unique_id"] == 5][-1], "y"] = 1e300
    with pytest.raises(DataError, match=r"1e\+300.* series '5'"):
        ensemble.predict(huge)
    negative = history.copy()
    negative.loc[negative.index[negative["unique_id"] == 3][-1], "y"] = -1.0
    with pytest.raises(DataError, match=r"series 3 was trained with the log_ratio transform.*-1"):
        ensemble.predict(negative)  # log of a negative level: NaN inputs, refused by name
    # grows 1e100-fold a step: its constant change overflows float64 in the second step
    boom = pd.DataFrame(
        {
            "unique_id": 77,
            "ds": pd.date_range("2008-01-01", periods=4, freq="QS-OCT"),
            "y": [1e-150, 1e-50, 1e50, 1e150],
        }
    )
    exploding = pd.concat([history, boom], ignore_index=True)
    with pytest.warns(UnseenSeriesWarning), pytest.raises(DataError, match=r"not finite.*\b77\b.*check"):
        ensemble.predict(exploding)
    path, out = tmp_path / "history.parquet", tmp_path / "forecast.parquet"
    exploding.to_parquet(path, index=False)
    with pytest.warns(UnseenSeriesWarning):
        code = main(["predict", "--model", str(artifact), "--data", str(path), "--out", str(out)])
    assert code == 2 and not out.exists()


def test_predict_command_writes_ids_and_fallback(run, tmp_path, capsys):
    from foretune.cli import main

    _, artifact, _, panel = run
    path, out = tmp_path / "history.parquet", tmp_path / "forecast.parquet"
    forecast_history(panel).to_parquet(path, index=False)
    assert main(["predict", "--model", str(artifact), "--data", str(path), "--out", str(out)]) == 0
    written = pd.read_parquet(out)
    assert written["unique_id"].dtype == np.int64 and written["fallback"].dtype == bool
    assert list(written["unique_id"].drop_duplicates()) == ORDER
    assert "1 series with one observation forecast flat" in capsys.readouterr().out


def test_explain_attributes_a_short_series_behind_its_mask(run):
    from foretune.explain import explain_ensemble, feature_names

    _, artifact, _, panel = run
    ensemble = Ensemble.load(artifact)
    ex = explain_ensemble(ensemble, forecast_history(panel), series=[THREE, 5], step=1)
    names = feature_names(ensemble.covariates)
    assert names[-1] == "mask" and ex.summary["features"] == names
    assert ex.summary["series"] == [str(5), str(THREE)]  # input order
    a = ex.attributions
    assert np.isfinite(a["attribution"]).all()
    short = a[a["unique_id"] == str(THREE)]
    assert short.loc[short["lag"] > 2, "attribution"].eq(0.0).all()  # padding: input 0 = baseline
    assert short.loc[short["lag"] <= 2, "attribution"].abs().sum() > 0
    assert (ex.completeness["output"] - ex.completeness["baseline_output"]).abs().max() > 0
