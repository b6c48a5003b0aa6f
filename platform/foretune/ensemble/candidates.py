"""The build's first steps: the run's leaderboard and config, and the candidates to weigh.

    board = read_leaderboard(run)                  # RUN/leaderboard.parquet
    config = run_config(run, config)               # auto windows resolved as the sweep did
    members = candidates(run, board, config.ensemble, trial_ids=None)   # loaded, best first

A candidate is a finished trial (its best checkpoint, loaded) or an ``ensemble.statistical``
model; ``select_members`` is the leaderboard choice (the best ``top_k``, at most
``max_per_architecture`` of one architecture).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from foretune.config import EnsembleConfig, ExperimentConfig
from foretune.data.experiment import AUTO
from foretune.errors import EnsembleError
from foretune.models.statistical import check_names, statsforecast_available
from foretune.rundir import RunDir
from foretune.storage import as_location, local_copy, read_parquet
from foretune.train.record import TrialStatus

from .artifact import MEMBER_WEIGHTS, read_member
from .member import STATISTICAL_PREFIX, Member


def read_leaderboard(run: RunDir) -> pd.DataFrame:
    """The sweep's leaderboard; ``EnsembleError`` when there is none yet."""
    if not run.leaderboard.is_file():
        raise EnsembleError(f"{run.leaderboard} not found; run `foretune sweep` first")
    return read_parquet(run.leaderboard)


def run_config(run: RunDir, config: ExperimentConfig | None) -> ExperimentConfig:
    """``config`` (None: the run's own) with the validation and test windows the sweep used:
    ``auto`` takes the number the sweep resolved from the data (the run's ``config.json``)."""
    if config is not None and AUTO not in (config.data.val_windows, config.data.test_windows):
        return config
    saved = ExperimentConfig.from_dict(json.loads(run.config.read_text()))
    if config is None:
        return saved
    resolved = config.model_copy(deep=True)
    if config.data.val_windows == AUTO:
        resolved.data.val_windows = saved.data.val_windows
    if config.data.test_windows == AUTO:
        resolved.data.test_windows = saved.data.test_windows
    return resolved


def select_members(board: pd.DataFrame, top_k: int, max_per_architecture: int | None = None) -> pd.DataFrame:
    """The best ``top_k`` usable trials (with a checkpoint of their best weights: finished, or
    stopped early by the scheduler at a rung), best first, with at most
    ``max_per_architecture`` of any one architecture (None: no limit).

    The limit is a diversity rule: the next-best trial of another architecture takes the place
    of a third of one architecture, which would mostly repeat the first two.
    """
    usable = board["status"].isin(TrialStatus.with_weights()) & board["checkpoint_path"].notna()
    ok = board[usable]
    ok = ok[np.isfinite(ok["val_loss"].astype(float))]
    if ok.empty:
        reasons = board["reason"].fillna("").astype(str)
        reasons = reasons[reasons != ""]
        common = reasons.mode().iloc[0] if not reasons.empty else "no trial finished"
        raise EnsembleError(
            f"no trial of {len(board)} finished successfully, so there is no ensemble to build; "
            f"most common reason: {common}"
        )
    ok = ok.sort_values("val_loss", kind="stable")
    if max_per_architecture is not None:
        rank = ok.groupby("architecture", sort=False).cumcount()
        ok = ok[rank < max_per_architecture]
    return ok.head(top_k)


def candidates(
    run: RunDir, board: pd.DataFrame, settings: EnsembleConfig, trial_ids: list[str] | None
) -> list[Member]:
    """The candidates: the trials (the leaderboard's choice, or the deep ones of ``trial_ids``),
    then the statistical models (``settings.statistical``, or those ``trial_ids`` name as
    ``statistical:<model>``)."""
    if trial_ids is None:
        names = list(settings.statistical)
        deep = _trials(run, board, settings, None)
    else:
        names = [t[len(STATISTICAL_PREFIX) :] for t in trial_ids if t.startswith(STATISTICAL_PREFIX)]
        ids = [t for t in trial_ids if not t.startswith(STATISTICAL_PREFIX)]
        deep = _trials(run, board, settings, ids) if ids else []
    if names and statsforecast_available():
        check_names(names)
    return deep + [Member.of_statistical(name) for name in names]


def drop_unusable_statistical(members: list[Member], histories: bool) -> list[Member]:
    """``members`` without the statistical ones where they cannot be fit (no statsforecast, or
    no series ``histories`` in memory), and a note why."""
    statistical = [m.architecture for m in members if m.statistical]
    if not statistical:
        return members
    reason = None
    if not statsforecast_available():
        reason = "statsforecast is not installed (pip install statsforecast)"
    elif not histories:
        reason = "streamed data keep no series histories in memory"
    if reason is None:
        return members
    kept = [m for m in members if not m.statistical]
    if not kept:
        raise EnsembleError(f"the statistical candidates {statistical} cannot be used: {reason}")
    print(f"note: statistical candidates {statistical} left out: {reason}")
    return kept


def _trials(
    run: RunDir, board: pd.DataFrame, settings: EnsembleConfig, trial_ids: list[str] | None
) -> list[Member]:
    """The trials to weigh, best first, loaded: the leaderboard's choice or ``trial_ids``."""
    if trial_ids is None:
        rows = select_members(board, settings.top_k, settings.max_per_architecture)
    else:
        rows = board[board["trial_id"].astype(str).isin([str(t) for t in trial_ids])]
        rows = select_members(rows, len(rows)) if len(rows) else rows
        if rows.empty:
            raise EnsembleError(f"none of the trials {trial_ids} is a finished trial of {run.root}")
    return [_load_member(row) for row in rows.itertuples()]


def _load_member(row: Any) -> Member:
    """The trial of a leaderboard row as a member (weight 0 until weighed), its checkpoint read
    from a local path or a URI."""
    location = as_location(row.checkpoint_path)
    if not (location / MEMBER_WEIGHTS).is_file():
        raise EnsembleError(f"checkpoint of trial {row.trial_id} is missing at {location}")
    with local_copy(location) as directory:
        model, spec, n_features = read_member(directory)
    info = {"trial_id": str(row.trial_id), "val_loss": float(row.val_loss)}
    return Member(model, spec.architecture, spec.window, 0.0, spec, n_features, info)
