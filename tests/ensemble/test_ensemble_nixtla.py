"""The Nixtla view of a forecast frame, read by utilsforecast's own evaluation and plotting."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # utilsforecast's matplotlib engine draws through pyplot

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from utilsforecast.evaluation import evaluate
from utilsforecast.losses import coverage, mae, scaled_crps
from utilsforecast.plotting import plot_series

from foretune import metrics as M
from foretune.ensemble.nixtla import to_nixtla

#: Quantile offsets from the mean, symmetric, so every level has both bounds.
OFFSETS = {"q025": -2.0, "q05": -1.6, "q25": -0.7, "q50": 0.1, "q75": 0.7, "q95": 1.6, "q975": 2.0}


def forecast_frame() -> pd.DataFrame:
    """A forecast in ``Ensemble.predict``'s columns, with actuals, for two series of 6 steps."""
    errors = np.array([0.0, 1.8, -1.8, 0.5, 2.5, -0.3])  # 3 inside the 90%, 5 inside the 95%
    ds = pd.date_range("2020-01-01", periods=6, freq="D")
    parts = []
    for uid, level in (("a", 10.0), ("b", -3.0)):
        mean = level + np.arange(6.0)
        part = pd.DataFrame({"unique_id": uid, "ds": ds, "y": mean + errors, "mean": mean})
        for name, offset in OFFSETS.items():
            part[name] = mean + offset
        part = part.assign(q30=mean - 0.5, p_down=0.2, p_flat=0.3, p_up=0.5, std_mc=0.4, fallback=False)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_columns_follow_the_neuralforecast_conventions():
    frame = forecast_frame()
    view = to_nixtla(frame, alias="ft")
    assert list(view.columns) == [
        "unique_id",
        "ds",
        "y",
        "ft",
        "ft-lo-95",
        "ft-lo-90",
        "ft-lo-50",
        "ft-hi-50",
        "ft-hi-90",
        "ft-hi-95",
    ]
    np.testing.assert_array_equal(view["ft"], frame["mean"])
    assert not any("median" in c for c in view.columns)  # one point column: no second "model"
    np.testing.assert_array_equal(view["ft-lo-95"], frame["q025"])
    np.testing.assert_array_equal(view["ft-hi-90"], frame["q95"])
    with pytest.raises(ValueError, match="mean"):
        to_nixtla(frame.drop(columns="mean"))


def test_utilsforecast_evaluate_scores_the_view_as_foretune_does():
    frame = forecast_frame()
    view = to_nixtla(frame)  # alias "foretune"
    # no models= argument: the view has exactly one point column, the model's
    scores = evaluate(view, [mae, coverage, scaled_crps], level=[90, 95])
    assert [c for c in scores.columns if c not in ("unique_id", "metric")] == ["foretune"]
    table = scores.set_index(["unique_id", "metric"])["foretune"]
    ours, _ = M.evaluate_forecasts(frame)
    for _, row in ours.iterrows():
        uid = row["unique_id"]
        assert table[(uid, "mae")] == pytest.approx(row["mae"])
        assert table[(uid, "coverage_level90")] == pytest.approx(row["coverage_90"])
        assert table[(uid, "coverage_level95")] == pytest.approx(row["coverage_95"])
        assert np.isfinite(table[(uid, "scaled_crps")])
    assert list(ours["coverage_90"]) == [0.5, 0.5] and list(ours["coverage_95"]) == [5 / 6, 5 / 6]


def test_utilsforecast_plot_series_draws_the_view():
    frame = forecast_frame()
    history = frame[["unique_id", "ds", "y"]].assign(ds=frame["ds"] - pd.Timedelta(days=6))
    fig = plot_series(
        history,
        to_nixtla(frame).drop(columns="y"),
        level=[90],
        engine="matplotlib",
    )
    assert isinstance(fig, Figure)
    labels = {label for ax in fig.axes for label in ax.get_legend_handles_labels()[1]}
    assert {"foretune", "foretune_level_90"} <= labels


def test_level_keeps_only_the_intervals_asked_for_in_either_format():
    from foretune.ensemble.nixtla import keep_levels
    from foretune.errors import ConfigError

    frame = forecast_frame()
    view = to_nixtla(frame, level=[90])
    assert list(view.columns) == ["unique_id", "ds", "y", "foretune", "foretune-lo-90", "foretune-hi-90"]
    assert list(to_nixtla(frame, level=[95, 50]).columns[4:]) == [
        "foretune-lo-95",
        "foretune-lo-50",
        "foretune-hi-50",
        "foretune-hi-95",
    ]
    native = keep_levels(frame, [90])
    assert [c for c in native.columns if c.startswith("q")] == ["q05", "q50", "q95"]
    assert {"mean", "p_up", "std_mc", "fallback"} <= set(native.columns)
    assert keep_levels(frame, None) is frame
    with pytest.raises(ConfigError, match=r"level 80 .* on offer, in percent: 95, 90, 50"):
        to_nixtla(frame, level=[80])
