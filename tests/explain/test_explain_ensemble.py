"""Ensemble attributions on a hand-built ensemble of linear members with different windows:
lag alignment, weighting, completeness, series selection, direction targets, short series (mask
channel) and the files."""

from __future__ import annotations

import json

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from foretune.data import DataError, RatioTransform, model_inputs
from foretune.ensemble import Ensemble, EnsembleSettings, Member, UnseenSeriesWarning
from foretune.explain import ExplainError, Explanation, IGSettings, explain_ensemble, feature_names

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HORIZON = 3
COVARIATES = ["temp"]
F = 1 + len(COVARIATES) + 1  # y, the covariates, the mask
NAMES = ["y", "temp", "mask"]
HELD = np.array([1.0, 1.0, 0.0])  # the baseline keeps the mask at its actual values


pytestmark = [
    pytest.mark.usefixtures("torch_single_thread"),
    # the hand-built ensemble has no trained series: every history is new to it
    pytest.mark.filterwarnings("ignore::foretune.ensemble.UnseenSeriesWarning"),
]


class LinearForecaster(nn.Module):
    """``regression[h] = sum_{t,f} w[h, t, f] x[t, f]``; logits linear too (IG is exact)."""

    def __init__(self, window: int, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(HORIZON, window, F, generator=g))
        self.v = nn.Parameter(torch.randn(HORIZON, 3, window, F, generator=g) * 0.3)

    def forward(self, x):
        reg = torch.einsum("btf,htf->bh", x, self.w)
        return reg, torch.einsum("btf,hctf->bhc", x, self.v)


def _history(ids=("a", "b", "c"), n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frames = []
    for i, uid in enumerate(ids):
        y = 50 * (i + 1) * np.exp(np.cumsum(rng.normal(0.01, 0.05, n)))
        temp = 10 + 3 * rng.normal(size=n)
        ds = pd.date_range("2021-01-01", periods=n, freq="D")
        frames.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y, "temp": temp}))
    return pd.concat(frames, ignore_index=True)


def _ensemble(windows=(4, 8), weights=(0.25, 0.5)) -> Ensemble:
    members = [
        Member(LinearForecaster(w, seed=i).eval(), arch, w, wt)
        for i, (w, wt, arch) in enumerate(zip(windows, weights, ("mlp", "lstm"), strict=True))
    ]
    manifest = {"input_schema": {"covariates": COVARIATES}}
    return Ensemble(members, RatioTransform("log_ratio"), EnsembleSettings(horizon=HORIZON), manifest)


def _inputs(history: pd.DataFrame, uid: str, window: int) -> np.ndarray:
    """Member input of one series, built independently (unseen series: stats from its history)."""
    g = history[history.unique_id == uid]
    y, cov = g["y"].to_numpy(float), g[COVARIATES].to_numpy(float)
    transform = RatioTransform("log_ratio")
    transform.fit_series(uid, y, cov)
    return model_inputs(transform, uid, y, cov, window)


def _cell(frame: pd.DataFrame, uid: str, member: str, lag: int, feature: str) -> float:
    row = frame[
        (frame.unique_id == uid) & (frame.member == member) & (frame.lag == lag) & (frame.feature == feature)
    ]
    assert len(row) == 1
    return float(row["attribution"].iloc[0])


@pytest.fixture(scope="module")
def explained() -> tuple[Ensemble, pd.DataFrame, Explanation]:
    ensemble, history = _ensemble(), _history()
    return ensemble, history, explain_ensemble(ensemble, history, step=2)


def test_frame_is_tidy_with_one_row_per_series_member_lag_feature(explained):
    _, _, ex = explained
    a = ex.attributions
    assert list(a.columns) == ["unique_id", "member", "step", "lag", "feature", "attribution"]
    assert set(a["member"]) == {"ensemble", "0:mlp", "1:lstm"}
    assert (a["step"] == 2).all()
    counts = a.groupby(["unique_id", "member"]).size().unstack()
    assert (counts["0:mlp"] == 4 * F).all() and (counts["1:lstm"] == 8 * F).all()
    assert (counts["ensemble"] == 8 * F).all()  # lags 1..max(window)
    assert not a.duplicated(["unique_id", "member", "lag", "feature"]).any()
    assert feature_names(COVARIATES) == NAMES == ex.summary["features"]
    assert feature_names(["mask"]) == ["y", "mask", "(mask)"]  # one name per feature, always
    assert set(a["feature"]) == set(NAMES)
    assert ex.matrix("b").shape == (8, F) and list(ex.matrix("b").columns) == NAMES


def test_members_are_exact_and_ensemble_is_lag_aligned_weighted_sum(explained):
    ensemble, history, ex = explained
    a = ex.attributions
    w = np.array([0.25, 0.5]) / 0.75
    for uid in ("a", "b", "c"):
        for i, member in enumerate(ensemble.members):
            x = _inputs(history, uid, member.window)
            # linear model, zeros baseline but for the mask, held at its actual values
            exact = member.model.w[1].detach().numpy() * x * HELD
            for lag in range(1, member.window + 1):
                for f, name in enumerate(NAMES):
                    got = _cell(a, uid, f"{i}:{member.architecture}", lag, name)
                    assert got == pytest.approx(exact[-lag, f], rel=1e-4, abs=1e-6)
        for lag in range(1, 9):
            for name in NAMES:
                want = w[1] * _cell(a, uid, "1:lstm", lag, name)
                if lag <= 4:  # the short member only reaches lags 1..4
                    want += w[0] * _cell(a, uid, "0:mlp", lag, name)
                assert _cell(a, uid, "ensemble", lag, name) == pytest.approx(want, abs=1e-9)


def test_completeness_per_member_and_for_the_weighted_ensemble(explained):
    ensemble, history, ex = explained
    c = ex.completeness
    assert set(c.columns) >= {
        "unique_id",
        "member",
        "target",
        "n_steps",
        "output",
        "baseline_output",
        "attribution_sum",
        "delta",
        "relative_error",
        "converged",
    }
    assert len(c) == 3 * 3 and c["converged"].all()
    assert (c["relative_error"] < 1e-4).all() and (c["n_steps"] == 50).all()
    assert (c["target"] == "forecast").all()
    ens = c[c.member == "ensemble"].set_index("unique_id")
    members = c[c.member != "ensemble"]
    weighted = (members["output"] * members["weight"]).groupby(members["unique_id"]).sum() / 0.75
    np.testing.assert_allclose(ens.loc[weighted.index, "output"], weighted, rtol=1e-6)
    # the ensemble output is the weighted forecast the models make on these inputs
    with torch.no_grad():
        for uid in ("a", "b"):
            outs = [
                m.model(torch.as_tensor(_inputs(history, uid, m.window))[None])[0][0, 1]
                for m in ensemble.members
            ]
            mixed = (0.25 * float(outs[0]) + 0.5 * float(outs[1])) / 0.75
            assert ens.loc[uid, "output"] == pytest.approx(mixed, rel=1e-5)
    summary = ex.summary["completeness"]
    assert summary["all_converged"] and summary["max_relative_error"] < 1e-4
    assert summary["n_steps_schedule"] == [50, 100, 200, 400] and summary["tolerance"] == 0.05
    assert set(summary["ensemble"]) == {"a", "b", "c"}


def test_mean_baseline_and_series_selection():
    ensemble, history = _ensemble(), _history()
    ex = explain_ensemble(ensemble, history, series=["c", "a"], step=3, baseline="mean")
    assert set(ex.attributions["unique_id"]) == {"a", "c"} and ex.summary["series"] == ["a", "c"]
    member = ensemble.members[1]
    x = _inputs(history, "c", member.window)
    exact = member.model.w[2].detach().numpy() * (x - x.mean(axis=0))
    got = ex.matrix("c", "1:lstm").to_numpy()  # rows lag 1..8
    np.testing.assert_allclose(got, exact[::-1], rtol=1e-4, atol=1e-6)
    # the mean baseline is per member window: each member's attributions sum to ~0 per feature
    # only for linear models in its own window; the ensemble is still complete
    assert ex.completeness["converged"].all()
    with pytest.raises(DataError, match=r"\['zz'\] not in the data"):
        explain_ensemble(ensemble, history, series=["a", "zz"])


def test_direction_targets_use_one_class_for_all_members():
    ensemble, history = _ensemble(), _history()
    up = explain_ensemble(ensemble, history, target="direction", step=1)
    assert (up.completeness["target"] == "p_up").all()
    assert up.summary["target_label"] == "p_up" and up.completeness["converged"].all()
    predicted = explain_ensemble(ensemble, history, target="direction", direction_class="predicted")
    c = predicted.completeness
    probs = 0.0
    with torch.no_grad():
        for m, w in zip(ensemble.members, (0.25, 0.5), strict=True):
            x = torch.as_tensor(np.stack([_inputs(history, u, m.window) for u in "abc"]))
            probs = probs + w * torch.softmax(m.model(x)[1][:, 0], -1).numpy()
    expected = {u: f"p_{('down', 'flat', 'up')[k]}" for u, k in zip("abc", probs.argmax(-1), strict=True)}
    for uid, label in expected.items():
        assert set(c[c.unique_id == uid]["target"]) == {label}
    assert predicted.summary["targets"] == expected
    assert c["converged"].all()


def test_settings_object_and_keywords_give_the_same_explanation():
    ensemble, history = _ensemble(), _history()
    settings = IGSettings(step=1, target="direction", direction_class="predicted", n_steps=(16,))
    by_object = explain_ensemble(ensemble, history, settings)
    by_keywords = explain_ensemble(
        ensemble, history, step=1, target="direction", direction_class="predicted", n_steps=(16,)
    )
    pd.testing.assert_frame_equal(by_object.attributions, by_keywords.attributions)
    assert by_object.summary == by_keywords.summary
    overridden = explain_ensemble(ensemble, history, settings, step=2)  # keywords win
    assert overridden.summary["step"] == 2 and overridden.summary["target_label"] == "p_predicted"
    with pytest.raises(ExplainError, match="baseline"):
        explain_ensemble(ensemble, history, baseline=np.zeros((1, 8, F)))  # one model only


def test_bad_requests(explained):
    ensemble, history, _ = explained
    with pytest.raises(ExplainError, match="step=4"):
        explain_ensemble(ensemble, history, step=4)
    with pytest.raises(ExplainError, match="baseline"):
        explain_ensemble(ensemble, history, baseline="last")
    with pytest.raises(ExplainError, match="direction_class"):
        explain_ensemble(ensemble, history, target="direction", direction_class="sideways")


def test_a_series_shorter_than_the_windows_is_explained_behind_its_mask():
    ensemble = _ensemble()
    history = _history()
    short = history[(history.unique_id != "b") | (history.ds < "2021-01-04")]  # b: 3 observations
    with pytest.warns(UnseenSeriesWarning, match=r"1 series .*\('b'\)"):
        ex = explain_ensemble(ensemble, short, series=["b"], step=1)
    assert ex.summary["series"] == ["b"] and ex.completeness["converged"].all()
    for i, member in enumerate(ensemble.members):
        x = _inputs(short, "b", member.window)
        assert x[:, -1].tolist() == [0.0] * (member.window - 2) + [1.0, 1.0]  # 2 changes, padded
        got = ex.matrix("b", f"{i}:{member.architecture}").to_numpy()[::-1]  # input order
        exact = member.model.w[0].detach().numpy() * x * HELD  # linear model, mask held
        np.testing.assert_allclose(got, exact, rtol=1e-4, atol=1e-6)
        assert (got[: member.window - 2] == 0).all()  # the padding gets no attribution
    with pytest.raises(DataError, match="the data is empty"):
        explain_ensemble(ensemble, history.iloc[:0])


def test_attributes_the_inputs_predict_builds(explained):
    from foretune.explain.ensemble import _inputs

    ensemble, history, _ = explained
    uids, inputs = _inputs(ensemble, history, None)
    served = ensemble.inputs(history)
    assert uids == served.uids and set(inputs) == set(served.windows) == {4, 8}
    for window, x in inputs.items():
        np.testing.assert_array_equal(x, served.windows[window])


def test_save_writes_parquet_pngs_and_json(explained, tmp_path):
    _, _, ex = explained
    out = tmp_path / "explain"
    out.mkdir()
    (out / "heatmap_old-series.png").write_bytes(b"stale")
    paths = ex.save(out)
    assert not (out / "heatmap_old-series.png").exists()
    back = pd.read_parquet(out / "attributions.parquet")
    pd.testing.assert_frame_equal(back, ex.attributions)
    for uid in ("a", "b", "c"):
        png = out / f"heatmap_{uid}.png"
        assert paths[f"heatmap:{uid}"] == png
        assert png.read_bytes()[:8] == PNG_SIGNATURE
        assert mpimg.imread(png).shape[0] > 100
    assert (out / "feature_importance.png").read_bytes()[:8] == PNG_SIGNATURE
    summary = json.loads((out / "summary.json").read_text())
    assert summary["files"]["heatmaps"] == {u: f"heatmap_{u}.png" for u in "abc"}
    assert summary["step"] == 2 and summary["baseline"] == "zeros"
    assert summary["completeness"]["all_converged"] is True
    assert len(summary["completeness"]["rows"]) == len(ex.completeness)
    assert [m["window"] for m in summary["members"]] == [4, 8]


def test_unsafe_series_ids_get_safe_distinct_file_names(tmp_path):
    history = _history(ids=("x/1", "x 1"))
    ex = explain_ensemble(_ensemble(), history)
    ex.save(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    names = summary["files"]["heatmaps"]
    assert len(set(names.values())) == 2
    for name in names.values():
        assert "/" not in name and (tmp_path / name).is_file()
