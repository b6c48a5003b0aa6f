"""Window scores: levels from standardised changes (row-wise inverse), whole-array and batched metrics."""

from __future__ import annotations

import numpy as np
import pytest

from foretune import metrics as M
from foretune.data.transform import RatioTransform, RowTransform, SeriesStats
from foretune.metrics import windows as scoring


@pytest.fixture
def windows():
    """12 windows of 2 series, horizon 3: predicted changes, last levels, futures, scales."""
    rng = np.random.default_rng(0)
    transform = RatioTransform(
        "log_ratio", stats={"a": SeriesStats(0.01, 0.05, 0.05), "b": SeriesStats(-0.02, 0.1, 0.1)}
    )
    series = np.array([0, 1] * 6)
    z = rng.standard_normal((12, 3)).astype(np.float32)
    last = rng.uniform(50, 150, 12)
    future = last[:, None] * np.exp(np.cumsum(rng.normal(0, 0.05, (12, 3)), axis=1))
    future[3, 1] = np.nan  # a missing actual is skipped, as in the metrics
    scale = np.array([2.0, np.nan])[series]  # series b's MASE scale is undefined
    return transform, ["a", "b"], series, z, last, future, scale


def to_levels(transform, series_ids, series, last, z):
    """Levels of change paths ``z`` of windows of ``series``, as ``train.predict.to_levels``."""
    rows = RowTransform(transform, np.asarray(series_ids, dtype=object)[series])
    return rows.levels(last, rows.changes(z))


def test_rowwise_levels_equal_the_per_series_inverse(windows):
    transform, ids, series, z, last, _, _ = windows
    levels = to_levels(transform, ids, series, last, z)
    mu = np.array([transform.stats[ids[i]].mu for i in series])
    sigma = np.array([transform.stats[ids[i]].sigma for i in series])
    np.testing.assert_array_equal(transform.integrate(last, z * sigma[:, None] + mu[:, None]), levels)
    first = transform.integrate(last[0], transform.unstandardize("a", z[0]))
    np.testing.assert_array_equal(levels[0], first)


def _to_levels_per_series(transform, series_ids, series, last, z):
    """The former implementation: a Python loop over the series present."""
    out = np.empty_like(z, dtype=np.float64)
    for index in np.unique(series):
        rows = series == index
        uid = series_ids[index]
        r = transform.unstandardize(uid, z[rows])
        out[rows] = transform.integrate(last[rows], r, transform.kind_of(uid))
    return out


def test_vectorised_levels_equal_the_per_series_loop_on_random_data():
    rng = np.random.default_rng(1)
    kinds = ["log_ratio", "diff", "log_ratio", "diff", "log_ratio", "diff", "log_ratio"]
    stats = {
        f"s{i}": SeriesStats(rng.normal(0, 0.02), rng.uniform(0.01, 0.2), 0.1, kind=k, constant=i == 3)
        for i, k in enumerate(kinds)
    }
    transform = RatioTransform("auto", stats=stats)
    ids = list(stats)[::-1]  # series indices need not follow the transform's order
    series = rng.integers(0, len(ids) - 1, 300)  # the last series has no window
    z = rng.standard_normal((300, 5)).astype(np.float32)
    last = rng.uniform(1, 100, 300)
    expected = _to_levels_per_series(transform, ids, series, last, z)
    np.testing.assert_allclose(to_levels(transform, ids, series, last, z), expected, rtol=1e-12)


def test_score_levels_are_the_metrics(windows):
    transform, ids, series, z, last, future, scale = windows
    levels = to_levels(transform, ids, series, last, z)
    scores = scoring.score_levels(future, levels, scale)
    assert scores["mae"] == M.mae(future, levels)
    assert scores["rmse"] == M.rmse(future, levels)
    assert scores["smape"] == M.smape(future, levels)
    a = series == 0  # series b's points drop out of MASE: its scale is undefined
    assert scores["mase"] == pytest.approx(M.mae(future[a] / 2.0, levels[a] / 2.0))


def test_batched_sums_give_the_whole_array_scores(windows):
    transform, ids, series, z, last, future, scale = windows
    levels = to_levels(transform, ids, series, last, z)
    whole = scoring.score_levels(future, levels, scale)
    sums = scoring.ScoreSums()
    for part in np.array_split(np.arange(12), 5):  # uneven batches
        sums.add(future[part], levels[part], scale[part])
    assert sums.means() == pytest.approx(whole, rel=1e-12)
    empty = scoring.ScoreSums().means()
    assert all(np.isnan(v) for v in empty.values()) and set(empty) == set(scoring.NAMES)
