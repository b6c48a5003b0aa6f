"""Greedy ensemble selection with replacement (Caruana et al., 2004), as pure numpy functions.

    weights = greedy_selection(predictions [M, N, H], target [N, H], metric_fn, rounds=25)
    result = greedy_search(...)   # weights, integer counts, score trajectory, best round

Each round adds (with replacement) the member whose addition scores best; a member's weight is
the share of additions it got. ``combine`` turns counts into the combined forecast: the default
is the count-weighted mean (the mixture mean); ``pooled_samples`` pools sample forecasts for a
distributional score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]
Combine = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class GreedyResult:
    """Weights ``[M]`` (sum 1), integer ``counts`` and the best score after each round."""

    weights: np.ndarray
    counts: np.ndarray
    trajectory: list[float] = field(default_factory=list)
    best_round: int = 0


def weighted_mean(predictions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Count-weighted mean of ``predictions [M, ...]`` over the members axis."""
    used = np.flatnonzero(counts)  # members not (yet) chosen do not enter, not even as 0 * NaN
    return np.tensordot(counts[used] / counts.sum(), predictions[used], axes=1)


def pooled_samples(predictions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pool sample forecasts ``predictions [M, S, ...]``: member m's S draws ``counts[m]`` times.

    The result ``[sum(counts) * S, ...]`` is an unweighted sample of the count-weighted mixture.
    """
    parts = [np.broadcast_to(p, (c, *p.shape)) for p, c in zip(predictions, counts, strict=True) if c > 0]
    return np.concatenate([p.reshape((-1, *p.shape[2:])) for p in parts])


def greedy_search(
    predictions: np.ndarray,
    target: np.ndarray,
    metric_fn: Metric,
    rounds: int = 25,
    combine: Combine | None = None,
) -> GreedyResult:
    """Greedy selection with replacement; see the module docstring. Lower scores are better.

    Returns the weights of the best round seen: when later rounds only make the score worse,
    stopping at the best round is what one would choose with hindsight on the same windows, and
    it never scores worse than the best single member (round 1). Ties go to the lower index
    (callers pass members best first), so of identical members the first gets all the weight.
    A candidate whose score is NaN is never chosen.
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    n_members = predictions.shape[0] if predictions.ndim else 0
    if n_members == 0:
        raise ValueError("greedy selection needs at least one member")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    combine = combine or weighted_mean
    counts = np.zeros(n_members, dtype=np.int64)
    best_counts, best_score, best_round = None, np.inf, 0
    trajectory: list[float] = []
    for round_index in range(rounds):
        scores = np.full(n_members, np.inf)
        for m in range(n_members):
            counts[m] += 1
            score = float(metric_fn(combine(predictions, counts), target))
            counts[m] -= 1
            if np.isfinite(score):
                scores[m] = score
        choice = int(np.argmin(scores))  # first minimum: ties to the lower index
        if not np.isfinite(scores[choice]):
            break
        counts[choice] += 1
        trajectory.append(float(scores[choice]))
        if best_counts is None or scores[choice] < best_score - 1e-12 * max(1.0, abs(best_score)):
            best_score, best_counts, best_round = scores[choice], counts.copy(), round_index + 1
    if best_counts is None:
        raise ValueError("every member scores NaN or inf on the selection windows")
    return GreedyResult(best_counts / best_counts.sum(), best_counts, trajectory, best_round)


def greedy_selection(
    predictions: np.ndarray,
    target: np.ndarray,
    metric_fn: Metric,
    rounds: int = 25,
    combine: Combine | None = None,
) -> np.ndarray:
    """Weights ``[M]`` of greedy ensemble selection of ``predictions [M, N, H]`` for ``target``.

    ``metric_fn(combined [N, H], target [N, H]) -> float`` (lower is better). Pure numpy; see
    ``greedy_search`` for its tie and stopping rules.
    """
    return greedy_search(predictions, target, metric_fn, rounds, combine).weights
