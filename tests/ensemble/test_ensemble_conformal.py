"""Split-conformal (CQR) calibration on synthetic series with known noise: pure numpy, fast."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from foretune import metrics as M
from foretune.ensemble.conformal import (
    POOL_BELOW,
    Calibration,
    apply_cqr,
    calibrate,
    conformal_quantile,
    interval_quantiles,
    level_name,
)

LEVELS = (0.5, 0.8, 0.9, 0.95)
H = 3


def synthetic(rng, n, scale, spread=0.5):
    """Windows of series with level ``scale``-sized noise growing with the step; the model's
    intervals assume ``spread`` times the true noise (under-covering when spread < 1)."""
    noise_sd = scale * np.sqrt(np.arange(1, H + 1))  # [H]
    centre = rng.normal(size=(n, 1)) * 10 * scale + 100 * scale
    y = centre + rng.normal(size=(n, H)) * noise_sd
    bounds = {}
    for level in LEVELS:
        z = norm.ppf((1 + level) / 2) * spread
        bounds[level] = (centre - z * noise_sd, centre + z * noise_sd)
    return bounds, y


def coverage(bounds, y):
    return {level: M.coverage(y, lo, hi) for level, (lo, hi) in bounds.items()}


def test_under_covering_intervals_reach_nominal_coverage_on_fresh_data():
    rng = np.random.default_rng(0)
    scale = np.ones(2000)
    bounds, y = synthetic(rng, 2000, 1.0, spread=0.5)
    before = coverage(bounds, y)
    assert before[0.9] < 0.65 and before[0.5] < 0.35  # spread 0.5: far too narrow
    calibration = calibrate(bounds, y, scale)
    fresh_bounds, fresh_y = synthetic(rng, 4000, 1.0, spread=0.5)
    after = coverage(calibration.apply(fresh_bounds, np.ones(4000)), fresh_y)
    for level in LEVELS:
        # binomial standard error at n=4000*H is under 0.005; allow ~3 of them plus the
        # calibration set's own sampling error
        assert after[level] == pytest.approx(level, abs=0.025), (level, after[level])
    report = calibration.report["90"]
    assert report["n"] == 2000 and report["before"] == pytest.approx(before[0.9])
    assert report["after"] >= 0.9 and report["width_after"] > report["width_before"]


def test_over_covering_intervals_are_narrowed():
    rng = np.random.default_rng(1)
    bounds, y = synthetic(rng, 2000, 1.0, spread=2.0)
    assert coverage(bounds, y)[0.8] > 0.98
    calibration = calibrate(bounds, y, np.ones(2000))
    assert (calibration.adjustments[0.8] < 0).all()
    fresh_bounds, fresh_y = synthetic(rng, 4000, 1.0, spread=2.0)
    after = coverage(calibration.apply(fresh_bounds, np.ones(4000)), fresh_y)
    assert after[0.8] == pytest.approx(0.8, abs=0.025)


def test_scaled_scores_transfer_to_series_of_another_magnitude():
    rng = np.random.default_rng(2)
    bounds, y = synthetic(rng, 2000, 1.0, spread=0.6)
    calibration = calibrate(bounds, y, np.ones(2000))
    big_bounds, big_y = synthetic(rng, 4000, 250.0, spread=0.6)
    after = coverage(calibration.apply(big_bounds, np.full(4000, 250.0)), big_y)
    assert after[0.9] == pytest.approx(0.9, abs=0.025)
    raw = calibrate(bounds, y, None)  # original units: does not transfer
    wrong = coverage(raw.apply(big_bounds, None), big_y)
    assert wrong[0.9] < 0.8


def test_conformal_rank_and_saturation():
    scores = np.arange(1.0, 11.0)[:, None]  # n = 10
    q, n, saturated = conformal_quantile(scores, alpha=0.2)  # ceil(11 * 0.8) = 9 -> 9th smallest
    assert q.tolist() == [9.0] and n.tolist() == [10] and not saturated.any()
    q, _, saturated = conformal_quantile(scores, alpha=0.05)  # ceil(11 * 0.95) = 11 > 10
    assert q.tolist() == [10.0] and saturated.all()
    with_nan = np.array([[1.0], [np.nan], [3.0]])
    q, n, _ = conformal_quantile(with_nan, alpha=0.5)  # n = 2, ceil(3 * 0.5) = 2
    assert q.tolist() == [3.0] and n.tolist() == [2]


def test_intervals_never_cross_and_stay_nested():
    lo, hi = np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]])
    narrow_lo, narrow_hi = apply_cqr(lo, hi, np.array([-2.0, -0.25]))
    assert (narrow_lo <= narrow_hi).all() and narrow_lo[0, 0] == narrow_hi[0, 0] == 0.5
    calibration = Calibration({0.5: np.array([1.0, 1.0]), 0.9: np.array([-0.4, -0.4])})
    bounds = {0.5: (lo + 0.3, hi - 0.3), 0.9: (lo, hi)}
    out = calibration.apply(bounds, np.ones(1))
    assert (out[0.9][0] <= out[0.5][0]).all() and (out[0.9][1] >= out[0.5][1]).all()


def test_calibration_round_trips_through_json():
    import json

    calibration = Calibration({0.9: np.array([0.1, 0.2]), 0.5: np.array([-0.1, 0.0])})
    again = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert again.levels == [0.5, 0.9] and again.scaled
    np.testing.assert_array_equal(again.adjustments[0.9], [0.1, 0.2])
    assert interval_quantiles([0.9, 0.5]) == [0.05, 0.25, 0.75, 0.95]


def test_windows_without_a_defined_scale_are_left_out_and_keep_their_raw_band():
    rng = np.random.default_rng(3)
    bounds, y = synthetic(rng, 400, 1.0, spread=0.5)
    scale = np.ones(400)
    flat = np.arange(400) < 50  # say, constant series: their MASE scale is undefined (NaN)
    y[flat] += 1e6  # far outside: scored in the units of y they would swamp the others
    scale[flat] = np.nan
    calibration = calibrate(bounds, y, scale)
    clean = calibrate({k: (lo[~flat], hi[~flat]) for k, (lo, hi) in bounds.items()}, y[~flat], scale[~flat])
    for level in LEVELS:
        np.testing.assert_array_equal(calibration.adjustments[level], clean.adjustments[level])
        assert calibration.report[level_name(level)]["n"] == 350
    out = calibration.apply(bounds, scale)
    for level, (lo, hi) in bounds.items():
        assert np.isfinite(out[level][0]).all() and np.isfinite(out[level][1]).all()
        np.testing.assert_array_equal(out[level][0][flat], lo[flat])
        np.testing.assert_array_equal(out[level][1][flat], hi[flat])
        assert (out[level][1][~flat] - out[level][0][~flat] > hi[~flat] - lo[~flat]).all()
    zero = calibration.apply({0.9: (np.full((2, H), 7.0), np.full((2, H), 7.0))}, np.array([0.0, np.nan]))
    assert (zero[0.9][0] == 7.0).all() and (zero[0.9][1] == 7.0).all()  # a zero-width band stays


def test_few_windows_pool_the_steps_and_still_reach_nominal_coverage():
    """8 windows per step (one short panel) are below POOL_BELOW: the steps share one quantile of
    width-normalised scores. Averaged over many independent calibrations, coverage on fresh data
    from the same distribution is nominal (conformal coverage holds on average over the
    calibration draw); per step alone, 8 windows could not give a 90% bound at all."""
    assert 8 < POOL_BELOW
    rng = np.random.default_rng(7)
    after = {level: [] for level in LEVELS}
    for _ in range(300):
        bounds, y = synthetic(rng, 8, 1.0, spread=0.5)
        calibration = calibrate(bounds, y, np.ones(8))
        assert not calibration.report["90"]["saturated"] and calibration.report["90"]["n"] == 8
        fresh_bounds, fresh_y = synthetic(rng, 50, 1.0, spread=0.5)
        for level, pair in calibration.apply(fresh_bounds, np.ones(50)).items():
            after[level].append(M.coverage(fresh_y, *pair))
    for level in LEVELS:
        assert np.mean(after[level]) == pytest.approx(level, abs=0.03), (level, np.mean(after[level]))
    # the pooled adjustment keeps each step's own width: it grows with the raw intervals
    adjustment = calibration.adjustments[0.9]
    assert np.all(np.diff(adjustment) > 0)


def test_few_windows_widen_but_never_narrow():
    rng = np.random.default_rng(8)
    bounds, y = synthetic(rng, 8, 1.0, spread=2.0)  # far too wide: 8 windows would narrow them
    calibration = calibrate(bounds, y, np.ones(8))
    for level in LEVELS:
        np.testing.assert_array_equal(calibration.adjustments[level], 0.0)
    many_bounds, many_y = synthetic(rng, 2 * POOL_BELOW, 1.0, spread=2.0)  # enough to narrow
    assert (calibrate(many_bounds, many_y, np.ones(2 * POOL_BELOW)).adjustments[0.9] < 0).all()


@settings(max_examples=200, deadline=None)
@given(
    centre=st.floats(-100, 100),
    widths=st.lists(st.floats(0.01, 10), min_size=4, max_size=4),
    adjustments=st.lists(st.floats(-50, 20), min_size=4, max_size=4),
)
def test_calibrated_levels_stay_strictly_ordered_where_the_raw_ones_are(centre, widths, adjustments):
    """Whatever each level's adjustment, a wider level's bounds lie strictly outside a narrower
    one's wherever the raw (sample) bounds do: no 95% band collapses onto the 90% one."""
    levels = [0.5, 0.8, 0.9, 0.95]
    spans = np.cumsum(widths)  # raw half-widths, strictly increasing with the level
    raw = {
        lvl: (np.full((3, 2), centre - w), np.full((3, 2), centre + w))
        for lvl, w in zip(levels, spans, strict=True)
    }
    calibration = Calibration(
        {lvl: np.full(2, a) for lvl, a in zip(levels, adjustments, strict=True)}, scaled=False
    )
    out = calibration.apply(raw, None)
    for inner, outer in zip(levels, levels[1:], strict=False):
        assert (out[outer][0] < out[inner][0]).all() and (out[outer][1] > out[inner][1]).all()
    same = {lvl: (np.zeros((1, 2)), np.zeros((1, 2))) for lvl in levels}  # no spread: may coincide
    flat = calibration.apply(same, None)
    assert all((flat[o][0] <= flat[i][0]).all() for i, o in zip(levels, levels[1:], strict=False))
