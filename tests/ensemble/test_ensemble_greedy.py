"""Greedy ensemble selection (Caruana et al., 2004) on synthetic members: pure numpy, fast."""

from __future__ import annotations

import numpy as np
import pytest

from foretune import metrics as M
from foretune.ensemble.greedy import greedy_search, greedy_selection, pooled_samples


def mae(pred, y):
    return M.mae(y, pred)


@pytest.fixture
def target():
    return np.random.default_rng(0).normal(size=(200, 4)).cumsum(axis=1)


def test_picks_the_better_of_two_members(target):
    rng = np.random.default_rng(1)
    good = target + rng.normal(scale=0.1, size=target.shape)
    bad = target + rng.normal(scale=1.0, size=target.shape)
    weights = greedy_selection(np.stack([bad, good]), target, mae, rounds=10)
    assert weights.shape == (2,) and weights.sum() == pytest.approx(1.0)
    assert weights[1] == pytest.approx(1.0)


def test_opposite_biases_average_beats_the_best_single_member(target):
    rng = np.random.default_rng(2)
    high = target + 1.0 + rng.normal(scale=0.05, size=target.shape)
    low = target - 0.8 + rng.normal(scale=0.05, size=target.shape)
    predictions = np.stack([high, low])
    result = greedy_search(predictions, target, mae, rounds=20)
    single = min(mae(p, target) for p in predictions)
    combined = mae(np.tensordot(result.weights, predictions, axes=1), target)
    assert combined < 0.2 * single
    # the optimum puts weight 0.8/1.8 on the high member; 20 rounds get within a round of it
    assert result.weights[0] == pytest.approx(0.8 / 1.8, abs=0.06)
    assert result.trajectory[0] == pytest.approx(single)
    assert min(result.trajectory) == pytest.approx(combined)


def test_never_worse_than_best_single_and_stops_at_best_round(target):
    rng = np.random.default_rng(3)
    predictions = np.stack([target + rng.normal(scale=s, size=target.shape) for s in (0.3, 2, 3)])
    result = greedy_search(predictions, target, mae, rounds=15)
    single = min(mae(p, target) for p in predictions)
    combined = mae(np.tensordot(result.weights, predictions, axes=1), target)
    assert combined <= single + 1e-12
    assert result.counts.sum() == result.best_round


def test_ties_go_to_the_first_member_and_nan_members_are_skipped(target):
    twin = np.stack([target + 0.5, target + 0.5])
    assert greedy_selection(twin, target, mae, rounds=5).tolist() == [1.0, 0.0]
    broken = np.stack([np.full_like(target, np.nan), target + 0.5])
    assert greedy_selection(broken, target, mae, rounds=5).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="NaN"):
        greedy_selection(np.full((2, *target.shape), np.nan), target, mae)
    with pytest.raises(ValueError, match="rounds"):
        greedy_selection(twin, target, mae, rounds=0)


def test_crps_with_pooled_samples_prefers_the_mixture_of_overconfident_members(target):
    rng = np.random.default_rng(4)
    # each member: 20 tight draws around a biased centre -> its own CRPS is poor
    high = target + 1.0 + rng.normal(scale=0.05, size=(20, *target.shape))
    low = target - 1.0 + rng.normal(scale=0.05, size=(20, *target.shape))
    predictions = np.stack([high, low])  # [M, S, N, H]

    def crps(samples, y):
        return M.crps_from_samples(y, samples)

    weights = greedy_selection(predictions, target, crps, rounds=10, combine=pooled_samples)
    assert weights == pytest.approx([0.5, 0.5])
    pooled = pooled_samples(predictions, np.array([1, 1]))
    assert pooled.shape == (40, *target.shape)
    assert crps(pooled, target) < min(crps(p, target) for p in predictions)
