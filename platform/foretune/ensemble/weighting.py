"""The build's weights: score the candidates on the validation windows and weigh them.

    members, selection = weigh(candidates, val_draws, windows, config.ensemble)   # kept, report

``ensemble.weighting``: ``greedy`` (greedy ensemble selection with replacement, ``greedy``),
``inverse_error`` (weights proportional to 1 / a member's score) or ``mean`` (equal weights);
scores by ``ensemble.metric``. Only members with a positive weight are kept, their weights
normalised; the selection report lists every candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from foretune import metrics as M
from foretune.config import EnsembleConfig
from foretune.data import WindowSet
from foretune.errors import EnsembleError

from .draws import Draws
from .greedy import greedy_search, pooled_samples
from .member import Member
from .mixture import pool, resample
from .windows import BuildWindows

#: Draws per member on the validation windows, which only weigh the candidates: their MC mean
#: (``mase``, ``mae``, ``rmse``) or, under ``crps``, the paths the greedy search pools. Fewer than
#: the served ``ensemble.samples`` keeps the selection cheap; the test windows, which calibrate
#: and score, are drawn in full for the kept members only.
SELECTION_SAMPLES = 20

Score = Callable[[np.ndarray, np.ndarray], float]


def selection_samples(settings: EnsembleConfig) -> int:
    """Draws per member on the validation windows: ``SELECTION_SAMPLES`` at most."""
    return min(settings.samples, SELECTION_SAMPLES)


def inverse_error_weights(losses: np.ndarray) -> np.ndarray:
    """Weights proportional to ``1 / loss``, summing to 1."""
    inv = 1.0 / np.maximum(np.asarray(losses, dtype=float), 1e-12)
    return inv / inv.sum()


def weigh(
    members: list[Member],
    val_draws: list[Draws],
    windows: BuildWindows,
    settings: EnsembleConfig,
) -> tuple[list[Member], dict[str, Any]]:
    """Weigh the candidates on the validation windows; keep those with a positive weight.

    Each validation window is an out-of-sample forecast origin (no trial trained on it, though
    the sweep used its loss to stop training and rank trials). Returns the kept members (weights
    normalised) and the selection report, which lists every candidate.
    """
    weights, selection = _selection_weights(members, val_draws, windows.val, windows.scale, settings)
    selection["candidates"] = [
        {**m.info, "architecture": m.architecture, "window": m.window, "weight": float(w)}
        for m, w in zip(members, weights, strict=True)
    ]
    keep = [i for i, w in enumerate(weights) if w > 0]
    kept = [members[i] for i in keep]
    for member, i in zip(kept, keep, strict=True):
        member.weight = float(weights[i] / sum(weights[j] for j in keep))
    return kept, selection


def _selection_weights(
    members: list[Member],
    val_draws: list[Draws],
    val: WindowSet,
    scale: np.ndarray,
    settings: EnsembleConfig,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Member weights on the validation windows by ``settings.weighting``, and the report.

    ``greedy`` weighs the members' MC-mean forecasts (the mixture mean is the weighted mean of
    the members' means, so this optimises exactly the served point forecast). Scores by
    ``settings.metric``: ``mae``/``rmse`` in original units, ``mase`` and ``crps`` divided by each
    series' MASE scale, so series of any magnitude count alike. Under ``crps`` the greedy step
    pools the members' paths.
    """
    metric = settings.metric
    predictions, target, combine = _scaled_predictions(val_draws, val, scale, metric)
    score = _METRICS[metric]
    member_scores, usable = _member_scores(members, predictions, target, score, metric)
    selection: dict[str, Any] = {"weighting": settings.weighting, "metric": metric, "windows": int(len(val))}
    weights = np.zeros(len(members))
    weights[usable], greedy = _usable_weights(
        settings, predictions[usable], target, score, combine, member_scores[usable]
    )
    if greedy:
        counts = np.zeros(len(members), dtype=np.int64)
        counts[usable] = greedy["counts"]
        selection.update(greedy, counts=counts.tolist())
    combined = _combined(predictions[usable], weights[usable], combine)
    selection["ensemble_score"] = float(score(combined, target))
    selection["best_single_score"] = float(member_scores.min())
    return weights, selection


def _scaled_predictions(
    val_draws: list[Draws], val: WindowSet, scale: np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray, Callable | None]:
    """The members' predictions and the target, divided by each series' MASE scale under
    ``mase``/``crps``, and how a combination pools them (None: a weighted mean).

    Under ``crps``: paths ``[M, S, N, H]``, a combination pools the members' paths; otherwise
    MC means ``[M, N, H]``, a combination is their weighted mean (the mixture mean)."""
    row_scale = scale[val.series][:, None] if metric in ("mase", "crps") else 1.0
    target = val.future / row_scale
    if metric == "crps":
        predictions = np.stack([d.levels[:SELECTION_SAMPLES] for d in val_draws]) / row_scale
        return predictions, target, pooled_samples
    predictions = np.stack([d.levels.mean(axis=0) for d in val_draws]) / row_scale
    return predictions, target, None


def _member_scores(
    members: list[Member], predictions: np.ndarray, target: np.ndarray, score: Score, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each member's score (infinite where its forecasts are not finite), recorded in its
    ``info`` as ``val_<metric>``, and the indices of the usable (finite) members."""
    finite = np.array([np.isfinite(p).all() for p in predictions])
    if not finite.any():
        raise EnsembleError("every candidate's validation forecasts are NaN or infinite")
    member_scores = np.array(
        [score(p, target) if ok else np.inf for p, ok in zip(predictions, finite, strict=True)]
    )
    for member, value in zip(members, member_scores, strict=True):
        member.info[f"val_{metric}"] = float(value)
    return member_scores, np.flatnonzero(finite)


def _usable_weights(
    settings: EnsembleConfig,
    predictions: np.ndarray,
    target: np.ndarray,
    score: Score,
    combine: Callable | None,
    member_scores: np.ndarray,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The usable members' weights by ``settings.weighting``, and the greedy search's report
    (rounds, best round, counts per usable member, trajectory; empty for the other ways)."""
    if settings.weighting == "greedy":
        result = greedy_search(predictions, target, score, settings.greedy_rounds, combine)
        report = {
            "rounds": settings.greedy_rounds,
            "best_round": result.best_round,
            "counts": result.counts,
            "trajectory": result.trajectory,
        }
        return result.weights, report
    if settings.weighting == "inverse_error":
        return inverse_error_weights(member_scores), {}
    return np.full(len(predictions), 1.0 / len(predictions)), {}


def _combined(predictions: np.ndarray, weights: np.ndarray, combine: Callable | None) -> np.ndarray:
    """The weighted combination the ensemble serves: the weighted mean, or pooled paths resampled."""
    if combine is None:
        return np.tensordot(weights, predictions, axes=1)
    pooled, path_weights = pool(list(predictions), weights)
    return resample(pooled, path_weights, len(predictions) * SELECTION_SAMPLES)


def _crps(samples: np.ndarray, y: np.ndarray) -> float:
    return M.crps_from_samples(y, samples)


#: metric name -> score(prediction, target), lower is better (targets pre-scaled for mase/crps)
_METRICS: dict[str, Score] = {
    "mae": lambda pred, y: M.mae(y, pred),
    "mase": lambda pred, y: M.mae(y, pred),
    "rmse": lambda pred, y: M.rmse(y, pred),
    "crps": _crps,
}
