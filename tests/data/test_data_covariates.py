"""Covariates of three kinds (past, future-known, static) and calendar features, without Ray.

Real data: three quarterly US macro series of the built-in data, with the ``m1`` series as a
past covariate, a known-ahead ``promo`` flag that moves ``y`` and a static attribute per series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from foretune.data.covariates import InputSpec, calendar_features, calendar_kinds, with_inputs
from foretune.data.experiment import load_series, prepare_all, streamed_covariates
from foretune.errors import ConfigError, DataError
from foretune.models import ARCHITECTURES
from foretune.train import TrainSpec, fit
from support import COVARIATE_SERIES as SERIES
from support import covariate_panel, tiny_config

HORIZON = 4


@pytest.fixture(scope="module")
def panel_files(tmp_path_factory):
    df, static = covariate_panel()
    root = tmp_path_factory.mktemp("covariates")
    df.to_parquet(root / "data.parquet", index=False)
    static.to_parquet(root / "static.parquet", index=False)
    return root, df, static


@pytest.fixture(scope="module")
def prepared(panel_files):
    root, _, _ = panel_files
    config = covariate_config(root)
    return prepare_all(config, load_series(config))[8]


def covariate_config(root, **overrides):
    settings = {
        "data.path": str(root / "data.parquet"),
        "data.future_covariates": ["promo"],
        "data.static_path": str(root / "static.parquet"),
        "data.calendar": ["month"],
        "data.horizon": HORIZON,
        "search.windows": [8],
    }
    return tiny_config(**{**settings, **overrides})


def test_columns_are_named_by_kind_and_future_values_lead_by_the_horizon(panel_files):
    root, df, static = panel_files
    series = load_series(covariate_config(root))
    assert series.covariates == ("money", "futr:promo", "cal:month_sin", "cal:month_cos", "static:size")
    frame = series.frame
    gdp = frame[frame["unique_id"] == "realgdp"].reset_index(drop=True)
    raw = df[df["unique_id"] == "realgdp"].reset_index(drop=True)
    # row t carries promo at t + horizon, and the calendar of that date
    np.testing.assert_array_equal(gdp["futr:promo"][:-HORIZON], raw["promo"][HORIZON:])
    ahead = pd.DatetimeIndex(raw["ds"][HORIZON:])
    np.testing.assert_allclose(gdp["cal:month_sin"][:-HORIZON], np.sin(2 * np.pi * (ahead.month - 1) / 12))
    # statics: one value per series, standardised across the series
    sizes = static.set_index("unique_id")["size"]
    z = (sizes - sizes.mean()) / sizes.std(ddof=0)
    for uid in SERIES:
        np.testing.assert_allclose(frame.loc[frame["unique_id"] == uid, "static:size"], z[uid])


def test_windows_carry_every_kind_and_the_mask_stays_last(panel_files, prepared):
    _, df, _ = panel_files
    assert prepared.n_features == 1 + 5 + 1
    x = prepared.train.x
    np.testing.assert_array_equal(x[..., -1][x[..., -1] != 0], 1.0)  # the mask: last, 0/1
    # calendar and static columns are passed through, not standardised per series
    assert prepared.transform.unscaled == [2, 3, 4]
    assert np.abs(x[..., 3:5]).max() <= 1.0 + 1e-6
    # the future covariate in a window's last `horizon` rows is promo at its targets' dates
    first = prepared.train
    i = 0
    uid = prepared.series_ids[first.series[i]]
    stats = prepared.transform.stats[uid]
    raw = df[df["unique_id"] == uid]["promo"].to_numpy()
    o = first.origin[i]
    promo_z = x[i, -HORIZON:, 2] * stats.cov_sigma[1] + stats.cov_mu[1]
    np.testing.assert_allclose(promo_z, raw[o + 1 : o + 1 + HORIZON], atol=1e-5)


def test_past_covariates_default_to_the_extra_columns_not_declared_otherwise(panel_files):
    root, _, _ = panel_files
    plain = load_series(tiny_config(**{"data.path": str(root / "data.parquet")}))
    assert plain.covariates == ("money", "promo")  # backwards compatible: every extra column
    declared = load_series(tiny_config(**{"data.path": str(root / "data.parquet"), "data.covariates": []}))
    assert declared.covariates == ()


def test_calendar_features_of_known_dates():
    dates = pd.DatetimeIndex(["2024-01-01 00:00", "2024-03-15 06:00", "2024-12-31 18:00"])
    table = calendar_features(dates, ["month", "hour", "dayofweek"])
    angle = np.arccos(np.clip(table[:, 1::2], -1, 1)) * np.sign(table[:, 0::2])
    position = np.mod(angle, 2 * np.pi) / (2 * np.pi)
    np.testing.assert_allclose(position[:, 0] * 12, [0, 2, 11], atol=1e-9)  # Jan, Mar, Dec
    np.testing.assert_allclose(position[:, 1] * 24, [0, 6, 18], atol=1e-9)
    np.testing.assert_allclose(position[:, 2] * 7, [0, 4, 1], atol=1e-9)  # Mon, Fri, Tue
    assert calendar_kinds("auto", {"a": "MS"}) == ("month",)
    assert calendar_kinds("auto", {"a": "h"}) == ("hour", "dayofweek")
    with pytest.raises(ConfigError, match="integer time steps"):
        calendar_kinds(["month"], {"a": 1})


def test_bad_covariate_settings_are_clear_errors(panel_files):
    root, df, static = panel_files
    with pytest.raises(ConfigError, match=r"search.windows \[2\].*data.horizon=4"):
        prepare_all(covariate_config(root, **{"search.windows": [2, 8]}), load_series(covariate_config(root)))
    with pytest.raises(ConfigError, match="both data.covariates and data.future_covariates"):
        load_series(covariate_config(root, **{"data.covariates": ["promo"]}))
    with pytest.raises(DataError, match=r"future_covariates column\(s\) \['price'\]"):
        load_series(covariate_config(root, **{"data.future_covariates": ["price"]}))
    static.iloc[:2].to_parquet(root / "partial.parquet", index=False)
    with pytest.raises(DataError, match="static_df has no row for series 'cpi'"):
        load_series(covariate_config(root, **{"data.static_path": str(root / "partial.parquet")}))
    with pytest.raises(ConfigError, match="data.streaming: off"):
        streamed_covariates(covariate_config(root, **{"data.streaming": "on"}))


def test_futr_df_must_cover_each_series_horizon(panel_files):
    root, df, _ = panel_files
    series = load_series(covariate_config(root))
    spec = InputSpec.from_dict(series.inputs)
    history = series  # forecasting from the end of the data: futr_df needs the next 4 quarters
    last = df.groupby("unique_id")["ds"].max().iloc[0]
    future = pd.date_range(last, periods=HORIZON + 1, freq="QS-OCT")[1:]
    futr = pd.DataFrame({"unique_id": np.repeat(SERIES, HORIZON), "ds": np.tile(future, 3), "promo": 1.0})
    out = with_inputs(history, spec, futr).frame
    tail = out.groupby("unique_id", sort=False).tail(HORIZON)
    np.testing.assert_array_equal(tail["futr:promo"], 1.0)
    gap = futr.drop(index=5)  # realcons, its second forecast quarter
    with pytest.raises(DataError, match=rf"'realcons' at {future[1].date()}"):
        with_inputs(history, spec, gap)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_trains_on_covariates_and_reads_the_future_ones(
    prepared, torch_single_thread, architecture
):
    spec = TrainSpec(architecture, {}, window=8, horizon=HORIZON, max_epochs=1, seed=0)
    result = fit(spec, prepared, lambda metrics, checkpoint: None)
    assert result.status == "ok" and result.model is not None

    model = result.model.eval()
    x = torch.as_tensor(prepared.val.x[:4])
    moved = x.clone()
    moved[:, -HORIZON:, 2] += 3.0  # the future-known promo at the forecast steps
    with torch.no_grad():
        before, after = model(x), model(moved)
    before = before[0] if isinstance(before, tuple) else before
    after = after[0] if isinstance(after, tuple) else after
    assert not torch.allclose(before, after)  # the forecast reads the future covariate
