"""``Foretune``'s methods on a fitted estimator, without Ray: predict in both formats, the user's
column names, future frames, the out-of-sample evaluation, save/load, plot and the notebook view.

The estimator here holds a real ensemble of two statistical members (seasonal naive and a random
walk with drift, fit on each history as a run's statistical members are) with the transform of
the built-in quarterly data, in place of a fit's sweep (``tests/commands/test_commands_estimator.py``
runs real fits).
"""

from __future__ import annotations

import typing

import matplotlib

matplotlib.use("Agg")  # utilsforecast's matplotlib engine draws through pyplot

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from foretune.commands.cross_validation import fits_at, refit_every, step_of
from foretune.commands.estimator import Foretune
from foretune.commands.estimator_io import Columns
from foretune.data import DataError, RatioTransform, builtin_dataset_path
from foretune.ensemble import Ensemble, EnsembleSettings, Member
from foretune.errors import ArtifactError, ConfigError

HORIZON = 4
NAMES = {"unique_id": "series", "ds": "date", "y": "value"}
USER = Columns("series", "date", "value")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_parquet(builtin_dataset_path())


@pytest.fixture(scope="module")
def train(panel) -> pd.DataFrame:
    """All but each series' last two horizons: what the estimator was fit on."""
    return panel.groupby("unique_id").head(-2 * HORIZON).reset_index(drop=True)


@pytest.fixture(scope="module")
def ft(train) -> Foretune:
    """A fitted estimator (user column names ``series, date, value``) over a real ensemble."""
    transform = RatioTransform("log_ratio")
    for uid, rows in train.groupby("unique_id"):
        transform.fit_series(uid, rows["y"].to_numpy(), None)
    members = [Member.of_statistical("SeasonalNaive", 0.6), Member.of_statistical("Naive", 0.4)]
    ensemble = Ensemble(
        members, transform, EnsembleSettings(horizon=HORIZON), {"input_schema": {"covariates": []}}
    )
    ft = Foretune(horizon=HORIZON, verbosity="quiet")
    ft.ensemble, ft._data, ft.columns = ensemble, train, USER  # what fit(train renamed, ...) leaves
    return ft


def test_type_hints_resolve_at_run_time():
    for name in dir(Foretune):
        method = getattr(Foretune, name)
        if callable(method) and not name.startswith("__"):
            typing.get_type_hints(method)
    hints = typing.get_type_hints(Foretune.fit)
    assert hints["return"] is Foretune and hints["id_col"] is str


def test_an_unfit_estimator_says_to_fit_first(tmp_path):
    ft = Foretune(horizon=HORIZON)
    for call in (
        ft.predict,
        ft.plot,
        ft.make_future_dataframe,
        ft.leaderboard,
        ft.explain,
        lambda: ft.evaluate(None),
        lambda: ft.get_missing_future(None),
        lambda: ft.save(tmp_path / "m"),
    ):
        with pytest.raises(ConfigError, match=r"not been fit: call ft.fit\(df\)"):
            call()
    assert "not fit" in repr(ft) and "<table>" in ft._repr_html_()


def test_predict_in_both_formats_with_the_users_column_names(ft, train):
    native = ft.predict()
    assert list(native.columns[:3]) == ["series", "date", "mean"]
    ours = ft.ensemble.predict(train)
    np.testing.assert_array_equal(native["mean"], ours["mean"])
    pd.testing.assert_frame_equal(ft.predict(train.rename(columns=NAMES)), native)
    narrow = ft.predict(level=[90])
    assert [c for c in narrow.columns if c.startswith("q")] == ["q05", "q50", "q95"]
    view = ft.predict(format="nixtla", level=[90, 50])
    assert list(view.columns) == [
        "series",
        "date",
        "foretune",
        "foretune-lo-90",
        "foretune-lo-50",
        "foretune-hi-50",
        "foretune-hi-90",
    ]
    np.testing.assert_array_equal(view["foretune-hi-90"], native["q95"])
    default = ft.predict(train, id_col="unique_id", time_col="ds", target_col="y")  # per call
    assert list(default.columns[:2]) == ["unique_id", "ds"]
    with pytest.raises(ConfigError, match="format='csv'"):
        ft.predict(format="csv")
    with pytest.raises(ConfigError, match="level 99"):
        ft.predict(level=[99])
    with pytest.raises(DataError, match=r"\['series', 'date', 'value'\] are not in the data"):
        ft.predict(train)  # foretune's names, but the fit's are series, date, value


def test_the_nixtla_forecast_is_read_by_utilsforecast_with_no_models_argument(ft, panel, train):
    from utilsforecast.evaluation import evaluate
    from utilsforecast.losses import coverage, mae
    from utilsforecast.plotting import plot_series

    names = {"id_col": "series", "time_col": "date", "target_col": "value"}
    view = ft.predict(format="nixtla")
    actual = panel.rename(columns=NAMES)
    scored = view.merge(actual, on=["series", "date"])
    assert len(scored) == len(view) == 8 * HORIZON
    table = evaluate(scored, [mae, coverage], level=[90], **names)
    assert [c for c in table.columns if c not in ("series", "metric")] == ["foretune"]
    by_hand = (scored["value"] - scored["foretune"]).abs().groupby(scored["series"]).mean()
    got = table[table["metric"] == "mae"].set_index("series")["foretune"]
    np.testing.assert_allclose(got.loc[by_hand.index], by_hand)
    fig = plot_series(train.rename(columns=NAMES), view, level=[90], max_ids=2, **names)
    labels = {label for ax in fig.axes for label in ax.get_legend_handles_labels()[1]}
    assert {"foretune", "foretune_level_90"} <= labels


def test_future_dataframe_dates_the_forecast_and_missing_future_names_the_gaps(ft, train):
    future = ft.make_future_dataframe()
    pd.testing.assert_frame_equal(future, ft.predict()[["series", "date"]])
    assert ft.get_missing_future(future).empty
    gap = future.drop(index=[5, 6])
    missing = ft.get_missing_future(gap)
    pd.testing.assert_frame_equal(missing, future.loc[[5, 6]].reset_index(drop=True))
    shorter = train.rename(columns=NAMES).groupby("series").head(-1)
    assert (ft.make_future_dataframe(shorter)["date"] < future["date"]).all()


def test_evaluate_scores_only_the_steps_after_the_fit(ft, panel, train, capsys, monkeypatch):
    monkeypatch.setattr(ft, "verbosity", "normal")  # let its notes through
    table = ft.evaluate(panel.rename(columns=NAMES))
    models = list(table["model"])
    assert models[:2] == ["ensemble", "member0_SeasonalNaive"] and "naive" in models
    assert table["n_points"].iloc[0] == 8 * 2 * HORIZON  # two windows after each series' fit end
    # naive by hand: each window forecast flat from the last value before it, after the fit
    errors = []
    for _, rows in panel.groupby("unique_id"):
        y = rows["y"].to_numpy()
        n = len(y) - 2 * HORIZON  # the fit's length
        for start in (n, n + HORIZON):
            errors.append(np.abs(y[start : start + HORIZON] - y[start - 1]).mean())
    naive = table.set_index("model").loc["naive"]
    assert naive["mae"] == pytest.approx(np.mean(np.reshape(errors, (8, 2)).mean(axis=1)))
    assert "held-out" not in capsys.readouterr().out  # no false warning: the fit saw none of it
    picked = ft.evaluate(panel.rename(columns=NAMES), metrics=["mase", "coverage_90"], members=False)
    assert list(picked.columns) == ["model", "mase", "coverage_90"]
    np.testing.assert_allclose(picked["mase"].iloc[0], table["mase"].iloc[0])
    with pytest.raises(ConfigError, match=r"metrics \['accuracy'\]"):
        ft.evaluate(panel.rename(columns=NAMES), metrics=["accuracy"])
    with pytest.raises(DataError, match="none after it"):
        ft.evaluate(train.rename(columns=NAMES))
    from_end = panel.groupby("unique_id").cumcount(ascending=False)
    ragged = panel[(panel["unique_id"] != "cpi") | (from_end >= 5)]  # cpi: 3 steps after the fit
    capsys.readouterr()
    table = ft.evaluate(ragged.rename(columns=NAMES), metrics=["mase", "n_series"], members=False)
    assert "1 series (e.g. 'cpi') have fewer than 4 steps after the fit" in capsys.readouterr().out
    assert table["n_series"].iloc[0] == 7


def test_save_and_load_forecast_the_same(ft, train, tmp_path):
    where = ft.save(tmp_path / "model")
    back = Foretune.load(where)
    pd.testing.assert_frame_equal(back.predict(), ft.predict())
    pd.testing.assert_frame_equal(back.leaderboard(members=True), ft.leaderboard(members=True))
    assert back.columns == USER and back.horizon == HORIZON
    assert f"lives in           {where}" in repr(back)
    ft.save(where)  # an earlier save is replaced
    lean = ft.save(tmp_path / "lean", save_dataset=False)
    bare = Foretune.load(lean)
    with pytest.raises(DataError, match="saved without its data"):
        bare.predict()
    pd.testing.assert_frame_equal(bare.predict(train.rename(columns=NAMES)), ft.predict())
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a saved Foretune"):
        ft.save(taken)
    with pytest.raises(ArtifactError, match="not a saved Foretune"):
        Foretune.load(taken)
    with pytest.raises(ConfigError, match="no leaderboard"):
        back.leaderboard()  # this one never had a sweep


def test_plot_and_the_notebook_views(ft, train):
    fig = ft.plot(series=["cpi", "m1"])
    assert isinstance(fig, Figure) and [ax.get_title(loc="left") for ax in fig.axes] == ["cpi", "m1"]
    text = repr(ft)
    assert "series trained on  8" in text and "0:SeasonalNaive 0.600, 1:Naive 0.400" in text
    assert "horizon" in ft._repr_html_() and "<table>" in repr(ft.ensemble._repr_html_())
    assert repr(ft.ensemble).startswith("Ensemble\n  horizon            4")


def test_column_names_map_in_and_out():
    frame = pd.DataFrame({"store": ["a"], "date": [1], "sales": [2.0], "x": [0.0]})
    cols = Columns("store", "date", "sales")
    assert list(cols.inward(frame).columns) == ["unique_id", "ds", "y", "x"]
    assert list(cols.inward(frame[["store", "date", "x"]], target=False).columns) == ["unique_id", "ds", "x"]
    assert list(cols.inward(frame[["store", "x"]], time=False, target=False).columns) == ["unique_id", "x"]
    assert list(cols.outward(cols.inward(frame)).columns) == ["store", "date", "sales", "x"]
    assert Columns().inward(frame) is frame and cols.inward(None) is None
    with pytest.raises(DataError, match=r"\['sales'\] are not in the data"):
        cols.inward(frame.drop(columns="sales"))
    with pytest.raises(DataError, match="a column 'y' besides"):
        cols.inward(frame.assign(y=1.0))


def test_cross_validation_windows_and_refit_schedule():
    assert step_of(None, None, 4) == 4 and step_of(2, None, 4) == 2 and step_of(None, 3, 4) == 3
    with pytest.raises(ConfigError, match="step_size=2 and step=3"):
        step_of(2, 3, 4)
    assert refit_every(False) == 0 and refit_every(True) == 1 and refit_every(2) == 2
    assert [fits_at(i, 0) for i in range(3)] == [True, False, False]
    assert [fits_at(i, 2) for i in range(4)] == [True, False, True, False]
    with pytest.raises(ConfigError, match="refit"):
        refit_every(-1)


def test_cross_validation_refuses_a_cv_folder_holding_other_files(tmp_path, panel):
    stray = tmp_path / "run" / "cv" / "notes.txt"
    stray.parent.mkdir(parents=True)
    stray.write_text("mine")
    with pytest.raises(ConfigError, match="besides cross-validation fits"):
        Foretune(horizon=HORIZON, out=tmp_path / "run").cross_validation(panel)
    assert stray.read_text() == "mine"
