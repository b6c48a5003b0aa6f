"""The ensemble of one real, small Tune/Optuna sweep (local Ray, 2 CPUs), reused by every test.

The sweep trains on the built-in quarterly data plus a covariate column, so the artifact's input
schema has a covariate to miss.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from foretune.data import DataError, builtin_dataset_path
from foretune.ensemble import ArtifactError, Ensemble, build_ensemble
from foretune.ensemble.artifact import sha256
from foretune.ensemble.build import make_ensemble

HORIZON = 4
LEVELS = ["50", "80", "90", "95"]


def history() -> pd.DataFrame:
    frame = pd.read_parquet(builtin_dataset_path())
    return frame.assign(season=frame["ds"].dt.quarter.astype(float))


@pytest.fixture(scope="module")
def run(ray_session, tmp_path_factory):
    from foretune.config import ExperimentConfig
    from foretune.search import run_sweep

    root = tmp_path_factory.mktemp("ensemble")
    history().to_parquet(root / "macro.parquet", index=False)
    config = ExperimentConfig.from_dict(
        {
            "seed": 0,
            "models": ["mlp", "lstm"],
            "data": {
                "horizon": HORIZON,
                "path": str(root / "macro.parquet"),
                "val_windows": 1,  # one window of each per series (the counts below)
                "test_windows": 1,
            },
            "train": {"max_epochs": 4, "patience": 3},
            "search": {"trials": 3, "windows": [8, 12], "scheduler": "none", "max_concurrent": 2},
            "ensemble": {"top_k": 3, "samples": 16, "max_per_architecture": 2},
        }
    )
    run_dir = root / "run"
    run_sweep(config, run_dir)
    return run_dir, config, build_ensemble(run_dir, config)


def variant(config, **ensemble):
    from foretune.config import ExperimentConfig

    raw = config.to_dict()
    raw["ensemble"].update(ensemble)
    return ExperimentConfig.from_dict(raw)


def test_members_weights_and_reports_are_recorded(run):
    run_dir, config, artifact = run
    settings = json.loads((artifact / "ensemble.json").read_text())
    manifest = json.loads((artifact / "manifest.json").read_text())
    board = pd.read_parquet(run_dir / "leaderboard.parquet")
    candidates = settings["selection"]["candidates"]
    assert candidates[0]["trial_id"] == board["trial_id"].iloc[0]  # best trial first
    assert max(pd.Series([c["architecture"] for c in candidates]).value_counts()) <= 2
    weights = [m["weight"] for m in settings["members"]]
    assert sum(weights) == pytest.approx(1.0) and min(weights) > 0
    assert [m["weight"] for m in manifest["members"]] == weights == manifest["weights"]
    assert manifest["format_version"] == 2 and manifest["input_schema"]["covariates"] == ["season"]
    selection = settings["selection"]
    assert selection["weighting"] == "greedy" and selection["metric"] == "mase"
    assert selection["ensemble_score"] <= selection["best_single_score"] + 1e-12
    assert list(Ensemble.load(artifact).weights.values()) == weights
    assert {"mase", "mae", "crps_scaled"} <= set(settings["test_scores"]["ensemble"])
    for source in ("head", "samples", "blend"):
        assert 0 <= settings["direction"][source]["accuracy"] <= 1
        assert settings["direction"][source]["log_loss"] > 0


def test_calibration_is_reported_and_served_in_the_quantile_columns(run):
    _, _, artifact = run
    report = json.loads((artifact / "ensemble.json").read_text())["calibration"]
    assert list(report) == LEVELS
    for name in LEVELS:
        entry = report[name]
        assert entry["n"] == 8 and 0 <= entry["before"] <= 1  # each series' one test window
        assert entry["after"] >= entry["nominal"] - 1e-9  # in-sample CQR guarantee
        assert 0 <= entry["after_crossfit"] <= 1
    forecast = Ensemble.load(artifact).predict(history(), samples=16, seed=1)
    assert len(forecast) == 8 * HORIZON
    # every level's calibrated bounds are quantile columns, ascending, each named once
    order = ["q025", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "q975"]
    assert [c for c in forecast.columns if c.startswith("q")] == order
    assert not any(c.startswith(("lo_", "hi_")) or c == "std" for c in forecast.columns)
    assert (np.diff(forecast[order].to_numpy(), axis=1) >= 0).all()
    raw = Ensemble.load(artifact).without_calibration().predict(history(), samples=16, seed=1)
    np.testing.assert_allclose(raw["mean"], forecast["mean"])
    assert not np.allclose(raw["q05"], forecast["q05"])


def test_the_nixtla_view_is_scored_by_utilsforecast_on_held_out_steps(run):
    from utilsforecast.evaluation import evaluate
    from utilsforecast.losses import coverage, mae

    from foretune.errors import ConfigError

    _, _, artifact = run
    frame = history()
    tail = frame.groupby("unique_id").cumcount(ascending=False) < HORIZON
    ensemble = Ensemble.load(artifact)
    ours = ensemble.predict(frame[~tail], samples=8, seed=1)
    view = ensemble.predict(frame[~tail], samples=8, seed=1, format="nixtla", alias="ft")
    assert list(view.columns[:4]) == ["unique_id", "ds", "ft", "ft-lo-95"]
    assert {"ft-lo-90", "ft-hi-90", "ft-lo-95", "ft-hi-95"} <= set(view.columns)
    np.testing.assert_array_equal(view["ft-lo-90"], ours["q05"])
    scored = view.merge(frame[tail][["unique_id", "ds", "y"]], on=["unique_id", "ds"])
    assert len(scored) == len(view) == 8 * HORIZON
    table = evaluate(scored, [mae, coverage], level=[90]).set_index(["unique_id", "metric"])
    inside = scored["y"].between(scored["ft-lo-90"], scored["ft-hi-90"])
    for uid, hit in inside.groupby(scored["unique_id"]):
        assert table.loc[(uid, "coverage_level90"), "ft"] == pytest.approx(hit.mean())
    with pytest.raises(ConfigError, match="format='csv'"):
        ensemble.predict(frame, format="csv")


def test_plot_draws_history_and_the_fan_chart_as_a_figure(run):
    from matplotlib.figure import Figure

    _, _, artifact = run
    fig = Ensemble.load(artifact).plot(history(), series=["realgdp", "cpi"], samples=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax = fig.axes[0]
    assert ax.get_title(loc="left") == "realgdp"
    labels = ax.get_legend_handles_labels()[1]
    assert {"history", "forecast mean", "median", "90% interval", "95% interval"} <= set(labels)
    with pytest.raises(DataError, match="nosuch"):
        Ensemble.load(artifact).plot(history(), series=["nosuch"])


def test_predict_after_load_equals_predict_before_save(run, tmp_path):
    run_dir, config, _ = run
    # a different recipe, so this also covers diversity 1, mean weights and blended directions
    config = variant(config, max_per_architecture=1, weighting="mean", direction_source="blend")
    ensemble = make_ensemble(run_dir, config)
    architectures = [m.architecture for m in ensemble.members]
    assert len(architectures) == len(set(architectures))
    before = ensemble.predict(history(), samples=8, seed=5)
    loaded = Ensemble.load(ensemble.save(tmp_path / "ensemble"))
    after = loaded.predict(history(), samples=8, seed=5)
    pd.testing.assert_frame_equal(before, after)
    probs = after[["p_down", "p_flat", "p_up"]].sum(axis=1)
    np.testing.assert_allclose(probs, 1.0, atol=1e-6)


def test_saving_a_loaded_artifact_writes_the_same_ensemble_json(run, tmp_path):
    _, _, artifact = run
    again = Ensemble.load(artifact).save(tmp_path / "again")
    assert (again / "ensemble.json").read_bytes() == (artifact / "ensemble.json").read_bytes()
    assert (again / "calibration.json").read_bytes() == (artifact / "calibration.json").read_bytes()


def test_tampered_or_incompatible_artifacts_are_refused(run, tmp_path):
    _, _, artifact = run

    def fresh(name):
        copy = tmp_path / name
        shutil.copytree(artifact, copy)
        return copy

    edited = fresh("weights")
    path = edited / "calibration.json"
    state = json.loads(path.read_text())
    state["adjustments"]["0.9"] = [0.0] * HORIZON
    path.write_text(json.dumps(state))
    with pytest.raises(ArtifactError, match="calibration.json.*checksum"):
        Ensemble.load(edited)

    manifest_edit = fresh("manifest")
    manifest = json.loads((manifest_edit / "manifest.json").read_text())
    manifest["members"][0]["weight"] = 0.123
    (manifest_edit / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="disagrees"):
        Ensemble.load(manifest_edit)

    for version in (99, 0, None):
        other = fresh(f"version-{version}")
        manifest = json.loads((other / "manifest.json").read_text())
        manifest["format_version"] = version
        (other / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ArtifactError, match="format version"):
            Ensemble.load(other)


def test_format_1_artifacts_still_load_uncalibrated(run, tmp_path):
    _, _, artifact = run
    old = tmp_path / "v1"
    shutil.copytree(artifact, old)
    (old / "calibration.json").unlink()
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = 1
    for key in ("members", "weights", "calibrated"):
        manifest.pop(key)
    manifest["files"].pop("calibration.json")
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert manifest["files"]["ensemble.json"] == sha256(old / "ensemble.json")
    ensemble = Ensemble.load(old)
    assert ensemble.calibration is None
    forecast = ensemble.predict(history(), horizon=2, samples=8)
    assert forecast.groupby("unique_id").size().eq(2).all()


def test_missing_covariate_is_named(run):
    _, _, artifact = run
    without = history().drop(columns="season")
    with pytest.raises(DataError, match="season"):
        Ensemble.load(artifact).predict(without)


def test_refit_on_train_and_validation(run):
    import torch

    from foretune.train import read_checkpoint

    run_dir, config, _ = run
    best = pd.read_parquet(run_dir / "leaderboard.parquet").iloc[0]
    ensemble = make_ensemble(run_dir, variant(config, refit=True), trial_ids=[best["trial_id"]])
    (member,) = ensemble.members
    assert "train+validation" in member.info["refit"]
    assert member.spec.max_epochs <= config.train.max_epochs
    original, _ = read_checkpoint(best["checkpoint_path"])
    refit_state, original_state = member.model.state_dict(), original.state_dict()
    assert any(not torch.equal(refit_state[k], original_state[k]) for k in original_state)
    assert ensemble.report["calibration"]["90"]["n"] > 0


def test_members_are_refit_in_parallel_ray_tasks_as_they_would_be_inline(run):
    import ray
    import torch

    from foretune.ensemble.refit import refit, refit_all
    from foretune.ensemble.windows import load_windows
    from foretune.rundir import RunDir

    run_dir, config, _ = run
    assert ray.is_initialized()
    board = pd.read_parquet(run_dir / "leaderboard.parquet").head(2)
    equal = variant(config, refit=True, weighting="mean")  # both kept
    ensemble = make_ensemble(run_dir, equal, trial_ids=list(board["trial_id"]))
    assert len(ensemble.members) == 2
    datasets = load_windows(RunDir(run_dir), config, ensemble.members).datasets
    jobs = [(m.spec, datasets[m.window], m.spec.max_epochs - 1) for m in ensemble.members]
    tcn = dataclasses.replace(jobs[0][0], architecture="tcn", hyperparameters={})  # weight-normed
    jobs.append((tcn, datasets[tcn.window], 1))
    parallel = refit_all(jobs, {"num_cpus": 1})  # three Ray tasks
    model, spec = parallel.pop()
    inline, _ = refit(*jobs.pop())
    assert spec.architecture == "tcn" and not model.training
    for name, value in inline.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, rtol=1e-4, atol=1e-5)
    for member, (spec, data, best), (model, parallel_spec) in zip(
        ensemble.members, jobs, parallel, strict=True
    ):
        assert "train+validation" in member.info["refit"]
        inline, inline_spec = refit(spec, data, best)
        assert parallel_spec == inline_spec
        for name, value in inline.state_dict().items():
            torch.testing.assert_close(model.state_dict()[name], value, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(member.model.state_dict()[name], value, rtol=1e-4, atol=1e-5)
