"""``Foretune``: fit from a DataFrame with its own column names, predict (also in a fresh
process and after save/load), explain, cross-validate with one fit or a fit per cutoff. The
README's Python block runs in tests/test_docs.py, with every other block of the docs.

One tiny real fit (2 trials of mlp, 3 epochs, on the built-in quarterly data, with the columns
named ``series, date, value``) is shared by the module; cross-validation with ``refit=False``
adds one fit, with ``refit=2`` over three windows two.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from foretune.data import builtin_dataset_path
from foretune.errors import ConfigError
from foretune.rundir import RunDir

NAMES = {"unique_id": "series", "ds": "date", "y": "value"}
BACK = {v: k for k, v in NAMES.items()}

HORIZON = 4
TINY = {
    "train.max_epochs": 3,
    "search.trials": 2,
    "search.windows": [8],
    "search.scheduler": "none",
    "ensemble.samples": 8,
}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_parquet(builtin_dataset_path())


@pytest.fixture(scope="module")
def fitted(ray_session, tmp_path_factory, data):
    from foretune import Foretune

    ft = Foretune(horizon=HORIZON, models=["mlp"], config=TINY, out=tmp_path_factory.mktemp("est") / "run")
    before = signal.getsignal(signal.SIGINT)
    assert ft.fit(data.rename(columns=NAMES), id_col="series", time_col="date", target_col="value") is ft
    # Ctrl+C works again after the fit: Tune's handler is not left behind.
    assert signal.getsignal(signal.SIGINT) is before
    return ft, ft.ensemble


def test_fit_is_a_run_directory_like_foretune_run(fitted, data):
    from foretune import Ensemble

    ft, ensemble = fitted
    assert isinstance(ensemble, Ensemble) and ensemble.horizon == HORIZON
    run = RunDir(ft.run_dir)
    pd.testing.assert_frame_equal(pd.read_parquet(run.input), data)  # in foretune's own names
    config = json.loads(run.config.read_text())
    assert config["data"]["path"] == str(run.input) and config["out"] == str(run.root)
    assert config["models"] == ["mlp"] and config["data"]["horizon"] == HORIZON
    assert config["train"]["max_epochs"] == 3 and config["search"]["windows"] == [8]
    assert len(pd.read_parquet(run.leaderboard)) == 2
    assert (run.ensemble / "ensemble.json").is_file()
    assert not run.report.exists()  # fit(df) skips the backtest report unless asked
    assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ


def test_predict_matches_a_fresh_process(fitted, data, tmp_path):
    ft, _ = fitted
    forecast = ft.predict()
    assert list(forecast.columns[:3]) == ["series", "date", "mean"]  # the names fit was given
    forecast = forecast.rename(columns=BACK)
    assert len(forecast) == data["unique_id"].nunique() * HORIZON
    assert {"unique_id", "ds", "mean", "q05", "q50", "q95", "p_up"} <= set(forecast.columns)
    assert list(forecast["unique_id"].drop_duplicates()) == list(data["unique_id"].drop_duplicates())
    assert (forecast.groupby("unique_id")["ds"].min() > data.groupby("unique_id")["ds"].max()).all()
    shorter = ft.predict(data.rename(columns=NAMES), horizon=2)
    assert shorter.groupby("series").size().eq(2).all()
    with pytest.raises(ConfigError, match="samples"):
        ft.predict(samples=0)

    out = tmp_path / "fresh.parquet"
    script = textwrap.dedent(
        f"""
        from foretune import Ensemble
        ens = Ensemble.load({str(ft.run_dir / "ensemble")!r})
        ens.predict({str(RunDir(ft.run_dir).input)!r}).to_parquet({str(out)!r}, index=False)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_parquet(out), forecast, check_exact=False, rtol=1e-6)


def test_save_load_round_trip_and_chaining(fitted, data, tmp_path):
    from foretune import Foretune

    ft, _ = fitted
    back = Foretune.load(ft.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(back.predict(), ft.predict())
    pd.testing.assert_frame_equal(back.leaderboard(), ft.leaderboard())
    assert len(ft.leaderboard()) == 2 and ft.leaderboard(members=True)["weight"].sum() == pytest.approx(1.0)
    assert f"lives in           {ft.run_dir}" in repr(ft) and "0:mlp (window 8)" in repr(ft)


def test_explain_gives_the_padding_mask_no_attribution(fitted, data):
    ft, _ = fitted
    explanation = ft.explain(data.rename(columns=NAMES), series=["cpi", "m1"])
    a = explanation.attributions
    assert set(a["unique_id"]) == {"cpi", "m1"} and (a.loc[a["feature"] == "mask", "attribution"] == 0).all()
    assert (a.loc[a["feature"] == "y", "attribution"].abs() > 0).any()


def test_cross_validation_fits_once_and_equals_a_loop_over_cutoffs_with_its_members(fitted, data):
    from foretune import Ensemble

    ft, _ = fitted
    cv = ft.cross_validation(data.rename(columns=NAMES), n_windows=2)  # refit=False
    assert list(cv.columns[:4]) == ["series", "date", "cutoff", "value"]
    assert sorted(p.name for p in (ft.run_dir / "cv").iterdir()) == ["cutoff-0"]  # one fit
    ensemble = Ensemble.load(ft.run_dir / "cv" / "cutoff-0" / "ensemble")
    rows = data.groupby("unique_id").cumcount(ascending=False)  # 0 = each series' last row
    for k, back in enumerate((2 * HORIZON, HORIZON)):
        history = data[rows >= back]  # the histories cut by hand
        by_hand = ensemble.predict(history, horizon=HORIZON)
        fold = cv[cv["cutoff"] == cv["cutoff"].unique()[k]].rename(columns=BACK).reset_index(drop=True)
        pd.testing.assert_frame_equal(fold.drop(columns=["cutoff", "y"]), by_hand)
        actual = data.set_index(["unique_id", "ds"])["y"]
        np.testing.assert_array_equal(
            fold["y"], actual.loc[list(zip(fold["unique_id"], fold["ds"], strict=True))]
        )


def test_cross_validation_with_refit_fits_every_kth_cutoff(fitted, data):
    from utilsforecast.evaluation import evaluate
    from utilsforecast.losses import coverage, mae

    ft, _ = fitted
    view = ft.cross_validation(data.rename(columns=NAMES), n_windows=3, refit=2, format="nixtla", level=[90])
    assert list(view.columns) == [
        "series",
        "date",
        "cutoff",
        "value",
        "foretune",
        "foretune-lo-90",
        "foretune-hi-90",
    ]
    names = {"id_col": "series", "time_col": "date", "target_col": "value"}
    scores = evaluate(view, [mae, coverage], level=[90], **names)  # per series and cutoff, no models=
    assert len(scores) == 8 * 3 * 2 and scores["foretune"].notna().all()
    cv = view.rename(columns={**BACK, "foretune": "mean", "foretune-lo-90": "q05", "foretune-hi-90": "q95"})
    ids = list(data["unique_id"].drop_duplicates())
    assert set(cv["unique_id"]) == set(ids)
    assert cv.groupby(["unique_id", "cutoff"]).size().eq(HORIZON).all()
    assert cv.groupby("unique_id")["cutoff"].nunique().eq(3).all()
    assert (cv["cutoff"] < cv["ds"]).all()
    # Cutoffs: the last one HORIZON rows before each series' end, each other one HORIZON before.
    for uid, rows in data.groupby("unique_id"):
        stamps = rows.sort_values("ds")["ds"].reset_index(drop=True)
        expected = [stamps.iloc[-1 - k * HORIZON] for k in (3, 2, 1)]
        assert sorted(cv.loc[cv["unique_id"] == uid, "cutoff"].unique()) == expected
    actual = data.set_index(["unique_id", "ds"])["y"]
    np.testing.assert_array_equal(
        cv["y"].to_numpy(), actual.loc[list(zip(cv["unique_id"], cv["ds"], strict=True))].to_numpy()
    )
    assert np.isfinite(cv["mean"]).all() and (cv["q05"] <= cv["q95"]).all()
    # refit=2: cutoffs 0 and 2 have fits of their own, cutoff 1 is forecast by cutoff 0's
    assert sorted(p.name for p in (ft.run_dir / "cv").iterdir()) == ["cutoff-0", "cutoff-2"]
    for k in (0, 2):
        assert (ft.run_dir / "cv" / f"cutoff-{k}" / "ensemble" / "ensemble.json").is_file()


def test_settings_are_checked_before_anything_runs(tmp_path, data):
    from foretune import Foretune

    with pytest.raises(ConfigError, match="train.max_epochs"):
        Foretune(config={"train.max_epoch": 3})
    with pytest.raises(ConfigError, match="search.trials"):
        Foretune(trials=0)
    with pytest.raises(ConfigError, match="quiet, normal, verbose"):
        Foretune(verbosity="loud")
    with pytest.raises(ConfigError, match="fit"):
        Foretune().predict()
    with pytest.raises(ConfigError, match="step_size=2 and step=3"):
        Foretune(horizon=HORIZON).cross_validation(data, step_size=2, step=3)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="overwrite=True"):
        Foretune(horizon=HORIZON, out=taken).fit(data)
    assert sorted(p.name for p in taken.iterdir()) == ["notes.txt"]


def test_config_sources_and_precedence(tmp_path):
    from foretune.commands.estimator import Foretune
    from foretune.config import experiment_config, parse_settings

    assert parse_settings(["train.max_epochs=5", "search.windows=[8, 16]", "train.clip_norm=null"]) == {
        "train.max_epochs": 5,
        "search.windows": [8, 16],
        "train.clip_norm": None,
    }
    config = experiment_config(None, {"train.clip_norm": None, "search.space.lstm.dropout": 0.1})
    assert config.train.clip_norm is None and config.search.space == {"lstm": {"dropout": 0.1}}
    yaml_file = tmp_path / "exp.yaml"
    yaml_file.write_text("name: exp\ndata:\n  horizon: 6\ntrain:\n  max_epochs: 7\n")
    ft = Foretune(horizon=3, models=["tcn", "mlp"], trials=5, config=yaml_file, seed=4)
    assert ft.config.name == "exp" and ft.config.train.max_epochs == 7
    assert (ft.config.data.horizon, ft.config.models, ft.config.search.trials, ft.config.seed) == (
        3,
        ["tcn", "mlp"],
        5,
        4,
    )


def test_every_kind_of_input_becomes_the_runs_data(ray_session, tmp_path, data):
    """A frame, a CSV file and a Ray Dataset are saved as RUN/input.parquet; Parquet is read in place."""
    import ray

    from foretune.commands.estimator_io import stage_data
    from foretune.data import read_frame

    small = data[data["unique_id"].isin(["cpi", "m1"])].reset_index(drop=True)
    parquet, csv = tmp_path / "small.parquet", tmp_path / "small.csv"
    small.to_parquet(parquet, index=False)
    small.to_csv(csv, index=False)
    assert stage_data(parquet, tmp_path / "a") == str(parquet.resolve())
    assert not (tmp_path / "a").exists()
    for source in (small, csv, ray.data.from_pandas(small)):
        run = RunDir(tmp_path / "b")
        assert stage_data(source, run.root) == str(run.input)
        staged = read_frame(run.input).sort_values(["unique_id", "ds"], ignore_index=True)
        assert list(staged.columns) == ["unique_id", "ds", "y"]
        np.testing.assert_allclose(staged["y"], small.sort_values(["unique_id", "ds"])["y"])
    wide = small.pivot(index="ds", columns="unique_id", values="y").reset_index()
    stage_data(wide, run.root)
    assert sorted(pd.read_parquet(run.input)["unique_id"].unique()) == ["cpi", "m1"]


def test_overwrite_removes_only_what_a_run_wrote(tmp_path):
    from foretune.rundir import check_run_dir, clear_run_outputs

    run = RunDir(tmp_path / "run")
    (run.store).mkdir(parents=True)
    (run.store / "store.json").write_text("{}")
    (run.sweep / "trial").mkdir(parents=True)
    run.config.write_text("{}")
    run.leaderboard.write_bytes(b"x")
    run.input.write_bytes(b"data")
    (run.root / "cv").mkdir()
    (run.root / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="--overwrite"):
        check_run_dir(run.root, overwrite=False, hint="or pass --overwrite")
    check_run_dir(run.root, overwrite=True, hint="")
    clear_run_outputs(run.root)
    assert sorted(p.name for p in run.root.iterdir()) == ["cv", "input.parquet", "notes.txt"]
    assert not run.streamed
    with pytest.raises(ConfigError, match="is a file"):
        check_run_dir(run.root / "notes.txt" / "sub", overwrite=True, hint="")
    # A directory without a run is never overwritten, and a plain data/ folder is not a store.
    with pytest.raises(ConfigError, match="no foretune run"):
        check_run_dir(run.root, overwrite=True, hint="")
    (run.root / "data").mkdir()
    (run.root / "data" / "panel.parquet").write_bytes(b"x")
    run.config.write_text("{}")
    clear_run_outputs(run.root)
    assert (run.root / "data" / "panel.parquet").is_file() and not run.config.exists()


def test_ctrl_c_stops_the_sweep_then_raises():
    """Inside ``interruptible`` Tune's SIGINT handler is off; the first Ctrl+C reaches the stop
    handler Tune installs on SIGUSR1 (here a stand-in), a second one raises at once."""
    from foretune.commands.run import interruptible

    before, before_int = signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGINT)
    stopped = []
    with interruptible() as interrupted:
        assert os.environ["TUNE_DISABLE_SIGINT_HANDLER"] == "1"
        with pytest.raises(KeyboardInterrupt):  # no sweep running yet: raise at once
            os.kill(os.getpid(), signal.SIGINT)
        assert not interrupted()
        signal.signal(signal.SIGUSR1, lambda signum, frame: stopped.append(signum))  # Tune starts
        os.kill(os.getpid(), signal.SIGINT)
        assert stopped == [signal.SIGUSR1] and interrupted()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before_int
    assert signal.getsignal(signal.SIGUSR1) == before
    assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ


def test_import_stays_light():
    script = "import sys, foretune; foretune.Foretune; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr[-2000:]


def test_exponents_without_a_dot_are_numbers_in_settings_and_files(tmp_path):
    """PyYAML alone reads ``1e-4`` as text; a learning rate written so must still be a number."""
    from foretune.config import experiment_config, parse_settings

    settings = parse_settings(["train.learning_rate=1e-4", "search.space.learning_rate=[1e-4, 3E-3]"])
    assert settings == {"train.learning_rate": 1e-4, "search.space.learning_rate": [1e-4, 3e-3]}
    path = tmp_path / "exp.yaml"
    path.write_text("train:\n  learning_rate: 2e-4\nname: 1e3abc\n")
    config = experiment_config(path)
    assert config.train.learning_rate == 2e-4 and config.name == "1e3abc"
