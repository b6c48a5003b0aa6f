"""Forecaster adapters: the shared statistical pass and the direction labeller's panel form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foretune.data import RatioTransform, builtin_dataset_path
from foretune.evaluate import baselines
from foretune.evaluate.forecasters import baseline_forecasters, transform_direction


def _macro(ids=("realgdp", "cpi", "pop"), last=40) -> pd.DataFrame:
    data = pd.read_parquet(builtin_dataset_path())
    data = data[data["unique_id"].isin(ids)]
    return data.groupby("unique_id").tail(last).reset_index(drop=True)


def _counting(monkeypatch) -> list[tuple[str, ...]]:
    """Record the models of every (real) ``baselines.statistical`` call."""
    calls: list[tuple[str, ...]] = []
    real = baselines.statistical

    def statistical(history, horizon, **kwargs):
        calls.append(tuple(kwargs["models"]))
        return real(history, horizon, **kwargs)

    monkeypatch.setattr(baselines, "statistical", statistical)
    return calls


def test_statistical_forecasters_fit_once_per_history_with_the_same_forecasts(monkeypatch):
    data = _macro()
    shorter = data.groupby("unique_id").head(36)  # another origin
    alone = {  # each model fitted on its own, as before the forecasters shared a pass
        (name, len(history), horizon): baselines.statistical(history, horizon, models=(name,)).rename(
            columns={name: "mean"}
        )
        for name in ("AutoETS", "AutoTheta")
        for history, horizon in ((data, 4), (shorter, 4), (shorter, 2))
    }
    calls = _counting(monkeypatch)
    models = baseline_forecasters(log=None)
    for history, horizon in ((data, 4), (shorter, 4), (shorter, 2)):
        for name in ("AutoTheta", "AutoETS"):
            got = models[name].predict(history.copy(), horizon=horizon)
            pd.testing.assert_frame_equal(got, alone[name, len(history), horizon])
    assert calls == [("AutoETS", "AutoTheta")] * 3  # one pass per history and horizon


def test_a_failing_statistical_model_does_not_take_the_others_with_it(monkeypatch):
    tiny = _macro(last=3)  # statsforecast's ETS refuses "tiny datasets"; its Naive does not
    calls = _counting(monkeypatch)
    models = baseline_forecasters(season=4, statistical_models=("AutoETS", "Naive"), log=None)
    with pytest.raises(NotImplementedError, match="tiny"):
        models["AutoETS"].predict(tiny, horizon=2)
    got = models["Naive"].predict(tiny, horizon=2)
    last = tiny.groupby("unique_id")["y"].last()
    np.testing.assert_array_equal(got["mean"], np.repeat(last.sort_index().to_numpy(), 2))
    # the joint pass failed, so each model is fitted alone, from then on (no more joint passes)
    models["Naive"].predict(_macro(last=4), horizon=2)
    assert calls == [("AutoETS", "Naive"), ("AutoETS",), ("Naive",), ("Naive",)]


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
