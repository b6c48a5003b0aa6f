"""RatioTransform: exact inversion, standardisation, JSON state and direction labels."""

import json

import numpy as np
import pandas as pd
import pytest

from foretune.data import RatioTransform, SeriesStats, builtin_dataset_path
from foretune.data.experiment import load_series, prepare_all
from foretune.data.moments import clip_outliers
from foretune.data.store_input import StoreSettings
from support import tiny_config

KINDS = ("log_ratio", "diff", "none")


@pytest.fixture(scope="module")
def macro() -> dict[str, np.ndarray]:
    frame = pd.read_parquet(builtin_dataset_path())
    series = {
        str(uid): group.sort_values("ds")["y"].to_numpy(np.float64)
        for uid, group in frame.groupby("unique_id", sort=False)
    }
    assert len(series) == 8
    return series


# -- changes / integrate ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_whole_series_on_builtin_data(macro, kind):
    t = RatioTransform(kind)
    for uid, y in macro.items():
        r = t.changes(y)
        assert r.shape == (len(y) - 1,)
        levels = t.integrate(y[0], r)
        np.testing.assert_allclose(levels, y[1:], rtol=1e-10, err_msg=uid)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_batched_paths_from_many_origins(macro, kind):
    """integrate works on a batch [N, H] of paths, each from its own last level."""
    t = RatioTransform(kind)
    y = macro["realgdp"]
    h = 5
    r = t.changes(y)
    origins = np.arange(0, len(r) - h + 1, 7)
    paths = np.stack([r[o : o + h] for o in origins])
    truth = np.stack([y[o + 1 : o + 1 + h] for o in origins])
    np.testing.assert_allclose(t.integrate(y[origins], paths), truth, rtol=1e-10)


def test_hand_example_log_ratio():
    t = RatioTransform("log_ratio")
    r = t.changes(np.array([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(r, [np.log(2.0), np.log(2.0)], rtol=0, atol=1e-9)
    np.testing.assert_allclose(t.integrate(1.0, r), [2.0, 4.0], rtol=1e-12)
    # from another start the same ratios double twice
    np.testing.assert_allclose(t.integrate(3.0, r), [6.0, 12.0], rtol=1e-12)


def test_hand_example_diff_and_none():
    y = np.array([1.0, 2.0, 4.0])
    d = RatioTransform("diff")
    np.testing.assert_array_equal(d.changes(y), [1.0, 2.0])
    np.testing.assert_array_equal(d.integrate(1.0, [1.0, 2.0]), [2.0, 4.0])
    n = RatioTransform("none")
    np.testing.assert_array_equal(n.changes(y), [2.0, 4.0])
    np.testing.assert_array_equal(n.integrate(1.0, [2.0, 4.0]), [2.0, 4.0])


def test_diff_accepts_negative_levels():
    t = RatioTransform("diff")
    y = np.array([-3.0, 1.5, -0.5, 0.0])
    np.testing.assert_array_equal(t.changes(y), [4.5, -2.0, 0.5])
    np.testing.assert_allclose(t.integrate(y[0], t.changes(y)), y[1:], rtol=1e-12)


# -- standardisation ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_standardize_round_trip_and_moments(macro, kind):
    t = RatioTransform(kind, drift_prior=0.0)  # the plain mean: standardised changes have mean 0
    for uid, y in macro.items():
        train = y[:150]
        t.fit_series(uid, train)
        r_train = t.changes(train)
        # the moments are those of the changes with outliers clipped (OUTLIER_MADS)
        z = t.standardize(uid, clip_outliers(r_train, np.zeros(len(r_train), dtype=np.int64), 1))
        assert abs(z.mean()) < 1e-10
        np.testing.assert_allclose(z.std(), 1.0, rtol=1e-10)
        r_all = t.changes(y)
        np.testing.assert_allclose(
            t.unstandardize(uid, t.standardize(uid, r_all)), r_all, rtol=1e-10, atol=1e-12
        )


def test_one_jump_does_not_set_the_drift_and_scale():
    """The clipped moments (drift_prior 0: the plain mean of the clipped changes)."""
    rng = np.random.default_rng(0)
    r = rng.normal(0.02, 0.05, 40)
    y = 100 * np.exp(np.cumsum(np.r_[0.0, r]))
    y[0] = y[1] / 1000  # a start-up value: the first change is log(1000) ~ 6.9
    t = RatioTransform("log_ratio", drift_prior=0.0)
    s = t.fit_series("a", y)
    assert abs(s.mu - 0.02) < 0.03 and s.sigma < 0.15  # the unclipped mean and std: 0.19, 1.08
    many = RatioTransform("log_ratio", drift_prior=0.0).fit_many(["a"], np.array([0, len(y)]), y)[0]
    assert (many.mu, many.sigma) == pytest.approx((s.mu, s.sigma))
    # mostly zero changes (MAD 0, e.g. intermittent demand): nothing is clipped
    sparse = np.array([1.0, 1.0, 1.0, 6.0, 6.0, 6.0, 6.0, 9.0])
    d = RatioTransform("diff", drift_prior=0.0).fit_series("b", sparse)
    assert d.mu == pytest.approx(np.mean(np.diff(sparse)))


def test_fit_series_hand_values():
    t = RatioTransform("diff", drift_prior=0.0)
    s = t.fit_series("a", np.array([10.0, 11.0, 13.0, 12.0]))  # changes 1, 2, -1
    assert s.mu == pytest.approx(2.0 / 3.0)
    assert s.sigma == pytest.approx(np.sqrt(((1 - 2 / 3) ** 2 + (2 - 2 / 3) ** 2 + (-1 - 2 / 3) ** 2) / 3))
    assert s.scale == s.sigma
    assert t.stats["a"] is s
    # "none" standardises levels, but its direction scale is the std of the level steps
    n = RatioTransform("none")
    s2 = n.fit_series("a", np.array([10.0, 11.0, 13.0, 12.0]))
    assert s2.mu == pytest.approx(12.0)  # mean of 11, 13, 12
    assert s2.scale == pytest.approx(np.std([1.0, 2.0, -1.0]))


def test_constant_series_standardises_to_zeros_not_nan():
    t = RatioTransform("diff")
    t.fit_series("flat", np.full(10, 5.0))
    z = t.standardize("flat", np.zeros(9))
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z, 0.0)


# -- persistence --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_json_state_round_trip_gives_identical_outputs(macro, kind):
    t = RatioTransform(kind, flat_band=0.3)
    rng = np.random.default_rng(0)
    for uid, y in macro.items():
        cov = rng.normal(size=(120, 2)) * [1.0, 10.0] + [0.0, 3.0]
        t.fit_series(uid, y[:120], cov)
    text = json.dumps(t.to_dict())
    back = RatioTransform.from_dict(json.loads(text))
    assert back.kind == kind and back.eps == t.eps and back.flat_band == 0.3
    assert back.stats == t.stats
    for uid, y in macro.items():
        r = t.changes(y)
        paths = np.stack([r[o : o + 4] for o in range(0, 150, 10)])
        last = y[np.arange(0, 150, 10)]
        z = t.standardize(uid, r)
        np.testing.assert_array_equal(back.standardize(uid, r), z)
        np.testing.assert_array_equal(back.unstandardize(uid, z), t.unstandardize(uid, z))
        np.testing.assert_array_equal(back.integrate(last, paths), t.integrate(last, paths))
        np.testing.assert_array_equal(back.direction(uid, last, paths), t.direction(uid, last, paths))
        cov = rng.normal(size=(5, 2))
        np.testing.assert_array_equal(
            back.standardize_covariates(uid, cov), t.standardize_covariates(uid, cov)
        )


# -- direction labels ---------------------------------------------------------------------------
def _with_scale(kind: str, scale: float, flat_band: float = 0.25) -> RatioTransform:
    return RatioTransform(kind, flat_band=flat_band, stats={"s": SeriesStats(mu=0.0, sigma=1.0, scale=scale)})


def test_direction_diff_hand_path():
    # scale 4 -> band = 0.25 * 4 * sqrt(h) = 1, 1.414, 1.732, 2.0, 2.236
    t = _with_scale("diff", 4.0)
    r = np.array([0.5, 1.0, 0.5, -4.5, 0.0])
    # cumulative change: 0.5 (flat), 1.5 > 1.414 (up), 2.0 > 1.732 (up), -2.5 < -2 (down),
    # -2.5 < -2.236 (down)
    np.testing.assert_array_equal(t.direction("s", 10.0, r), [1, 2, 2, 0, 0])
    # the band widens with sqrt(h): a cumulative change of 1.2 is up at h=1 but flat at h=2
    np.testing.assert_array_equal(t.direction("s", 0.0, [1.2, 0.0]), [2, 1])


def test_direction_scales_with_flat_band_and_batches():
    r = np.array([[0.3, 0.0], [-0.3, 0.0], [0.05, 0.0]])
    wide = _with_scale("diff", 1.0, flat_band=0.5)  # band 0.5, 0.707
    narrow = _with_scale("diff", 1.0, flat_band=0.1)  # band 0.1, 0.141
    np.testing.assert_array_equal(wide.direction("s", np.zeros(3), r), [[1, 1], [1, 1], [1, 1]])
    np.testing.assert_array_equal(narrow.direction("s", np.zeros(3), r), [[2, 2], [0, 0], [1, 1]])
    assert narrow.direction("s", np.zeros(3), r).dtype == np.int64


def test_direction_log_ratio_uses_cumulative_log_change():
    t = _with_scale("log_ratio", 0.04)  # band 0.01 * sqrt(h)
    last = 100.0
    levels = np.array([100.5, 102.0, 99.0])  # log changes from 100: .005, .0198, -.01005
    r = t.changes(np.concatenate([[last], levels]))
    # h=1 band .01 -> flat; h=2 band .01414 -> up; h=3 band .01732 -> flat (|-.01005| < band)
    np.testing.assert_array_equal(t.direction("s", last, r), [1, 2, 1])
    levels = np.array([99.0, 98.0, 97.0])  # -.01005, -.0202, -.0305
    r = t.changes(np.concatenate([[last], levels]))
    np.testing.assert_array_equal(t.direction("s", last, r), [0, 0, 0])


def test_direction_none_compares_levels_with_last():
    t = _with_scale("none", 2.0)  # band 0.5 * sqrt(h): .5, .707, .866
    # r holds the future levels themselves; change is r - last
    np.testing.assert_array_equal(t.direction("s", 10.0, [10.4, 10.8, 9.0]), [1, 2, 0])


# -- vectorised fitting -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_fit_many_equals_fit_series_on_ragged_series(macro, kind):
    """Series of 1, 2 (one change), 3 and many levels, with two covariates, fit in one call."""
    rng = np.random.default_rng(4)
    parts = [y[:n] for y, n in zip(macro.values(), (1, 2, 3, 17, 80, 203, 150, 5), strict=True)]
    covs = [rng.normal(2.0, 3.0, size=(len(y), 2)) for y in parts]
    uids = [f"u{i}" for i in range(len(parts))]
    offsets = np.concatenate([[0], np.cumsum([len(y) for y in parts])])
    many = RatioTransform(kind)
    got = many.fit_many(uids, offsets, np.concatenate(parts), np.concatenate(covs))
    one = RatioTransform(kind)
    for uid, y, cov, stats in zip(uids, parts, covs, got, strict=True):
        expected = one.fit_series(uid, y, cov)
        assert many.stats[uid] is stats
        np.testing.assert_allclose(
            [stats.mu, stats.sigma, stats.scale, *stats.cov_mu, *stats.cov_sigma],
            [expected.mu, expected.sigma, expected.scale, *expected.cov_mu, *expected.cov_sigma],
            rtol=1e-12,
            atol=1e-15,
            err_msg=f"{kind} {uid} ({len(y)} levels)",
        )


def test_fit_series_on_one_change_and_on_none():
    t = RatioTransform("diff")
    one = t.fit_series("one", np.array([3.0, 5.0]), np.array([[1.0], [4.0]]))
    # one change 2: mean 2, std 0 -> floored to 1; covariate mean 2.5, std 1.5
    assert (one.mu, one.sigma, one.scale) == (2.0, 1.0, 1.0)
    assert one.cov_mu == [2.5] and one.cov_sigma == [1.5]
    none = t.fit_series("none", np.array([3.0]))
    assert (none.mu, none.sigma, none.scale) == (0.0, 1.0, 1.0)
    levels = RatioTransform("none").fit_series("lv", np.array([3.0, 5.0]))
    assert (levels.mu, levels.sigma, levels.scale) == (5.0, 1.0, 1.0)
    many = RatioTransform("diff").fit_many(["one", "none"], np.array([0, 2, 3]), np.array([3.0, 5.0, 3.0]))
    assert [(s.mu, s.sigma, s.scale) for s in many] == [(2.0, 1.0, 1.0), (0.0, 1.0, 1.0)]


def test_labels_take_a_scale_per_path():
    t = _with_scale("diff", 4.0)
    r = np.array([[1.2, 0.0], [1.2, 0.0]])
    # scale 4 -> band 1 at h=1 (1.2 is up); scale 8 -> band 2 (1.2 is flat)
    np.testing.assert_array_equal(t.labels(np.array([4.0, 8.0]), np.zeros(2), r), [[2, 1], [1, 1]])
    np.testing.assert_array_equal(t.direction("s", 0.0, r[0]), t.labels(4.0, 0.0, r[0]))


def test_stat_arrays_follow_the_given_order():
    t = RatioTransform("diff", drift_prior=0.0)
    t.fit_series("a", np.array([1.0, 2.0, 4.0]), np.array([[0.0], [1.0], [2.0]]))
    t.fit_series("b", np.array([1.0, 1.0]), np.array([[5.0], [5.0]]))
    arrays = t.stat_arrays(["b", "a"])
    np.testing.assert_array_equal(arrays["mu"], [0.0, 1.5])
    np.testing.assert_array_equal(arrays["sigma"], [1.0, 0.5])
    np.testing.assert_array_equal(arrays["cov_mu"], [[5.0], [1.0]])
    assert arrays["cov_sigma"].shape == (2, 1)


# -- auto: one kind per series ------------------------------------------------------------------
def test_auto_picks_log_ratio_for_positive_series_and_diff_otherwise():
    t = RatioTransform("auto", drift_prior=0.0)
    t.fit_series("pos", np.array([1.0, 2.0, 4.0]))
    t.fit_series("zero", np.array([0.0, 2.0, 5.0]))
    assert (t.kind_of("pos"), t.kind_of("zero")) == ("log_ratio", "diff")
    assert t.stats["pos"].mu == pytest.approx(np.log(2.0), abs=1e-9)  # log(2/1), log(4/2)
    assert t.stats["zero"].mu == pytest.approx(2.5)  # differences 2 and 3
    # the choice survives the JSON round trip and a row-wise inverse uses each row's own kind
    back = RatioTransform.from_dict(json.loads(json.dumps(t.to_dict())))
    levels = back.integrate(
        np.array([4.0, 5.0]), np.array([[np.log(2.0)], [3.0]]), back.kinds(["pos", "zero"])
    )
    assert levels[:, 0] == pytest.approx([8.0, 8.0])


def test_auto_fit_many_equals_fit_series():
    y = np.array([1.0, 2.0, 4.0, 0.0, 2.0, 5.0, -1.0])
    offsets = np.array([0, 3, 7])
    many = RatioTransform("auto")
    many.fit_many(["a", "b"], offsets, y)
    one = RatioTransform("auto")
    one.fit_series("a", y[:3])
    one.fit_series("b", y[3:])
    for uid in ("a", "b"):
        assert many.stats[uid].kind == one.stats[uid].kind
        assert many.stats[uid].mu == pytest.approx(one.stats[uid].mu)
        assert many.stats[uid].sigma == pytest.approx(one.stats[uid].sigma)


def test_a_constant_series_is_forecast_flat():
    t = RatioTransform("auto")
    stats = t.fit_series("flat", np.full(20, 100.0))
    assert stats.constant
    # whatever the network says in standardised units, the change is the training mean (0)
    r = t.unstandardize("flat", np.array([1.5, -2.0, 3.0]))
    assert t.integrate(100.0, r, t.kind_of("flat")) == pytest.approx([100.0, 100.0, 100.0])


def test_drift_is_shrunk_towards_zero_by_the_prior():
    """A series of n noisy changes keeps n / (n + drift_prior) of its mean change; an exact
    (noise-free) drift and a level series' mean are kept; fit_many agrees with fit_series."""
    rng = np.random.default_rng(0)
    noisy = 10.0 + np.concatenate([[0.0], np.cumsum(0.5 + rng.normal(0.0, 1.0, 60))])
    ramp = np.arange(1.0, 42.0)
    plain, shrunk = RatioTransform("diff", drift_prior=0.0), RatioTransform("diff", drift_prior=100.0)
    mean = plain.fit_series("noisy", noisy).mu
    assert shrunk.fit_series("noisy", noisy).mu == pytest.approx(mean * 60 / 160, rel=1e-12)
    assert shrunk.fit_series("ramp", ramp).mu == pytest.approx(1.0)  # constant changes: exact
    assert RatioTransform("none").fit_series("lvl", noisy).mu == pytest.approx(noisy[1:].mean())
    many = RatioTransform("diff").fit_many(
        ["noisy", "ramp"], np.array([0, len(noisy), len(noisy) + len(ramp)]), np.concatenate([noisy, ramp])
    )
    assert [s.mu for s in many] == pytest.approx([mean * 60 / 160, 1.0], rel=1e-9)
    state = shrunk.to_dict()
    assert RatioTransform.from_dict(state).drift_prior == 100.0
    del state["drift_prior"]  # saved before the prior existed: it had the plain mean
    assert RatioTransform.from_dict(state).drift_prior == 0.0


def test_the_config_drift_prior_reaches_every_transform():
    """``data.drift_prior`` shapes the in-memory transform, the streamed store's settings and
    the transform an artifact saves (which fits series it has not seen at predict time)."""
    transforms = {}
    for prior in (0.0, 100.0):
        config = tiny_config(**{"data.drift_prior": prior})
        transform = next(iter(prepare_all(config, load_series(config)).values())).transform
        assert transform.drift_prior == prior
        assert RatioTransform.from_dict(transform.to_dict()).drift_prior == prior
        assert StoreSettings.from_config(config, ()).drift_prior == prior
        transforms[prior] = transform
    for uid, plain in transforms[0.0].stats.items():
        shrunk = transforms[100.0].stats[uid]
        assert abs(shrunk.mu) < abs(plain.mu) and shrunk.sigma == plain.sigma  # the macro series drift
