"""Learning-rate schedules: one formula (``lr_factor``) and the scheduler ``fit`` steps.

``schedule`` (``TrainSpec.schedule`` / ``train.schedule``):

- ``none``: the learning rate stays at ``learning_rate``.
- ``plateau``: reduce-on-plateau, stepped once per epoch on the validation loss. After
  ``plateau_patience`` consecutive epochs without improvement (the same test as early stopping:
  ``val_loss < best - 1e-7``) the rate is multiplied by ``plateau_factor``, never below
  ``min_lr_ratio * learning_rate``. PyTorch's ``ReduceLROnPlateau`` cuts after *more than*
  ``patience`` bad epochs, so it gets ``patience-1``.
- ``cosine``: cosine annealing over every optimiser update of the run (``max_epochs`` epochs),
  ``lr(t) = lr_min + (lr_max - lr_min) (1 + cos(pi t / T)) / 2`` with ``lr_min = min_lr_ratio *
  learning_rate``.
- ``warmup_cosine``: linear warmup over the first ``warmup_epochs`` (converted to optimiser
  updates, so a fraction of an epoch works), ``lr = learning_rate * (t + 1) / W``, then cosine
  annealing over the remaining updates.
- ``inverse_sqrt``: the Transformer schedule ``d^-0.5 min(t^-0.5, t W^-1.5)`` normalised so that
  its peak (at ``t = W``) is ``learning_rate``: ``lr = learning_rate * min(t / W, sqrt(W / t))``
  with ``t`` counted from 1. Making the peak an explicit knob (instead of ``d_model^-0.5``) lets
  the searched ``learning_rate`` mean the same thing for every schedule and architecture.

Per-update schedules are stepped after every optimiser update (not every micro-batch when
accumulating gradients), so warmup is smooth even when it lasts less than an epoch.
"""

from __future__ import annotations

import math
from typing import Any

import torch

SCHEDULES = ("none", "plateau", "cosine", "warmup_cosine", "inverse_sqrt")
#: The improvement threshold shared by reduce-on-plateau and early stopping.
MIN_DELTA = 1e-7


def lr_factor(
    schedule: str, step: int, total_steps: int, warmup_steps: int = 0, min_ratio: float = 0.0
) -> float:
    """Multiplier of the base learning rate for optimiser update number ``step`` (0-based)."""
    if schedule in ("none", "plateau"):
        return 1.0
    if schedule == "inverse_sqrt":
        t, w = step + 1, max(warmup_steps, 1)
        return max(min_ratio, min(t / w, math.sqrt(w / t)))
    if schedule not in ("cosine", "warmup_cosine"):
        raise ValueError(f"unknown schedule {schedule!r}; choose from {SCHEDULES}")
    w = warmup_steps if schedule == "warmup_cosine" else 0
    if step < w:
        return (step + 1) / w
    progress = min((step - w) / max(total_steps - w, 1), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class LRFactor:
    """``lr_factor`` bound to a run's settings; an object (not a closure) so that ``LambdaLR``
    saves its settings in ``state_dict`` and a resumed run checks out the same schedule."""

    def __init__(self, schedule: str, total_steps: int, warmup_steps: int, min_ratio: float):
        self.schedule = schedule
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.min_ratio = min_ratio

    def __call__(self, step: int) -> float:
        return lr_factor(self.schedule, step, self.total_steps, self.warmup_steps, self.min_ratio)


def build_scheduler(
    spec: Any, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> tuple[Any | None, bool]:
    """``(scheduler, per_update)`` for ``spec``; ``per_update`` False means step once per epoch
    with the validation loss (plateau). ``None`` for ``schedule == "none"``."""
    if spec.schedule == "none":
        return None, False
    if spec.schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=spec.plateau_factor,
            patience=max(spec.plateau_patience - 1, 0),
            threshold=MIN_DELTA,
            threshold_mode="abs",
            min_lr=spec.learning_rate * spec.min_lr_ratio,
        )
        return scheduler, False
    factor = LRFactor(
        spec.schedule,
        total_steps=spec.max_epochs * steps_per_epoch,
        warmup_steps=round(spec.warmup_epochs * steps_per_epoch),
        min_ratio=spec.min_lr_ratio,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor), True
