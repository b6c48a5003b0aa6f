"""RatioTransform: exact inversion, standardisation, JSON state and direction labels."""

import json

import numpy as np
import pandas as pd
import pytest

from foretune.data import RatioTransform, SeriesStats, builtin_dataset_path

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
    t = RatioTransform(kind)
    for uid, y in macro.items():
        train = y[:150]
        t.fit_series(uid, train)
        r_train = t.changes(train)
        z = t.standardize(uid, r_train)
        assert abs(z.mean()) < 1e-10
        np.testing.assert_allclose(z.std(), 1.0, rtol=1e-10)
        r_all = t.changes(y)
        np.testing.assert_allclose(
            t.unstandardize(uid, t.standardize(uid, r_all)), r_all, rtol=1e-10, atol=1e-12
        )


def test_fit_series_hand_values():
    t = RatioTransform("diff")
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
