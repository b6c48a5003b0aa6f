"""Statistical members (statsforecast models beside the networks): their paths, their place in
the build's selection, and an artifact that holds them and forecasts like the model itself."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from foretune.config import ExperimentConfig
from foretune.data import RatioTransform, builtin_dataset_path, read_frame
from foretune.ensemble import Ensemble, make_ensemble
from foretune.ensemble.draws import RowTransform, level_draws
from foretune.ensemble.forecasters import ensemble_forecasters
from foretune.ensemble.windows import load_windows
from foretune.evaluate.baselines import seasonal_naive, statistical
from foretune.models.statistical import INTERVAL_LEVEL, StatisticalModel, normal_scores
from foretune.rundir import RunDir

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def seasonal_series(n: int = 40, season: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 + 10 * np.sin(2 * np.pi * np.arange(n) / season) + np.arange(n) + rng.normal(0, 1, n)


def test_paths_are_the_models_own_forecast_and_interval():
    histories = [seasonal_series(40, seed=1), seasonal_series(33, seed=2)]
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], [40, 33]),
            "ds": np.concatenate([np.arange(40), np.arange(33)]),
            "y": np.concatenate(histories),
        }
    )
    own = statistical(frame, 6, season=4, models=["AutoETS"], freq=1, level=[INTERVAL_LEVEL])
    paths = StatisticalModel("AutoETS").paths(histories, [4, 4], 6, samples=200)
    assert paths.shape == (200, 2, 6)
    expected = own["AutoETS"].to_numpy().reshape(2, 6)
    np.testing.assert_allclose(paths.mean(axis=0), expected, rtol=1e-9, atol=1e-9)
    # the paths' 10% and 90% quantiles are the model's own 80% interval
    lo = own[f"AutoETS-lo-{INTERVAL_LEVEL}"].to_numpy().reshape(2, 6)
    hi = own[f"AutoETS-hi-{INTERVAL_LEVEL}"].to_numpy().reshape(2, 6)
    grid = np.sort(paths, axis=0)
    assert np.all(grid[19] <= hi) and np.all(grid[20] >= lo)  # 10% point between paths 19 and 20
    np.testing.assert_allclose(np.quantile(paths, 0.9, axis=0), hi, rtol=0.02)


def test_seasonal_naive_member_repeats_the_last_season_and_short_series_fall_back():
    y = seasonal_series(21)
    mean, sigma = StatisticalModel("SeasonalNaive").forecast([y, np.array([5.0, 6.0])], [4, 4], 8)
    frame = pd.DataFrame({"unique_id": "s", "ds": np.arange(21), "y": y})
    np.testing.assert_allclose(mean[0], seasonal_naive(frame, 8, season=4, freq=1)["SeasonalNaive"])
    assert np.all(sigma[0] > 0)
    # two points are less than one season: still a finite forecast from what there is
    assert np.isfinite(mean[1]).all() and np.isfinite(sigma[1]).all() and set(mean[1]) <= {5.0, 6.0}
    # one point is too few for AutoETS: it falls back to the naive forecast, without a spread
    mean, sigma = StatisticalModel("AutoETS").forecast([np.array([7.0])], [1], 3)
    np.testing.assert_allclose(mean, 7.0)
    np.testing.assert_allclose(sigma, 0.0)


def test_histories_of_one_series_are_fit_once_and_forwarded_to_the_later_origins():
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, HistoricAverage

    a, b = seasonal_series(48, seed=3), seasonal_series(30, seed=4)
    # a's windows at four origins (two of them with a gap between), b's at one, in mixed order
    cuts = [40, 30, 36, 33]
    histories = [a[:40], b, a[:30], a[:36], a[:33]]
    series = ["a", "b", "a", "a", "a"]
    mean, sigma = StatisticalModel("AutoETS").forecast(histories, [4] * 5, 3, series=series)
    # what statsforecast's own cross-validation without refits gives at the same cut-offs
    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(43), "y": a[:43]})
    cv = StatsForecast(models=[AutoETS(season_length=4)], freq=1).cross_validation(
        df=frame, h=3, n_windows=11, step_size=1, refit=False, level=[INTERVAL_LEVEL]
    )
    for row, cut in zip([0, 2, 3, 4], cuts, strict=True):
        expected = cv[cv["cutoff"] == cut - 1]
        np.testing.assert_allclose(mean[row], expected["AutoETS"], rtol=1e-9)
        width = expected[f"AutoETS-hi-{INTERVAL_LEVEL}"] - expected[f"AutoETS-lo-{INTERVAL_LEVEL}"]
        np.testing.assert_allclose(2 * 1.2815515655446004 * sigma[row], width, rtol=1e-6)
    # the earliest origin and a lone history are plain fits; later origins reuse the parameters
    alone, _ = StatisticalModel("AutoETS").forecast([a[:30], b, a[:40]], [4] * 3, 3)
    np.testing.assert_allclose(mean[[2, 1]], alone[:2], rtol=1e-9)
    assert not np.allclose(mean[0], alone[2])
    # two histories of a series: fit once, on the shorter
    two, _ = StatisticalModel("AutoETS").forecast([a[:30], a[:40]], [4, 4], 3, series=["a", "a"])
    np.testing.assert_array_equal(two, mean[[2, 0]])
    # a model without forward is refit at every origin
    refit, _ = StatisticalModel("HistoricAverage").forecast(histories, [4] * 5, 3, series=series)
    assert not hasattr(HistoricAverage, "forward")
    np.testing.assert_allclose(refit[:, 0], [h.mean() for h in histories], rtol=1e-12)


def test_normal_scores_are_symmetric_and_evenly_weighted():
    z = normal_scores(50)
    assert np.all(np.diff(z) > 0)
    np.testing.assert_allclose(z, -z[::-1], atol=1e-12)
    assert abs((z < 1.2816).mean() - 0.9) <= 1 / 50


def test_level_draws_label_the_paths_as_the_transform_does():
    transform = RatioTransform("log_ratio")
    transform.fit_series("a", seasonal_series(30))
    rows = RowTransform(transform, ["a", "a"])
    last = np.array([100.0, 100.0])
    rising = 100 * np.exp(np.cumsum(np.full((10, 2, 3), 0.5), axis=-1))
    rising[:, 1] = 100.0  # the second row stays flat
    draws = level_draws(rising, rows, last)
    assert draws.levels is rising
    assert np.all(draws.probs[0].argmax(axis=-1) == 2) and np.all(draws.probs[1].argmax(axis=-1) == 1)
    np.testing.assert_allclose(draws.probs.sum(axis=-1), 1.0)
    assert draws.probs.min() > 0  # smoothed: no class is impossible
    np.testing.assert_array_equal(draws.path_probs, draws.probs)


@pytest.fixture(scope="module")
def statistical_only(tiny_ensemble_run):
    """The shared tiny run's ensemble built from one seasonal-naive member alone."""
    run_dir, _ = tiny_ensemble_run
    ensemble = make_ensemble(run_dir, trial_ids=["statistical:SeasonalNaive"])
    return run_dir, ensemble


def test_the_default_build_weighs_the_statistical_models_beside_the_trials(tiny_ensemble_run, tmp_path):
    run_dir, _ = tiny_ensemble_run
    config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    assert config.ensemble.statistical == []  # the shared run is deep-only; build with the default
    config.ensemble.statistical = ExperimentConfig().ensemble.statistical
    built = make_ensemble(run_dir, config)
    candidates = {c["trial_id"]: c for c in built.report["selection"]["candidates"]}
    for name in ("AutoETS", "AutoTheta", "SeasonalNaive"):
        entry = candidates[f"statistical:{name}"]
        assert entry["architecture"] == name and entry["window"] == 0
        assert np.isfinite(entry["val_mase"])  # scored on the same validation windows
    assert any(not c.startswith("statistical:") for c in candidates)
    ensemble = Ensemble.load(built.save(tmp_path / "ensemble"))
    kept = {m.info["trial_id"] for m in ensemble.members}
    assert kept == {k for k, c in candidates.items() if c["weight"] > 0}
    assert ensemble.predict(read_frame(builtin_dataset_path()), seed=0)["mean"].notna().all()


def test_a_statistical_member_forecasts_like_the_model_from_each_history(statistical_only, tmp_path):
    run_dir, ensemble = statistical_only
    assert [m.architecture for m in ensemble.members] == ["SeasonalNaive"] and ensemble.windows == [1]
    saved = Ensemble.load(ensemble.save(tmp_path / "ensemble"))
    assert saved.members[0].statistical  # no weights: each series' fitted state, as JSON
    assert [p.name for p in (tmp_path / "ensemble").glob("members/*/*")] == ["states.json"]
    assert saved.members[0].model.states == ensemble.members[0].model.states
    assert set(saved.members[0].model.states) == set(ensemble.transform.stats)  # every series
    history = read_frame(builtin_dataset_path())  # the tiny run's data
    history = history[history["unique_id"].isin(history["unique_id"].unique()[:3])]
    forecast = saved.predict(history, seed=0)
    expected = forecast.merge(seasonal_naive(history, ensemble.horizon), on=["unique_id", "ds"])
    assert len(expected) == len(forecast) == 3 * ensemble.horizon
    np.testing.assert_allclose(expected["mean"], expected["SeasonalNaive"], rtol=1e-9)
    pd.testing.assert_frame_equal(forecast, ensemble.predict(history, seed=0))
    assert (forecast["q95"] >= forecast["q05"]).all()


def test_windows_histories_end_at_each_origin(statistical_only):
    run_dir, ensemble = statistical_only
    run = RunDir(run_dir)
    config = ExperimentConfig.from_dict(json.loads(run.config.read_text()))
    windows = load_windows(run, config, ensemble.members)
    for part in (windows.val, windows.test):
        histories = windows.histories(part)
        assert [len(h) for h in histories] == list(part.origin + 1)
        np.testing.assert_array_equal([h[-1] for h in histories], part.last)
        series_ids = np.asarray(windows.reference.series_ids)[part.series]
        assert len(set(series_ids)) == len(part)  # one window per series in the tiny run


def test_deep_only_build_leaves_the_statistical_models_out(tiny_ensemble_run):
    run_dir, _ = tiny_ensemble_run
    deep = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    deep.ensemble.statistical = []
    ensemble = make_ensemble(run_dir, deep)
    assert all(not m.statistical for m in ensemble.members)
    ids = [c["trial_id"] for c in ensemble.report["selection"]["candidates"]]
    assert ids and not any(i.startswith("statistical:") for i in ids)


def test_backtest_views_share_draws_and_forecast_as_each_would_alone(tiny_ensemble_run):
    """``ensemble_forecasters``' views (the ensemble, its uncalibrated view, each member alone)
    share one ``DrawsCache``: each forecast is exactly the view's own without the cache, and a
    member is drawn once wherever its draws are the same."""
    run_dir, _ = tiny_ensemble_run
    config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    config.ensemble.statistical = ["SeasonalNaive", "AutoETS"]
    config.ensemble.weighting = "mean"  # every candidate keeps a weight: deep and statistical members
    built = make_ensemble(run_dir, config)
    members = built.members
    assert any(m.statistical for m in members) and any(not m.statistical for m in members)
    history = read_frame(builtin_dataset_path())
    views = ensemble_forecasters(built, samples=8, seed=1, draws=5)
    assert built.draws_cache is None  # the caller's ensemble is left alone
    for name, view in views.items():
        got = view.predict(history, horizon=built.horizon)
        uncached = copy.copy(view.model)
        uncached.draws_cache = None
        expected = uncached.predict(history, horizon=built.horizon, samples=8, seed=1, **view.kwargs)
        pd.testing.assert_frame_equal(got, expected, obj=name)
    cache = views["ensemble"].model.draws_cache
    assert all(v.model.draws_cache is cache for v in views.values())
    # reused: every member for the uncalibrated view and for itself alone (a deep member's draws
    # are seeded by the seed and its trial id, a statistical member's have no randomness)
    calibrated = built.calibration is not None
    assert cache.hits == len(members) * (1 + calibrated)
