"""Rolling-origin backtest: windows, hand-checked metrics, baselines, report, and a real ensemble."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from foretune.commands.evaluate import evaluate_command, run_report
from foretune.data import RatioTransform, WindowSet, builtin_dataset_path, future_dates, infer_freq
from foretune.ensemble import Ensemble
from foretune.errors import ArtifactError, ConfigError, DataError
from foretune.evaluate.backtest import backtest, format_summary, rolling_origins, write_backtest_report
from foretune.evaluate.baselines import statsforecast_available
from foretune.evaluate.forecasters import baseline_forecasters, transform_direction

H, K = 4, 3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------ fixtures
def _macro(ids=("pop", "realinv"), last=40) -> pd.DataFrame:
    """The last ``last`` quarters of some built-in US macro series (real data)."""
    data = pd.read_parquet(builtin_dataset_path())
    data = data[data["unique_id"].isin(ids)]
    return data.groupby("unique_id").tail(last).reset_index(drop=True)


class Drift:
    """Deterministic forecaster: last value + ``slope * h``, interval ``mean +- half_width``."""

    def __init__(self, slope=0.0, half_width=1.0, probs=None, min_history=1, std=None):
        self.slope, self.half_width, self.probs = slope, half_width, probs
        self.min_history, self.std = min_history, std
        self.calls: list[pd.DataFrame] = []

    def predict(self, history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        self.calls.append(history)
        parts = []
        for uid, g in history.groupby("unique_id", sort=False):
            mean = g["y"].iloc[-1] + self.slope * np.arange(1, horizon + 1)
            part = pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": future_dates(g["ds"].iloc[-1], infer_freq(g["ds"]), horizon),
                    "mean": mean,
                    "q05": mean - self.half_width,
                    "q95": mean + self.half_width,
                }
            )
            if self.std is not None:
                part["std"] = self.std
            if self.probs is not None:
                part[["p_down", "p_flat", "p_up"]] = self.probs
            parts.append(part)
        return pd.concat(parts, ignore_index=True)


def _point(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """A plain function forecaster (point forecast: each series' mean of its history)."""
    out = Drift().predict(history, horizon)[["unique_id", "ds"]]
    means = history.groupby("unique_id")["y"].mean()
    return out.assign(mean=out["unique_id"].map(means))


def _check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 10 and image.shape[1] > 10


# ---------------------------------------------------------------------------- windows, metrics
def test_windows_are_non_overlapping_and_cover_the_last_k_horizons():
    data = _macro()
    # a shorter series: origins count from each series' own end
    data = data[~((data.unique_id == "pop") & (data.ds > "2008-12-31"))]
    fake = Drift()
    result = backtest({"drift": fake}, data, H, K, log=None)
    fc = result.forecasts
    assert len(fc) == 2 * K * H and sorted(fc["window"].unique()) == [1, 2, 3]
    for uid, g in data.groupby("unique_id"):
        ds = g["ds"].to_numpy()
        f = fc[fc.unique_id == uid].sort_values(["window", "step"])
        # every one of the last K*H dates forecast exactly once, in order, steps 1..H
        assert list(f["ds"]) == list(ds[-K * H :])
        assert list(f["step"]) == list(range(1, H + 1)) * K
        for w in (1, 2, 3):
            cutoff = ds[len(ds) - (K - w + 1) * H - 1]
            assert (f.loc[f.window == w, "cutoff"] == cutoff).all()
    # the forecaster saw history only up to each origin
    assert len(fake.calls) == K
    for w, hist in enumerate(fake.calls, start=1):
        for uid, g in data.groupby("unique_id"):
            assert len(hist[hist.unique_id == uid]) == len(g) - (K - w + 1) * H
    assert fc[fc.unique_id == "pop"]["cutoff"].max() == pd.Timestamp("2007-10-01")
    assert fc[fc.unique_id == "realinv"]["cutoff"].max() == pd.Timestamp("2008-07-01")


def test_metrics_match_hand_computation():
    data = _macro()
    slope, half = 2.0, 15.0
    result = backtest({"drift": Drift(slope, half), "mean": _point}, data, H, K, log=None)
    m = result.metrics.set_index(["model", "window", "unique_id"])
    for uid, g in data.groupby("unique_id"):
        y = g["y"].to_numpy()
        n = len(y)
        for w in (1, 2, 3):
            cut = n - (K - w + 1) * H
            actual = y[cut : cut + H]
            pred = y[cut - 1] + slope * np.arange(1, H + 1)
            err = actual - pred
            hist = y[:cut]
            scale = np.mean(np.abs(hist[4:] - hist[:-4]))  # quarterly: season 4
            row = m.loc[("drift", w, uid)]
            assert row["n"] == H
            assert row["mae"] == pytest.approx(np.mean(np.abs(err)))
            assert row["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
            smape = np.mean(200 * np.abs(err) / (np.abs(actual) + np.abs(pred)))
            assert row["smape"] == pytest.approx(smape)
            assert row["mase"] == pytest.approx(np.mean(np.abs(err)) / scale)
            assert row["coverage_90"] == pytest.approx(np.mean(np.abs(err) <= half))
            assert row["width_90"] == pytest.approx(2 * half)
            pinball = np.mean(
                [
                    np.maximum(q * (actual - p), (q - 1) * (actual - p))
                    for q, p in ((0.05, pred - half), (0.95, pred + half))
                ]
            )
            assert row["quantile_loss"] == pytest.approx(pinball)
            assert row["crps"] == pytest.approx(2 * pinball)  # quantiles only: 2 x pinball
            assert row["crps_scaled"] == pytest.approx(2 * pinball / scale)
            # a point forecast: CRPS is its MAE, scaled CRPS its MASE
            point = m.loc[("mean", w, uid)]
            assert point["crps"] == pytest.approx(point["mae"])
            assert point["crps_scaled"] == pytest.approx(point["mase"])
            f = result.forecasts
            f = f[(f.model == "drift") & (f.window == w) & (f.unique_id == uid)]
            np.testing.assert_allclose(f["scaled_error"], np.abs(err) / scale)
    s = result.summary.set_index("model")
    assert list(s.index) == ["drift", "mean"]
    assert s.loc["drift", "crps_from"] == "quantiles" and s.loc["mean", "crps_from"] == "point"
    # M-competition aggregation: mean over series of each series' mean over windows
    per_series = m.loc["drift"].groupby("unique_id")["mase"].mean()
    assert s.loc["drift", "mase"] == pytest.approx(per_series.mean())
    assert s.loc["drift", "n_series"] == 2 and s.loc["drift", "n_points"] == 2 * K * H
    assert s.loc["drift", "n_windows"] == K
    cov = result.coverage
    assert list(cov.columns) == ["model", "level", "nominal", "empirical"]
    assert cov["model"].tolist() == ["drift"] and cov["nominal"].tolist() == [0.9]
    assert cov["empirical"].iloc[0] == pytest.approx(s.loc["drift", "coverage_90"])
    steps = result.steps
    assert len(steps) == 2 * H and set(steps["step"]) == set(range(1, H + 1))
    assert "mase" in format_summary(result.summary)


def test_gaussian_crps_and_direction_metrics():
    data = _macro(ids=("realinv", "realgovt"))
    transform = RatioTransform("log_ratio")
    for uid, g in data.groupby("unique_id"):
        transform.fit_series(uid, g["y"].to_numpy()[:20])
    direction = transform_direction(transform)
    probs = [0.1, 0.2, 0.7]
    result = backtest(
        {
            "prob": Drift(slope=0.5, std=2.0, probs=probs),
            "naive": baseline_forecasters(statistical_models=(), log=None)["naive"],
        },
        data,
        H,
        K,
        direction=direction,
        log=None,
    )
    fc = result.forecasts
    # actual labels: cumulative log change from the origin's last level vs the band
    for uid, g in data.groupby("unique_id"):
        y = g["y"].to_numpy()
        band = transform.flat_band * transform.stats[uid].scale * np.sqrt(np.arange(1, H + 1))
        for w in (1, 2, 3):
            cut = len(y) - (K - w + 1) * H
            change = np.log(y[cut : cut + H] / y[cut - 1])
            expected = np.where(change > band, 2, np.where(change < -band, 0, 1))
            got = fc[(fc.model == "prob") & (fc.window == w) & (fc.unique_id == uid)]
            np.testing.assert_array_equal(got.sort_values("step")["direction"], expected)
    labels = fc[fc.model == "prob"]["direction"].to_numpy().astype(int)
    assert len(set(labels)) == 3  # up, down and flat all occur in these windows
    s = result.summary.set_index("model")
    assert s.loc["prob", "crps_from"] == "gaussian"
    # both series have all their points: the mean over series is the mean over points
    assert s.loc["prob", "direction_accuracy"] == pytest.approx(np.mean(labels == 2))
    assert s.loc["prob", "log_loss"] == pytest.approx(-np.mean(np.log(np.take(probs, labels))))
    # naive's path never moves: it always says "flat"
    assert (fc[fc.model == "naive"]["direction_pred"] == 1).all()
    assert s.loc["naive", "direction_accuracy"] == pytest.approx(np.mean(labels == 1))
    assert np.isnan(s.loc["naive", "log_loss"])  # no probabilities, no log-loss
    # the reference row: each step's class frequencies over the same points, for every series
    assert list(s.index) == ["prob", "naive", "climatology"]
    rows = fc[fc.model == "prob"]
    freq = {h: np.bincount(g["direction"].astype(int), minlength=3) / len(g) for h, g in rows.groupby("step")}
    per_series = []
    for _, g in rows.groupby("unique_id"):
        p = np.stack([freq[h] for h in g["step"]])
        truth = g["direction"].to_numpy().astype(int)
        per_series.append((np.mean(p.argmax(axis=1) == truth), -np.mean(np.log(p[np.arange(len(g)), truth]))))
    accuracy, loss = np.mean(per_series, axis=0)
    assert s.loc["climatology", "direction_accuracy"] == pytest.approx(accuracy)
    assert s.loc["climatology", "log_loss"] == pytest.approx(loss)
    assert np.isnan(s.loc["climatology", "mase"]) and s.loc["climatology", "n_points"] == len(rows)


def test_direction_labels_of_the_whole_panel_equal_those_one_series_at_a_time():
    data = _macro(ids=("realinv", "realgovt", "cpi", "m1"))
    transform = RatioTransform("auto")
    for uid, g in data.groupby("unique_id"):
        if uid != "m1":  # m1 is new to the transform: fit on each origin's history
            transform.fit_series(uid, g["y"].to_numpy()[:20])
    panel = transform_direction(transform)
    assert callable(panel.panel)

    def one_at_a_time(uid, history, path):  # the same labeller without its panel form
        return panel(uid, history, path)

    models = {"drift": Drift(slope=-0.3), **baseline_forecasters(statistical_models=(), log=None)}
    results = [backtest(models, data, H, K, direction=d, log=None) for d in (panel, one_at_a_time)]
    fc = [r.forecasts for r in results]
    pd.testing.assert_frame_equal(fc[0], fc[1])
    assert fc[0]["direction"].notna().all() and fc[0]["direction_pred"].nunique() >= 2
    pd.testing.assert_frame_equal(results[0].metrics, results[1].metrics)


def test_baselines_inside_the_backtest_continue_each_window():
    data = _macro()
    models = baseline_forecasters(log=None)
    expected = {"naive", "seasonal_naive"} | (
        {"AutoETS", "AutoTheta"} if statsforecast_available() else set()
    )
    assert set(models) == expected
    result = backtest(models, data, H, K, optional=("AutoETS", "AutoTheta"), log=None)
    fc = result.forecasts
    assert set(fc["model"]) == expected
    for uid, g in data.groupby("unique_id"):
        y, ds = g["y"].to_numpy(), g["ds"].to_numpy()
        for w in (1, 2, 3):
            cut = len(y) - (K - w + 1) * H
            for name in expected:
                f = fc[(fc.model == name) & (fc.window == w) & (fc.unique_id == uid)]
                f = f.sort_values("step")
                assert list(f["ds"]) == list(ds[cut : cut + H]), name
                assert f["mean"].notna().all(), name
            naive = fc[(fc.model == "naive") & (fc.window == w) & (fc.unique_id == uid)]
            assert (naive["mean"] == y[cut - 1]).all()
            snaive = fc[(fc.model == "seasonal_naive") & (fc.window == w) & (fc.unique_id == uid)]
            np.testing.assert_array_equal(snaive.sort_values("step")["mean"], y[cut - 4 : cut])
    assert set(result.summary["model"]) == expected
    assert (result.summary["crps_from"] == "point").all()


def test_too_short_data_names_the_series_and_length():
    data = _macro(last=40)
    data = data[~((data.unique_id == "pop") & (data.ds < "2002-01-01"))]  # pop: 31 points
    with pytest.raises(DataError, match=r"series 'pop' has 31 observations.*3 x 4 \+ 20 = 32"):
        backtest({"drift": Drift(min_history=20)}, data, H, K, log=None)
    # seasonal naive needs one season (4 quarters) of history
    tiny = _macro(last=3 * H + 3)
    with pytest.raises(DataError, match=r"needs at least 3 x 4 \+ 4 = 16.*seasonal_naive"):
        backtest(baseline_forecasters(statistical_models=(), log=None), tiny, H, K, log=None)


def test_failing_forecasters_optional_dropped_others_raise():
    data = _macro()

    def broken(history, horizon):
        raise RuntimeError("boom")

    notes = []
    result = backtest(
        {"drift": Drift(), "broken": broken}, data, H, K, optional=("broken",), log=notes.append
    )
    assert list(result.summary["model"]) == ["drift"]
    assert any("broken left out" in n and "boom" in n for n in notes)
    with pytest.raises(RuntimeError, match="boom"):
        backtest({"broken": broken}, data, H, K, log=None)

    def wrong_dates(history, horizon):
        out = Drift().predict(history, horizon)
        return out.assign(ds=out["ds"] + pd.DateOffset(years=1))

    with pytest.raises(ValueError, match="'late' gave no forecast for series"):
        backtest({"late": wrong_dates}, data, H, K, log=None)


def test_backtest_report_has_the_expected_images(tmp_path):
    data = _macro()
    result = backtest(
        {
            "ensemble": Drift(slope=1.0, half_width=20.0, std=5.0),
            "other": Drift(half_width=5.0),
            "naive": baseline_forecasters(statistical_models=(), log=None)["naive"],
        },
        data,
        H,
        K,
        log=None,
    )
    run = tmp_path / "run"
    run.mkdir()
    pd.DataFrame(
        {
            "trial_id": ["a", "b"],
            "architecture": ["mlp", "lstm"],
            "status": ["ok", "ok"],
            "val_loss": [0.5, 0.4],
            "train_seconds": [1.0, 2.0],
        }
    ).to_parquet(run / "leaderboard.parquet")
    paths = result.save(tmp_path / "out")
    report = write_backtest_report(result, tmp_path / "out", run_dir=run)
    assert report == tmp_path / "out" / "report.html"
    for path in paths.values():
        assert path.is_file()
    page = report.read_text()
    for heading in ("Leaderboard", "Forecasts", "Residuals", "Backtest", "Calibration"):
        assert f"<h2>{heading}</h2>" in page
    pngs = {p.stem: p for p in (tmp_path / "out" / "report_files").glob("*.png")}
    assert set(pngs) == {
        "leaderboard",
        "forecasts",
        "residuals",
        "residual_acf",
        "reliability",
        "backtest_steps",
    }
    for png in pngs.values():
        _check_png(png)
    summary = pd.read_csv(tmp_path / "out" / "backtest_summary.csv")
    assert list(summary["model"]) == ["ensemble", "other", "naive"]


def test_rolling_origins_cut_history_and_actuals():
    data = _macro()
    frame = data.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    origins = list(rolling_origins(frame, H, K, {"pop": 4, "realinv": 4}))
    assert [o.window for o in origins] == [1, 2, 3]
    for o in origins:
        assert list(o.actuals.columns) == ["unique_id", "cutoff", "ds", "step", "y"]
        for uid, g in frame.groupby("unique_id"):
            n = len(g)
            cut = n - (K - o.window + 1) * H
            assert len(o.history[o.history.unique_id == uid]) == cut
            got = o.actuals[o.actuals.unique_id == uid]
            assert list(got["ds"]) == list(g["ds"].iloc[cut : cut + H])
            assert list(got["step"]) == list(range(1, H + 1))
            assert (got["cutoff"] == g["ds"].iloc[cut - 1]).all()


def test_user_errors_are_foretune_errors(tmp_path):
    data = _macro()
    for horizon, windows in ((0, K), (H, 0), (1.5, K)):
        with pytest.raises(ConfigError, match="must be a positive integer"):
            backtest({"drift": Drift()}, data, horizon, windows, log=None)
    with pytest.raises(DataError, match="column 'ds'"):
        backtest({"drift": Drift()}, data.drop(columns="ds"), H, K, log=None)
    with pytest.raises(ArtifactError, match="no config.json"):
        run_report(tmp_path, tmp_path / "ensemble", log=None)


# ------------------------------------------------------------------- a real tiny ensemble (Ray)
@pytest.fixture(scope="module")
def finished_run(tiny_ensemble_run):
    return tiny_ensemble_run  # horizon H, shared with the pipeline and explain tests


def test_evaluate_command_on_a_real_ensemble(finished_run, capsys):
    run_dir, artifact = finished_run
    report = evaluate_command(artifact, builtin_dataset_path(), windows=2)
    out_dir = run_dir / "evaluation"
    assert report == out_dir / "report.html"
    for name in (
        "backtest.parquet",
        "backtest_summary.parquet",
        "backtest_summary.csv",
        "forecasts.parquet",
        "backtest_series.parquet",
    ):
        assert (out_dir / name).is_file(), name
    summary = pd.read_parquet(out_dir / "backtest_summary.parquet")
    models = list(summary["model"])
    assert models[0] == "ensemble" and "naive" in models and "seasonal_naive" in models
    assert len(models) == len(set(models))  # one row per model
    members = [m for m in models if m.startswith("member")]
    assert len(members) == len(json.loads((artifact / "ensemble.json").read_text())["members"])
    if statsforecast_available():
        assert {"AutoETS", "AutoTheta"} <= set(models)
    ens = summary.set_index("model").loc["ensemble"]
    # CRPS from the mixture's draws where predict offers them (else Gaussian from mean/std)
    assert ens["crps_from"] in ("samples", "gaussian") and 0 <= ens["coverage_90"] <= 1
    assert 0 <= ens["direction_accuracy"] <= 1 and ens["log_loss"] > 0
    assert np.isfinite(ens[["mase", "smape", "crps", "crps_scaled", "width_50"]].astype(float)).all()
    metrics = pd.read_parquet(out_dir / "backtest.parquet")
    assert models[-1] == "climatology"  # the direction reference: a summary row, no forecasts
    assert len(metrics) == (len(models) - 1) * 2 * 8  # models x windows x series
    # the run held out each series' last evaluate.windows (2) x horizon steps: what 2 windows score
    assert metrics["held_out"].all()
    fc = pd.read_parquet(out_dir / "forecasts.parquet")
    assert {"q05", "q25", "q75", "q95", "p_up", "direction", "cutoff", "y"} <= set(fc.columns)
    assert not any(c.startswith("sample_") for c in fc.columns)  # draws scored, not stored
    pngs = {p.stem for p in (out_dir / "report_files").glob("*.png")}
    assert {
        "forecasts",
        "reliability",
        "residuals",
        "residual_acf",
        "backtest_steps",
        "leaderboard",
        "curves",
    } <= pngs
    printed = capsys.readouterr().out
    assert "ensemble" in printed and f"report: {report}" in printed

    # too many windows for the data: a clear error through the CLI (exit 2)
    from foretune.cli import main

    with pytest.raises(DataError, match=r"series '\w+' has 203 observations.*needs at least"):
        evaluate_command(artifact, builtin_dataset_path(), windows=60, log=None)
    with pytest.raises(ConfigError, match="horizon=5 is not available"):
        evaluate_command(artifact, builtin_dataset_path(), horizon=H + 1, log=None)
    code = main(
        ["evaluate", "--model", str(artifact), "--data", str(builtin_dataset_path()), "--windows", "60"]
    )
    assert code == 2 and "needs at least" in capsys.readouterr().err


def test_run_report_and_cli_evaluate(finished_run, tmp_path, capsys):
    run_dir, artifact = finished_run
    path = run_report(run_dir, artifact)
    assert path == run_dir / "report" / "report.html" and path.is_file()
    assert f"report: {path}" in capsys.readouterr().out
    summary = pd.read_parquet(run_dir / "report" / "backtest_summary.parquet")
    assert (summary["n_windows"] == 2).all()

    from foretune.cli import main

    out = tmp_path / "cli"
    code = main(
        [
            "evaluate",
            "--model",
            str(artifact),
            "--data",
            str(builtin_dataset_path()),
            "--windows",
            "1",
            "--horizon",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0 and (out / "report.html").is_file()
    fc = pd.read_parquet(out / "forecasts.parquet")
    assert set(fc["step"]) == {1, 2}


def test_run_report_scores_the_held_out_tail_or_says_why_not(finished_run, tmp_path, capsys):
    run_dir, artifact = finished_run
    data = pd.read_parquet(builtin_dataset_path())
    config = json.loads((run_dir / "config.json").read_text())
    # window 8 needs 9 points of history: 15 points fit one window of horizon 4, not two. With
    # evaluate.windows 0 nothing was held out and the report shrinks to what fits; with 2, a
    # series of 15 is too short to hold 8 steps out and keep training and validation windows.
    for last, held, windows in ((15, 0, 1), (12, 0, 0), (15, 2, 0)):
        run = tmp_path / f"run{last}-{held}"
        run.mkdir()
        path = run / "data.parquet"
        data.groupby("unique_id").tail(last).to_parquet(path)
        config["data"]["path"] = str(path)
        config["evaluate"]["windows"] = held
        (run / "config.json").write_text(json.dumps(config))
        (run / "leaderboard.parquet").write_bytes((run_dir / "leaderboard.parquet").read_bytes())
        report = run_report(run, artifact)
        assert report == run / "report" / "report.html" and report.is_file()
        page = report.read_text()
        assert "<h2>Leaderboard</h2>" in page
        printed = capsys.readouterr().out
        if windows:
            summary = pd.read_parquet(run / "report" / "backtest_summary.parquet")
            assert (summary["n_windows"] == windows).all()
            assert "nothing was held out of this run" in printed
        else:
            assert "<h2>Backtest</h2>" not in page and "report without a backtest" in printed
            reason = "too short to hold out their last 8" if held else "needs at least"
            assert reason in printed


def test_report_then_serve_members_refit_on_all_data(finished_run, tmp_path, capsys):
    from foretune.commands.run import report_and_serve
    from foretune.config import ExperimentConfig

    source, _ = finished_run
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir, ignore=shutil.ignore_patterns("report", "evaluation"))
    config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    assert config.evaluate.windows == 2 and config.evaluate.refit_full
    served_path = report_and_serve(config, run_dir, run_dir / "ensemble")
    assert served_path == run_dir / "ensemble"
    scored, served = Ensemble.load(run_dir / "report" / "ensemble"), Ensemble.load(served_path)
    # the report scored the ensemble built without the tail, on exactly that tail
    metrics = pd.read_parquet(run_dir / "report" / "backtest.parquet")
    assert metrics["held_out"].all() and set(metrics["window"]) == {1, 2}
    assert scored.config["evaluate"]["windows"] == 2
    # the served one: the same trials and weights, retrained on all the data
    assert [m.info["trial_id"] for m in served.members] == [m.info["trial_id"] for m in scored.members]
    assert [m.weight for m in served.members] == pytest.approx([m.weight for m in scored.members])
    # warm-started from the scored weights (which stay as they were), not retrained
    assert all(m.info["refit"].startswith("warm-started on all the data") for m in served.members)
    for a, b in zip(scored.members, served.members, strict=True):
        before, after = a.model.state_dict(), b.model.state_dict()
        assert before.keys() == after.keys() and any(not before[k].equal(after[k]) for k in before)
    assert served.config["evaluate"]["windows"] == 0
    uid = next(iter(served.transform.stats))
    assert served.transform.stats[uid].mu != scored.transform.stats[uid].mu  # longer training part
    fc = served.predict(pd.read_parquet(builtin_dataset_path()), samples=4)
    assert np.isfinite(fc[["mean", "q05", "q95"]].to_numpy()).all()
    assert "refit on all the data" in capsys.readouterr().out
    # the retrain from scratch (what refit_full did before) is still there, and forecasts too
    from foretune.ensemble import refit_on_all_data

    retrained = refit_on_all_data(run_dir, scored, config, warm_steps=None)
    assert all(m.info["refit"].startswith("train+validation") for m in retrained.members)
    again = Ensemble.load(retrained.save(tmp_path / "retrained"))
    fc = again.predict(pd.read_parquet(builtin_dataset_path()), samples=4)
    assert np.isfinite(fc[["mean", "q05", "q95"]].to_numpy()).all()


def test_reused_draws_and_fits_give_the_report_numbers_of_fresh_ones(finished_run, monkeypatch):
    """The report's views of an ensemble with statistical members share each member's draws per
    origin (``DrawsCache``), and the statistical baselines that are members share the member's
    fitted states and forecasts: the backtest's numbers are those of every view forecast alone,
    from copies that share nothing, bit for bit, for a fraction of the statistical work."""
    import copy
    import dataclasses

    from foretune.commands.evaluate import _forecasters
    from foretune.config import ExperimentConfig
    from foretune.ensemble import make_ensemble
    from foretune.ensemble.forecasters import ensemble_forecasters
    from foretune.models import statistical

    run_dir, _ = finished_run
    config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    config.ensemble.statistical = ["AutoETS", "SeasonalNaive"]
    config.ensemble.weighting = "mean"  # every candidate keeps a weight: deep and statistical
    ensemble = make_ensemble(run_dir, config)
    assert any(m.statistical for m in ensemble.members) and any(not m.statistical for m in ensemble.members)
    data = pd.read_parquet(builtin_dataset_path())
    direction = transform_direction(ensemble.transform)
    baselines = ("AutoETS", "AutoTheta")
    applied: list[str] = []
    real = statistical._apply
    monkeypatch.setattr(
        statistical, "_apply", lambda m, y, h: applied.append(type(m).__name__) or real(m, y, h)
    )

    def scores(forecasters):
        applied.clear()
        result = backtest(forecasters, data, H, 2, direction=direction, optional=baselines, log=None)
        return result.summary, len(applied)

    shared, shared_work = scores(_forecasters(ensemble, data, None, baselines, True, 8, 1, None))

    def own(model):  # a copy that shares nothing: no draws cache, its own statistical models
        alone = copy.copy(model)
        alone.draws_cache = None
        alone.members = [
            dataclasses.replace(m, model=m.model.with_states(m.model.states)) if m.statistical else m
            for m in alone.members
        ]
        return alone

    views = ensemble_forecasters(ensemble, samples=8, seed=1)
    for view in views.values():
        view.model = own(view.model)
    fitted = {m.model.name: m.model.with_states(m.model.states) for m in ensemble.members if m.statistical}
    fresh, fresh_work = scores({**views, **baseline_forecasters(None, baselines, None, fitted)})
    pd.testing.assert_frame_equal(shared, fresh)
    assert {"AutoETS", "member0_" + ensemble.members[0].architecture} <= set(shared["model"])
    assert shared_work < fresh_work / 2


def test_the_held_out_tail_is_invisible_to_every_stage(finished_run, tmp_path):
    """Poison each series' held-out tail: the sweep's windows and statistics and, with the
    refit off, every file of the ensemble artifact stay byte-identical."""
    from foretune.config import ExperimentConfig
    from foretune.data.experiment import load_series, prepare_all
    from foretune.ensemble import make_ensemble

    run_dir, _ = finished_run
    config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    steps = config.evaluate.windows * config.data.horizon
    data = pd.read_parquet(builtin_dataset_path())
    tail = data.groupby("unique_id").cumcount(ascending=False) < steps
    poisoned = data.assign(y=data["y"].where(~tail, data["y"] * 1000.0))
    path = tmp_path / "poisoned.parquet"
    poisoned.to_parquet(path, index=False)
    dirty = config.model_copy(deep=True)
    dirty.data.path = str(path)
    clean_data, dirty_data = (prepare_all(c, load_series(c)) for c in (config, dirty))
    for window, clean in clean_data.items():
        for part in ("train", "val", "test"):
            for name in WindowSet.__dataclass_fields__:
                np.testing.assert_array_equal(
                    getattr(getattr(clean, part), name), getattr(getattr(dirty_data[window], part), name)
                )
        assert clean.transform.to_dict() == dirty_data[window].transform.to_dict()
    clean_dir = make_ensemble(run_dir, config).save(tmp_path / "clean")
    dirty_dir = make_ensemble(run_dir, dirty).save(tmp_path / "dirty")
    files = sorted(p.relative_to(clean_dir) for p in clean_dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(dirty_dir) for p in dirty_dir.rglob("*") if p.is_file())
    for name in files:
        a, b = ((d / name).read_bytes() for d in (clean_dir, dirty_dir))
        if name.name == "config.json":  # the experiment config names the data file
            a, b = (json.loads(x) for x in (a, b))
            assert a["data"].pop("path") != b["data"].pop("path")
        elif name.name == "manifest.json":  # creation time and config.json's checksum
            a, b = ({k: v for k, v in json.loads(x).items() if k not in ("created", "files")} for x in (a, b))
        assert a == b, name


def test_a_run_from_before_the_hold_out_marks_nothing_held_out():
    from foretune.commands.evaluate import _held_out

    history = pd.DataFrame({"unique_id": ["a"] * 40 + ["b"] * 12, "y": 1.0})
    config = {"data": {"horizon": 4, "val_windows": 1, "test_windows": 1}}
    assert _held_out(config, history) == {"a": 0, "b": 0}  # older artifacts held nothing out
    config["evaluate"] = {"windows": 2}  # 8 steps where 40 - 8 still gives train + validation
    assert _held_out(config, history) == {"a": 8, "b": 0}
