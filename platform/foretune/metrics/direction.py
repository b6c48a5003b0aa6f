"""Direction metrics for up/flat/down probabilities: accuracy, log-loss and the climatological reference."""

from __future__ import annotations

import numpy as np

from ._common import ArrayLike, mean


def labels_probs(labels: ArrayLike, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast labels ``[...]`` against probs ``[..., K]``; return int labels, probs, skip mask."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 0:
        raise ValueError("probs must have the classes on a last axis")
    lab = np.asarray(labels, dtype=np.float64)
    shape = np.broadcast_shapes(lab.shape, p.shape[:-1])
    lab = np.broadcast_to(lab, shape)
    p = np.broadcast_to(p, (*shape, p.shape[-1]))
    skip = np.isnan(lab) | np.isnan(p).any(axis=-1)
    k = p.shape[-1]
    ok = lab[~skip]
    if np.any((ok != np.round(ok)) | (ok < 0) | (ok >= k)):
        raise ValueError(f"labels must be integers in 0..{k - 1}")
    return np.where(skip, 0, lab).astype(np.int64), p, skip


def direction_accuracy(labels: ArrayLike, probs: ArrayLike) -> float:
    """Fraction of points whose most probable class (``argmax`` of ``probs``) equals the label."""
    return mean(direction_hits(labels, probs))


def direction_hits(labels: ArrayLike, probs: ArrayLike) -> np.ndarray:
    """Per point, 1.0 where the most probable class is the label, else 0.0; NaN where skipped
    (``direction_accuracy`` is their mean)."""
    lab, p, skip = labels_probs(labels, probs)
    hit = (np.argmax(p, axis=-1) == lab).astype(np.float64)
    hit[skip] = np.nan
    return hit


def log_loss(labels: ArrayLike, probs: ArrayLike, eps: float = 1e-15) -> float:
    """Mean negative log-probability of the true class; probabilities are clipped to [eps, 1].

    Rows of ``probs`` must sum to 1 (within 1e-3); they are not renormalised.
    """
    return mean(log_loss_points(labels, probs, eps))


def log_loss_points(labels: ArrayLike, probs: ArrayLike, eps: float = 1e-15) -> np.ndarray:
    lab, p, skip = labels_probs(labels, probs)
    sums = p.sum(axis=-1)
    if np.any(np.abs(sums[~skip] - 1.0) > 1e-3):
        raise ValueError("probabilities must sum to 1 over the last axis")
    true_p = np.take_along_axis(p, lab[..., None], axis=-1)[..., 0]
    loss = -np.log(np.clip(true_p, eps, 1.0))
    loss[skip] = np.nan
    return loss


def climatology(labels: ArrayLike, classes: int = 3) -> np.ndarray:
    """The climatological class frequencies ``[classes]`` of ``labels`` (NaN skipped): the
    constant direction forecast that a model's probabilities must beat on the same points."""
    lab = np.asarray(labels, dtype=np.float64)
    lab = lab[~np.isnan(lab)].astype(np.int64)
    if not len(lab):
        return np.full(classes, np.nan)
    return np.bincount(lab, minlength=classes)[:classes] / len(lab)
