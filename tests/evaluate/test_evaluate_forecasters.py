"""Forecaster adapters: the shared statistical pass and the direction labeller's panel form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foretune.data import RatioTransform, builtin_dataset_path
from foretune.evaluate.forecasters import baseline_forecasters, transform_direction
from foretune.models import statistical


def _macro(ids=("realgdp", "cpi", "pop"), last=40) -> pd.DataFrame:
    data = pd.read_parquet(builtin_dataset_path())
    data = data[data["unique_id"].isin(ids)]
    return data.groupby("unique_id").tail(last).reset_index(drop=True)


def _counting(monkeypatch) -> list[tuple[str, int]]:
    """Record each (real) fit of a statistical model: its name and the history's length."""
    calls: list[tuple[str, int]] = []
    real = statistical._fit

    def fit(name, y, season):
        calls.append((name, len(y)))
        return real(name, y, season)

    monkeypatch.setattr(statistical, "_fit", fit)
    return calls


def test_statistical_baselines_fit_once_per_series_and_carry_it_forward(monkeypatch):
    """A backtest's statistical baselines (both models in one pass per origin) are fit at the
    first origin and applied at the later ones: statsforecast's ``cross_validation(refit=False)``
    at the same cut-offs, bit for bit."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta

    data = _macro(last=44)
    calls = _counting(monkeypatch)
    models = baseline_forecasters(log=None)
    origins = [data.groupby("unique_id").head(n) for n in (36, 40)]
    got = {
        (name, len(h)): models[name].predict(h.copy(), horizon=4)
        for h in origins
        for name in ("AutoTheta", "AutoETS")
    }
    # one fit per model and series, at the first origin (36 points each)
    assert sorted(calls) == [("AutoETS", 36)] * 3 + [("AutoTheta", 36)] * 3
    cv = StatsForecast(
        models=[AutoETS(season_length=4), AutoTheta(season_length=4)], freq="QS-OCT"
    ).cross_validation(df=data, h=4, n_windows=5, step_size=1, refit=False)
    for history in origins:
        cutoffs = history.groupby("unique_id")["ds"].max()
        expected = cv[cv["cutoff"] == cv["unique_id"].map(cutoffs)].sort_values(["unique_id", "ds"])
        for name in ("AutoETS", "AutoTheta"):
            frame = got[name, len(history)]
            assert list(frame.columns) == ["unique_id", "ds", "mean"]
            np.testing.assert_array_equal(frame["mean"].to_numpy(), expected[name].to_numpy())


def test_a_statistical_baseline_falls_back_per_series_where_it_fails():
    tiny = _macro(last=3)  # statsforecast's ETS refuses "tiny datasets": those series get Naive's
    models = baseline_forecasters(season=4, statistical_models=("AutoETS", "Naive"), log=None)
    last = np.repeat(tiny.groupby("unique_id")["y"].last().sort_index().to_numpy(), 2)
    for name in ("AutoETS", "Naive"):
        np.testing.assert_array_equal(models[name].predict(tiny, horizon=2)["mean"], last)


def test_a_baseline_borrowed_from_a_member_is_that_members_forecast(monkeypatch):
    """A baseline that is also an ensemble member applies the member's fitted states (no fit),
    shares its forecasts (computed once) and leaves the member as it was."""
    data = _macro(last=40)
    earlier = [
        g["y"].to_numpy(np.float64) for _, g in data.groupby("unique_id").head(30).groupby("unique_id")
    ]
    ids = sorted(data["unique_id"].unique())
    (fit,) = statistical.forecast_histories([statistical.StatisticalModel("AutoETS")], earlier, 4, 4, ids)
    member = statistical.StatisticalModel("AutoETS").with_states(fit.states)
    histories = [g["y"].to_numpy(np.float64) for _, g in data.groupby("unique_id")]
    own_mean, _ = member.forecast(histories, [4] * 3, 4, ids)
    calls = _counting(monkeypatch)
    models = baseline_forecasters(
        season=4, statistical_models=("AutoETS",), log=None, fitted={"AutoETS": member}
    )
    got = models["AutoETS"].predict(data, horizon=4)
    np.testing.assert_array_equal(got["mean"], own_mean.ravel())
    assert calls == [] and member.states == fit.states  # nothing refit, nothing added


@pytest.mark.parametrize("kind", ["auto", "diff", "log_ratio"])
def test_direction_panel_labels_as_one_series_at_a_time(kind):
    data = _macro(ids=("realgdp", "cpi", "pop", "realinv", "m1"), last=30)
    transform = RatioTransform(kind=kind, flat_band=0.25)
    histories = {uid: g["y"].to_numpy(np.float64) for uid, g in data.groupby("unique_id")}
    for uid in ("realgdp", "cpi", "realinv"):  # the others are new to it: fit on their history
        transform.fit_series(uid, histories[uid][:-6])
    label = transform_direction(transform)
    rng = np.random.default_rng(0)
    uids = ["pop", "realgdp", "m1", "cpi", "realinv"]
    last = np.array([histories[u][-1] for u in uids])
    paths = last[:, None] * (1 + rng.normal(0, 0.01, (len(uids), 6)).cumsum(axis=1))
    paths[1, 2] = -1.0  # a non-positive level: no log-ratio change, NaN labels after it (log_ratio)
    paths[3, 1] = last[3]  # flat
    got = label.panel(uids, histories, paths)
    expected = np.stack([label(u, histories[u], p) for u, p in zip(uids, paths, strict=True)])
    np.testing.assert_array_equal(got, expected)
    assert set(np.unique(expected[~np.isnan(expected)])) <= {0.0, 1.0, 2.0}
    assert set(transform.stats) == {"realgdp", "cpi", "realinv"}  # new series fit on a copy
