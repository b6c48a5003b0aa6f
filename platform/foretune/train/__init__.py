"""Training: one loop (``fit``) that runs inline, in a Tune trial, or on Ray Train workers.

``train.distributed`` (imported explicitly) is the only module that knows Ray Train.
"""

from .checkpoint import read_checkpoint, read_state, write_checkpoint, write_state
from .loop import fit
from .predict import predict_windows, score_windows, to_levels
from .schedule import SCHEDULES, lr_factor
from .spec import FitResult, TrainSpec, build_model

__all__ = [
    "SCHEDULES",
    "FitResult",
    "TrainSpec",
    "build_model",
    "fit",
    "lr_factor",
    "predict_windows",
    "read_checkpoint",
    "read_state",
    "score_windows",
    "to_levels",
    "write_checkpoint",
    "write_state",
]
