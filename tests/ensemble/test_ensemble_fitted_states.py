"""Statistical members keep each series' fitted parameters in the artifact and apply them to the
new history at predict time (statsforecast's ``forward``), unless asked to refit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from foretune.data import RatioTransform
from foretune.data.synthetic import MONTHS, SHORT_MONTHS, business_panel
from foretune.ensemble import Ensemble, Member
from foretune.models.statistical import StatisticalModel, forecast_histories, restore, state_of

pytestmark = pytest.mark.usefixtures("torch_single_thread")
HORIZON = 6


def test_business_panel_is_monthly_ragged_and_reproducible():
    frame = business_panel(400, seed=3)
    lengths = frame.groupby("unique_id").size()
    assert len(lengths) == 400 and (frame["y"] > 0).all()
    assert lengths.between(SHORT_MONTHS[0], MONTHS[1]).all() and (lengths < MONTHS[0]).any()
    ends = frame.groupby("unique_id")["ds"].max()
    assert (ends == ends.max()).mean() > 0.8 and ends.nunique() > 1  # some end early
    assert (frame["ds"].dt.day == 1).all() and frame.groupby("unique_id")[
        "ds"
    ].diff().dropna().dt.days.between(28, 31).all()
    pd.testing.assert_frame_equal(frame, business_panel(400, seed=3))


def _ensemble(frame: pd.DataFrame, names: list[str]) -> Ensemble:
    """One statistical member per name, its states fit on each series without its last
    ``HORIZON`` points (as a build fits at an earlier window), weighted equally."""
    transform = RatioTransform("log_ratio")
    earlier = {}
    for uid, group in frame.groupby("unique_id", sort=False):
        y = group["y"].to_numpy()
        transform.fit_series(uid, y[: len(y) - HORIZON])
        earlier[uid] = y[: len(y) - HORIZON]
    fitted = forecast_histories(
        [StatisticalModel(n) for n in names], list(earlier.values()), 12, HORIZON, list(earlier)
    )
    members = []
    for name, result in zip(names, fitted, strict=True):
        member = Member.of_statistical(name, 1.0 / len(names))
        member.model = member.model.with_states(result.states)
        members.append(member)
    settings = {"horizon": HORIZON, "samples": 40, "seed": 0, "levels": [0.9], "quantiles": [0.05, 0.5, 0.95]}
    manifest = {"input_schema": {"required": ["unique_id", "ds", "y"], "covariates": []}, "freqs": {}}
    return Ensemble(members, transform, settings, manifest)


def test_predict_applies_the_saved_states_and_refits_only_when_asked(tmp_path):
    frame = business_panel(10, seed=1)
    ensemble = _ensemble(frame, ["AutoETS"])
    ids = list(frame["unique_id"].unique())
    histories = [frame.loc[frame["unique_id"] == u, "y"].to_numpy() for u in ids]
    member = ensemble.members[0].model
    applied, _ = StatisticalModel("AutoETS").with_states(member.states).forecast(histories, 12, HORIZON, ids)
    fresh, _ = StatisticalModel("AutoETS").forecast(histories, 12, HORIZON, ids)
    assert not np.allclose(applied, fresh)  # new parameters give another forecast

    forecast = ensemble.predict(frame, seed=0)
    np.testing.assert_allclose(forecast["mean"].to_numpy().reshape(len(ids), HORIZON), applied, rtol=1e-9)
    refit = ensemble.predict(frame, seed=0, refit=True)
    np.testing.assert_allclose(refit["mean"].to_numpy().reshape(len(ids), HORIZON), fresh, rtol=1e-9)

    # the states travel in the artifact as plain JSON under its checksums, and forecast the same
    path = ensemble.save(tmp_path / "ensemble")
    stored = json.loads((path / "members/0/states.json").read_text())
    assert stored["model"] == "AutoETS" and set(stored["states"]) == set(ids)
    manifest = json.loads((path / "manifest.json").read_text())
    assert "members/0/states.json" in manifest["files"]
    loaded = Ensemble.load(path)
    pd.testing.assert_frame_equal(loaded.predict(frame, seed=0), forecast)


def test_a_state_restores_the_fitted_model_exactly():
    from statsforecast.models import AutoETS, AutoTheta

    y = business_panel(1, seed=4)["y"].to_numpy()
    for model in (AutoETS(season_length=12), AutoTheta(season_length=12)):
        model.fit(y=y[:-12])
        state = json.loads(json.dumps(state_of(model, 12)))  # through JSON, as the artifact keeps it
        again = restore(state).forward(y=y, h=HORIZON, level=[80])
        for key, values in model.forward(y=y, h=HORIZON, level=[80]).items():
            np.testing.assert_array_equal(again[key], values)


def test_an_unseen_series_is_fit_on_its_history():
    frame = business_panel(6, seed=2)
    ensemble = _ensemble(frame[frame["unique_id"] != "b000005"], ["AutoTheta"])
    new = frame[frame["unique_id"] == "b000005"]
    with pytest.warns(UserWarning):  # UnseenSeriesWarning: statistics from the history given
        forecast = ensemble.predict(new, seed=0)
    expected, _ = StatisticalModel("AutoTheta").forecast([new["y"].to_numpy()], 12, HORIZON, ["b000005"])
    np.testing.assert_allclose(forecast["mean"].to_numpy(), expected[0], rtol=1e-9)
