"""Search: the Optuna define-by-run space, the Tune trainable, the sweep and its leaderboard.

Only ``search`` and ``ensemble`` know Ray Tune.
"""

from .space import decode, define_space, spec_for
from .sweep import SweepResult, run_sweep

__all__ = ["SweepResult", "decode", "define_space", "run_sweep", "spec_for"]
