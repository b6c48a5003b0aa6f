"""Ensemble: choose and weight a sweep's best trials, MC dropout, conformal calibration, artifact.

    build_ensemble(run_dir, config)                    # RUN/leaderboard.parquet -> RUN/ensemble
    Ensemble.load("RUN/ensemble").predict(history)     # a forecast in the units of y

Build: ``build`` (its steps, in order), ``candidates`` (leaderboard and
candidates), ``windows`` (the validation and test windows), ``window_draws`` (the members' draws on
them), ``weighting`` and ``greedy`` (the weights), ``refit`` (optional refit on train +
validation), ``assemble`` (CQR calibration on the test windows, the ``Ensemble``), ``reports``
(test scores, directions). Serving: ``model`` (``Ensemble``), ``member`` (``Member``),
``settings`` (``EnsembleSettings``, what ``ensemble.json`` records), ``inputs`` (each series'
last windows, a short one padded behind the mask), ``draws`` (batched MC-dropout draws),
``mixture`` (weighted mixture statistics), ``conformal`` (CQR), ``predictor`` (draws to the
forecast frame), ``nixtla`` (Nixtla's column names), ``plot`` (fan charts), ``forecasters``
(the ensemble as a backtest's forecasters). Files: ``artifact`` (file names, manifest, checksums,
atomic writes), ``persist`` (an ``Ensemble`` read from and written to them).
"""

from foretune.errors import ArtifactError, EnsembleError

from .build import build_ensemble, make_ensemble, refit_on_all_data
from .candidates import select_members
from .conformal import Calibration
from .greedy import greedy_selection
from .inputs import ModelInputs, UnseenSeriesWarning, build_inputs, read_history
from .member import Member
from .model import Ensemble
from .nixtla import to_nixtla
from .settings import EnsembleSettings
from .weighting import inverse_error_weights

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
