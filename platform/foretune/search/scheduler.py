"""The trial scheduler (when to stop a trial) and the epochs at which it may stop one.

``build_scheduler(config)`` is ASHA on the per-epoch validation loss (``search.scheduler: asha``)
or FIFO. ASHA decides at its rungs: a trial's first report at or past each milestone of
``grace_period * reduction_factor**k`` reports (one report per epoch, so epochs) is compared with
the other trials' at that rung. ``rung_epochs(config)`` names those epoch counts, so a trial can
attach its best weights to the reports where it may be stopped (it then stays an ensemble
candidate) and to no others.
"""

from __future__ import annotations

import math

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from foretune.config import ExperimentConfig

METRIC, MODE = "val_loss", "min"


def _max_t(config: ExperimentConfig) -> int:
    return config.train.max_epochs + 1  # the final report comes after the last epoch's


def _grace(config: ExperimentConfig) -> int:
    """``search.grace_period``, at most ``max_t``: a short run (``train.max_epochs`` below the
    grace period) is simply never stopped early instead of failing inside Ray."""
    return min(config.search.grace_period, _max_t(config))


def build_scheduler(config: ExperimentConfig) -> TrialScheduler:
    """ASHA over ``training_iteration`` (= epochs done) or FIFO, as ``search.scheduler`` says."""
    search = config.search
    if search.scheduler != "asha":
        return FIFOScheduler()
    return ASHAScheduler(
        metric=METRIC,
        mode=MODE,
        time_attr="training_iteration",
        max_t=_max_t(config),
        grace_period=_grace(config),
        reduction_factor=search.reduction_factor,
    )


def rung_epochs(config: ExperimentConfig) -> frozenset[int]:
    """Epoch counts (1-based) whose report ASHA may answer with a stop; empty without ASHA.

    The milestones of ASHA's single bracket: ``grace_period * reduction_factor**k`` for
    ``k < int(log(max_t / grace_period) / log(reduction_factor) + 1)`` (its own formula).
    """
    search = config.search
    if search.scheduler != "asha":
        return frozenset()
    grace = _grace(config)
    rungs = int(math.log(_max_t(config) / grace) / math.log(search.reduction_factor) + 1)
    return frozenset(grace * search.reduction_factor**k for k in range(rungs))
