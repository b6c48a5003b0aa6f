"""Ensemble: choose and weight members, MC dropout, conformal calibration, checksummed artifact.

Modules: ``build`` (leaderboard -> in-memory ``Ensemble`` -> artifact), ``greedy`` (greedy
ensemble selection, pure numpy), ``conformal`` (CQR interval calibration), ``draws`` (batched
MC-dropout draws and inversion), ``mixture`` (weighted mixture statistics), ``refit`` (optional
refit on train + validation), ``model`` (``Ensemble``: load, save, predict), ``artifact``
(manifest, checksums, atomic writes).
"""

from .artifact import ArtifactError
from .build import (
    EnsembleError,
    build_ensemble,
    inverse_error_weights,
    make_ensemble,
    select_members,
)
from .conformal import Calibration
from .greedy import greedy_selection
from .model import Ensemble

__all__ = [
    "ArtifactError",
    "Calibration",
    "Ensemble",
    "EnsembleError",
    "build_ensemble",
    "greedy_selection",
    "inverse_error_weights",
    "make_ensemble",
    "select_members",
]
