"""Training: one loop (``fit``) that runs inline, in a Tune trial, or on Ray Train workers.

``train.distributed`` (imported explicitly) is the only module that knows Ray Train.
"""

from .checkpoint import read_checkpoint, write_checkpoint
from .loop import FitResult, TrainSpec, build_model, fit, predict_windows, score_windows, to_levels

__all__ = [
    "FitResult",
    "TrainSpec",
    "build_model",
    "fit",
    "predict_windows",
    "read_checkpoint",
    "score_windows",
    "to_levels",
    "write_checkpoint",
]
