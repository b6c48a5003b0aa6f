"""Fast unit tests: member choice, settings, batched inversion, mixture helpers, future time stamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foretune.data import RatioTransform
from foretune.ensemble import ArtifactError, EnsembleError, EnsembleSettings, select_members
from foretune.ensemble.draws import RowTransform
from foretune.ensemble.mixture import pool, resample, weighted_quantiles
from foretune.ensemble.predictor import _future_index


def board(rows):
    frame = pd.DataFrame(rows, columns=["trial_id", "architecture", "val_loss", "status"])
    frame["checkpoint_path"] = np.where(frame["status"] == "ok", "/ckpt", None)
    frame["reason"] = ""
    frame["window"] = 8
    return frame


def test_diversity_rule_caps_each_architecture():
    b = board(
        [
            ("a", "lstm", 0.10, "ok"),
            ("b", "lstm", 0.11, "ok"),
            ("c", "lstm", 0.12, "ok"),
            ("d", "mlp", 0.20, "ok"),
            ("e", "gru", 0.30, "ok"),
            ("f", "gru", 0.05, "failed"),
        ]
    )
    chosen = select_members(b, top_k=4, max_per_architecture=2)
    assert chosen["trial_id"].tolist() == ["a", "b", "d", "e"]
    assert select_members(b, top_k=3, max_per_architecture=1)["trial_id"].tolist() == ["a", "d", "e"]
    assert select_members(b, top_k=3)["trial_id"].tolist() == ["a", "b", "c"]
    with pytest.raises(EnsembleError, match="no trial"):
        select_members(board([("x", "mlp", np.nan, "diverged")]), top_k=2)


@pytest.mark.parametrize("kind", ["log_ratio", "diff", "none", "auto"])
def test_row_transform_matches_the_per_series_transform(kind):
    rng = np.random.default_rng(0)
    transform = RatioTransform(kind)
    levels = {f"s{i}": 50 + np.cumsum(rng.uniform(0.5, 1.5, 40)) * (i + 1) for i in range(4)}
    if kind == "auto":  # s1 crosses zero: a diff series among log-ratio ones
        levels["s1"] = levels["s1"] - 100
        assert transform.choose(levels["s1"]) == "diff" and transform.choose(levels["s0"]) == "log_ratio"
    for uid, y in levels.items():
        transform.fit_series(uid, y)
    uids = np.array(["s2", "s0", "s3", "s2", "s1"], dtype=object)
    last = np.array([levels[u][-1] for u in uids])
    z = rng.normal(size=(7, len(uids), 5))  # [S, N, H]
    rows = RowTransform(transform, uids)
    r = rows.changes(z)
    got, labels = rows.levels(last, r), rows.direction(last, r)
    for i, uid in enumerate(uids):
        r_i = transform.unstandardize(uid, z[:, i])
        want = transform.integrate(np.full(7, last[i]), r_i, transform.kind_of(uid))
        np.testing.assert_allclose(got[:, i], want)
        np.testing.assert_array_equal(labels[:, i], transform.direction(uid, last[i], r_i))


def test_weighted_mixture_resampling_and_quantiles():
    a, b = np.zeros((10, 1, 1)), np.ones((30, 1, 1))
    paths, w = pool([a, b], [0.75, 0.25])  # a's paths weigh 0.075 each, b's 0.0083
    assert paths.shape == (40, 1, 1) and w.sum() == pytest.approx(1.0)
    drawn = resample(paths, w, 200)
    assert drawn.mean() == pytest.approx(0.25, abs=0.01)
    q = weighted_quantiles(paths, w, [0.5, 0.8])
    assert q[:, 0, 0].tolist() == [0.0, 1.0]


def test_future_index_for_mixed_frequencies_and_shared_starts():
    start = pd.Timestamp("2020-01-01")
    index = _future_index([start, start, pd.Timestamp("2020-03-01"), 7], ["MS", "MS", "MS", 1], 2)
    assert list(index) == [
        pd.Timestamp("2020-02-01"),
        pd.Timestamp("2020-03-01"),
        pd.Timestamp("2020-02-01"),
        pd.Timestamp("2020-03-01"),
        pd.Timestamp("2020-04-01"),
        pd.Timestamp("2020-05-01"),
        8,
        9,
    ]
    same = _future_index([start] * 3, ["QS-OCT"] * 3, 2)
    assert isinstance(same, pd.DatetimeIndex) and len(same) == 6 and same[2] == same[0]


def test_settings_round_trip_keys_defaults_and_unknown_keys():
    state = {
        "horizon": 4,
        "samples": 50,
        "quantiles": [0.1, 0.9],
        "levels": [0.9, 0.5],
        "seed": 0,
        "direction_source": "blend",
        "fill": "interpolate",
        "freq": "MS",
        "season": 12,
        "val_windows": 2,
        "test_windows": 0,
        "weighting": "greedy",
        "metric": "mase",
        "refit": False,
        "selection": {"metric": "mase"},
        "calibration": {"skipped": "ensemble.calibration is none"},
        "test_scores": {},
        "direction": {},
        "members": [{"path": "members/0", "weight": 1.0}],
        "from_a_newer_version": [1, 2],
    }
    settings = EnsembleSettings.from_dict(state)
    assert settings.to_dict() == {k: v for k, v in state.items() if k != "members"}
    assert settings.interval_levels == [0.5, 0.9]
    assert settings.quantile_levels == [0.05, 0.1, 0.5, 0.9, 0.95]
    assert set(settings.reports) == {"selection", "calibration", "test_scores", "direction"}
    bare = EnsembleSettings.from_dict({"horizon": 2})
    assert (bare.samples, bare.levels, bare.seed, bare.direction_source) == (
        50,
        [0.5, 0.8, 0.9, 0.95],
        0,
        "head",
    )
    # an artifact that does not record the data settings reads the history with the config's
    # defaults (gaps are errors, frequencies and seasons inferred) and one window each
    assert (bare.fill, bare.freq, bare.season, bare.val_windows, bare.test_windows) == (
        "none",
        None,
        None,
        1,
        1,
    )
    assert bare.reports == {} and set(bare.to_dict()) == {
        "horizon",
        "samples",
        "quantiles",
        "levels",
        "seed",
        "direction_source",
        "fill",
        "freq",
        "season",
        "val_windows",
        "test_windows",
    }
    with pytest.raises(ArtifactError, match="horizon"):
        EnsembleSettings.from_dict({"samples": 3})
    with pytest.raises(ArtifactError, match="direction_source"):
        EnsembleSettings.from_dict({"horizon": 2, "direction_source": "tea leaves"})
    with pytest.raises(ArtifactError, match="fill"):
        EnsembleSettings.from_dict({"horizon": 2, "fill": "guess"})


def test_settings_take_the_configs_defaults_and_a_builds_config():
    from foretune.config import ExperimentConfig

    defaults, bare = ExperimentConfig(), EnsembleSettings(horizon=6)
    ensemble, data = defaults.ensemble, defaults.data
    assert (bare.samples, bare.quantiles, bare.levels, bare.direction_source) == (
        ensemble.samples,
        ensemble.quantiles,
        ensemble.levels,
        ensemble.direction_source,
    )
    assert (bare.seed, bare.fill, bare.freq, bare.season) == (
        defaults.seed,
        data.fill,
        data.freq,
        data.season,
    )
    config = ExperimentConfig.from_dict(
        {
            "seed": 3,
            "data": {"horizon": 6, "val_windows": 2, "test_windows": 1},
            "ensemble": {"levels": [0.9]},
        }
    )
    built = EnsembleSettings.from_config(config, selection={"metric": "mase"})
    assert (built.horizon, built.seed, built.levels, built.val_windows, built.test_windows) == (
        6,
        3,
        [0.9],
        2,
        1,
    )
    assert (built.weighting, built.metric, built.refit) == ("greedy", "mase", False)
    assert built.reports == {"selection": {"metric": "mase"}}


def test_cross_fitting_folds_split_each_series_and_alternate_single_windows():
    from foretune.data import WindowSet
    from foretune.ensemble.assemble import halves

    series = np.array([0, 0, 0, 1, 2, 2, 3, 4])
    origin = np.array([5, 3, 4, 1, 2, 1, 7, 7])
    empty = np.zeros((len(series), 1))
    windows = WindowSet(empty, empty, empty, series, origin, empty[:, 0], empty)
    # series 0: origins 3 | 4, 5; series 2: 1 | 2; single windows (1, 3, 4) alternate 0, 1, 0
    assert halves(windows).tolist() == [1, 0, 1, 0, 1, 0, 1, 0]


@pytest.mark.parametrize("name", ["lstm", "mlp", "tcn"])
def test_mc_draws_run_the_stem_once_and_equal_whole_passes_on_repeated_windows(name):
    """``mc_forward`` (stem once per window, the rest per sample, in blocks) gives exactly the
    model's own MC passes over the windows repeated block by block, seeded alike."""
    import torch

    from foretune import models
    from foretune.ensemble.draws import mc_forward

    torch.manual_seed(0)
    model = models.build(name, input_size=2, horizon=3, window=8, dropout=0.3)
    x = np.random.default_rng(0).normal(size=(7, 8, 2)).astype(np.float32)
    samples, chunk = 4, 12  # blocks of 3 windows x 4 samples: 3 blocks, the last of 1 window
    torch.manual_seed(5)
    z, probs = mc_forward(model, x, samples, chunk=chunk)
    assert z.shape == (samples, 7, 3) and probs.shape == (7, 3, 3)
    torch.manual_seed(5)
    models.set_mc_dropout(model, True)
    expected_z, expected_p = [], []
    with torch.no_grad():
        for start in range(0, 7, 3):
            block = torch.as_tensor(x[start : start + 3])
            reg, logits = model(block.repeat(samples, 1, 1))
            expected_z.append(reg.reshape(samples, len(block), 3))
            expected_p.append(torch.softmax(logits, -1).reshape(samples, len(block), 3, 3).mean(0))
    models.set_mc_dropout(model, False)
    np.testing.assert_allclose(z, torch.cat(expected_z, dim=1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, torch.cat(expected_p).numpy(), rtol=1e-5, atol=1e-6)
    assert np.all(z.std(axis=0) > 0)  # the samples differ: dropout is on per sample
