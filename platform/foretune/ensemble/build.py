"""Build the ensemble of a finished sweep: choose members, weight them, calibrate, save the artifact.

    path = build_ensemble(run_dir, config)        # writes RUN/ensemble and returns its path
    ensemble = make_ensemble(run_dir, config)     # the same ensemble, in memory

``make_ensemble`` runs these steps on a run directory (``foretune.rundir.RunDir``), each a
function of its own module:

1. the leaderboard and the run's config (``candidates.read_leaderboard``, ``run_config``);
2. the candidates: the best finished trials and the ``ensemble.statistical`` models
   (``candidates.candidates``);
3. the inputs: the sweep's validation and test windows (``windows.load_windows``);
4. the validation draws: sample paths, MC dropout or a statistical model's forecast from each
   window's history (``window_draws``);
5. the weights, chosen on the validation windows (``weighting.weigh``);
6. an optional refit of the kept members on train + validation (``refit.refit_members``);
7. the test draws of the kept members (``window_draws``);
8. the calibration: CQR on the test windows, which nothing before used
   (``assemble.calibrate_on_test``);
9. the artifact: the ``Ensemble`` with the steps' reports (``assemble.assemble``).

``refit_on_all_data`` runs steps 3 and 6-9 on an evaluated ensemble's members and weights, its
deep members warm-started (``refit.warm_start``) and its statistical ones applying their states.
``config=None`` reads the run's own config.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from foretune.config import ExperimentConfig
from foretune.errors import EnsembleError
from foretune.rundir import RunDir
from foretune.storage import Location, resolve
from foretune.timings import stage

from .assemble import assemble, calibrate_on_test
from .candidates import candidates, drop_unusable_statistical, read_leaderboard, run_config
from .conformal import interval_quantiles
from .member import Member
from .mixture import mix
from .model import Ensemble
from .refit import WARM_START_STEPS, refit_members, trial_threads, warm_start_members
from .weighting import selection_samples, weigh
from .window_draws import Forecasts, window_draws, window_forecasts
from .windows import BuildWindows, load_windows


def build_ensemble(run_dir: str | Path, config: ExperimentConfig | None = None) -> Location:
    """Build the run's ensemble from its leaderboard and save it; return the artifact's path."""
    run = RunDir(resolve(run_dir))
    ensemble = make_ensemble(run.root, config)
    with stage("save"):
        return ensemble.save(run.ensemble)


def make_ensemble(
    run_dir: str | Path,
    config: ExperimentConfig | None = None,
    *,
    trial_ids: list[str] | None = None,
) -> Ensemble:
    """The ensemble of a finished sweep, in memory (``save`` writes it); see the module docstring.

    ``trial_ids`` replaces the leaderboard choice with these trials (e.g. one trial: the best
    single model, weighted 1 and calibrated the same way, for comparisons); a statistical
    member's id is ``statistical:<model>``.
    """
    run = RunDir(resolve(run_dir))
    board = read_leaderboard(run)
    config = run_config(run, config)
    settings = config.ensemble
    with stage("load"):
        members = candidates(run, board, settings, trial_ids)
        windows = load_windows(run, config, members)
        members = drop_unusable_statistical(members, histories=windows.panel is not None)
    forecasts = window_forecasts(members, windows, ("val", "test"))
    val_draws = window_draws(members, windows, "val", selection_samples(settings), config.seed, forecasts)
    with stage("selection"):
        members, selection = weigh(members, val_draws, windows, settings)
    return _refit_calibrate_assemble(run, board, config, members, windows, selection, forecasts)


def refit_on_all_data(
    run_dir: str | Path,
    evaluated: Ensemble,
    config: ExperimentConfig,
    *,
    warm_steps: int | None = WARM_START_STEPS,
) -> Ensemble:
    """``evaluated``'s members trained on all the data, held-out tail included (``refit_full``).

    The same members and weights; the data are prepared without a hold-out (``evaluate.windows:
    0``), so the transform is refit on the longer training parts. Each deep member is
    warm-started from its evaluated weights for one pass over the train + validation windows (at
    most ``warm_steps`` updates; ``refit.warm_start``; None: retrained from scratch for the epochs its
    trial's early stopping chose, as ``ensemble.refit`` does), each statistical member applies
    its fitted states as ``Ensemble.predict`` does, and the intervals are recalibrated on the
    test windows, which no member trained on. ``evaluated`` itself is left as it was.
    """
    run = RunDir(resolve(run_dir))
    if run.streamed:
        raise EnsembleError("evaluate.refit_full retrains in memory, which streamed data does not fit")
    full = run_config(run, config).model_copy(deep=True)
    full.evaluate.windows = 0
    full.ensemble.refit = warm_steps is None
    board = read_leaderboard(run)
    with stage("load"):
        members = [_copy(m) for m in evaluated.members]
        windows = load_windows(run, full, members, check=False)
    forecasts = window_forecasts(members, windows, ("test",))
    if warm_steps is not None:
        with stage("warm_start"):
            warm_start_members(members, windows.datasets, warm_steps, trial_threads(full))
    selection = {**evaluated.report.get("selection", {}), "refit_full": "weights of the evaluated ensemble"}
    return _refit_calibrate_assemble(run, board, full, members, windows, selection, forecasts)


def _copy(member: Member) -> Member:
    """``member`` with its own info and, for a network, its own weights (to train)."""
    model = member.model if member.statistical else copy.deepcopy(member.model)
    return dataclasses.replace(member, model=model, info=dict(member.info))


def _refit_calibrate_assemble(
    run: RunDir,
    board: pd.DataFrame,
    config: ExperimentConfig,
    members: list[Member],
    windows: BuildWindows,
    selection: dict[str, Any],
    forecasts: Forecasts,
) -> Ensemble:
    """Steps 6-9 on the weighted ``members``: refit (when asked), test draws, calibration and the
    artifact."""
    settings = config.ensemble
    if settings.refit:
        with stage("refit"):
            refit_members(run, board, members, windows.datasets, config)
    test_draws = window_draws(members, windows, "test", settings.samples, config.seed, forecasts)
    with stage("calibration"):
        mixture = mix(test_draws, [m.weight for m in members], interval_quantiles(settings.levels))
        calibration, calibration_report = calibrate_on_test(mixture, windows, settings)
    with stage("reports"):
        return assemble(
            run, config, members, test_draws, mixture, windows, selection, calibration, calibration_report
        )
