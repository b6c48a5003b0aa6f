"""Ensemble: choose and weight members, save a checksummed artifact, predict with MC dropout."""

from .artifact import ArtifactError
from .build import EnsembleError, build_ensemble, inverse_error_weights, select_members
from .model import Ensemble

__all__ = [
    "ArtifactError",
    "Ensemble",
    "EnsembleError",
    "build_ensemble",
    "inverse_error_weights",
    "select_members",
]
