"""Ensemble: choose and weight a sweep's best trials, MC dropout, conformal calibration, artifact.

    build_ensemble(run_dir, config)                    # RUN/leaderboard.parquet -> RUN/ensemble
    Ensemble.load("RUN/ensemble").predict(history)     # a forecast in the units of y

Modules: ``build`` (the build's steps), ``model`` (``Ensemble``: load, save, predict),
``settings`` (``EnsembleSettings``, what ``ensemble.json`` records), ``inputs`` (each series' last
windows, a short one padded behind the mask), ``draws`` (batched MC-dropout draws), ``mixture``
(weighted mixture statistics), ``nixtla`` (the forecast in Nixtla's column names),
``conformal`` (CQR calibration), ``greedy`` (greedy ensemble
selection), ``refit`` (optional refit on train + validation), ``artifact`` (file names, manifest,
checksums, atomic writes).
"""

from foretune.errors import ArtifactError, EnsembleError

from .build import build_ensemble, inverse_error_weights, make_ensemble, refit_on_all_data, select_members
from .conformal import Calibration
from .greedy import greedy_selection
from .inputs import ModelInputs, UnseenSeriesWarning, build_inputs, read_history
from .model import Ensemble, Member
from .nixtla import to_nixtla
from .settings import EnsembleSettings

__all__ = [
    "ArtifactError",
    "Calibration",
    "Ensemble",
    "EnsembleError",
    "EnsembleSettings",
    "Member",
    "ModelInputs",
    "UnseenSeriesWarning",
    "build_ensemble",
    "build_inputs",
    "greedy_selection",
    "inverse_error_weights",
    "make_ensemble",
    "refit_on_all_data",
    "read_history",
    "select_members",
    "to_nixtla",
]
