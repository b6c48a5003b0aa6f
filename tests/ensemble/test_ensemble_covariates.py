"""A tiny real run with past, future-known, static and calendar covariates, end to end.

One module-scoped ``Foretune.fit(df, static_df=...)`` on three built-in quarterly series
(``support.covariate_panel``: ``money`` past, ``promo`` known ahead and lifting ``y``, ``size``
static, month of the year); forecasts read the horizon's ``promo`` from ``futr_df`` and say
which series and dates lack it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foretune import Foretune
from foretune.data import DataError
from foretune.ensemble import Ensemble
from support import TINY, covariate_panel

HORIZON = 4
CUT = 52  # history rows per series; the next 4 quarters are the forecast's


@pytest.fixture(scope="module")
def covariate_run(ray_session, tmp_path_factory):
    """Fit from DataFrames with the estimator (``Foretune.fit(df, static_df=...)``)."""
    df, static = covariate_panel()
    settings = {
        f"{section}.{key}": value
        for section, values in TINY.items()
        if isinstance(values, dict)
        for key, value in values.items()
    }
    # deep members only: these tests are about the networks' covariate inputs
    settings.update(
        {"data.future_covariates": ["promo"], "data.calendar": ["month"], "ensemble.statistical": []}
    )
    ft = Foretune(horizon=HORIZON, models=["mlp", "gru"], config=settings, out=tmp_path_factory.mktemp("run"))
    ft.fit(df, static_df=static)
    artifact = ft.run_dir / "ensemble"
    ensemble = Ensemble.load(artifact)
    rows = df.groupby("unique_id", sort=False).cumcount()
    history = df[rows < CUT].reset_index(drop=True)
    futr = df[(rows >= CUT) & (rows < CUT + HORIZON)][["unique_id", "ds", "promo"]].reset_index(drop=True)
    assert ft.predict(history, futr_df=futr, samples=4)["mean"].notna().all()
    return ensemble, history, futr, static, artifact


def test_saved_ensemble_names_its_inputs_and_forecasts_from_futr_df(covariate_run):
    ensemble, history, futr, _, _ = covariate_run
    assert ensemble.covariates == ["money", "futr:promo", "cal:month_sin", "cal:month_cos", "static:size"]
    forecast = ensemble.predict(history, futr_df=futr)
    assert len(forecast) == 3 * HORIZON and np.isfinite(forecast["mean"]).all()
    expected = futr.assign(ds=pd.to_datetime(futr["ds"]))[["unique_id", "ds"]]
    pd.testing.assert_frame_equal(forecast[["unique_id", "ds"]], expected, check_dtype=False)


def test_the_future_covariate_moves_the_forecast(covariate_run):
    ensemble, history, futr, _, _ = covariate_run
    base = ensemble.predict(history, futr_df=futr, seed=0)
    flipped = ensemble.predict(history, futr_df=futr.assign(promo=1 - futr["promo"]), seed=0)
    again = ensemble.predict(history, futr_df=futr, seed=0)
    np.testing.assert_array_equal(base["mean"], again["mean"])  # same inputs, same forecast
    assert (np.abs(base["mean"] - flipped["mean"]) > 1e-6 * np.abs(base["mean"])).any()


def test_missing_future_values_name_the_series_and_dates(covariate_run):
    ensemble, history, futr, _, _ = covariate_run
    gap = futr.drop(index=6)  # realcons' third forecast quarter
    date = pd.Timestamp(futr.loc[6, "ds"]).date()
    with pytest.raises(DataError, match=rf"'realcons' at {date}"):
        ensemble.predict(history, futr_df=gap)
    with pytest.raises(DataError, match=r"future-known covariates \['promo'\]: pass futr_df"):
        ensemble.predict(history)
    # a shorter horizon needs only its own steps
    short = ensemble.predict(history, horizon=2, futr_df=futr.groupby("unique_id").head(2))
    assert len(short) == 3 * 2


def test_statics_are_saved_and_an_unseen_series_takes_them_from_static_df(covariate_run):
    ensemble, history, futr, static, _ = covariate_run
    assert set(ensemble.input_spec.static_values) == {"realgdp", "realcons", "cpi"}
    new = history[history["unique_id"] == "cpi"].assign(unique_id="cpi_copy")
    new_futr = futr[futr["unique_id"] == "cpi"].assign(unique_id="cpi_copy")
    with pytest.raises(DataError, match="no static values for series 'cpi_copy'"):
        ensemble.predict(new, futr_df=new_futr)
    big = pd.DataFrame({"unique_id": ["cpi_copy"], "size": [static["size"].max() + 3]})
    same = pd.DataFrame({"unique_id": ["cpi_copy"], "size": static.loc[static["unique_id"] == "cpi", "size"]})
    with pytest.warns(UserWarning, match="not trained on"):
        as_cpi = ensemble.predict(new, futr_df=new_futr, static_df=same, seed=0)
        moved = ensemble.predict(new, futr_df=new_futr, static_df=big, seed=0)
    assert np.isfinite(as_cpi["mean"]).all()
    assert not np.allclose(as_cpi["mean"], moved["mean"])  # the static value reaches the model


def test_explanations_and_the_cli_path_name_the_covariates(covariate_run, tmp_path):
    from foretune.commands.predict import predict
    from foretune.explain import explain_ensemble

    ensemble, history, futr, _, artifact = covariate_run
    one = history[history["unique_id"] == "cpi"]
    explanation = explain_ensemble(ensemble, one, futr_df=futr, n_steps=(16,), tolerance=1.0)
    features = set(explanation.attributions["feature"])
    assert {"money", "futr:promo", "cal:month_sin", "static:size", "mask", "y"} <= features
    history.to_parquet(tmp_path / "history.parquet", index=False)
    futr.to_csv(tmp_path / "futr.csv", index=False)
    out = tmp_path / "forecast.parquet"
    predict(artifact, tmp_path / "history.parquet", out=out, futr=tmp_path / "futr.csv")
    assert len(pd.read_parquet(out)) == 3 * HORIZON


def test_backtest_reads_each_origins_future_covariates_from_the_data(covariate_run, tmp_path):
    from foretune.commands.evaluate import evaluate_command

    ensemble, _, _, _, artifact = covariate_run
    df, _ = covariate_panel()
    evaluate_command(
        artifact, df, windows=1, out=tmp_path, samples=4, members=False, statistical=False, log=None
    )
    scores = pd.read_parquet(tmp_path / "backtest.parquet")
    assert (
        set(scores["model"]) >= {"ensemble"}
        and np.isfinite(scores.loc[scores["model"] == "ensemble", "mae"]).all()
    )
