"""The throughput levers keep behaviour.

A worker process reused between trials (``search.reuse_actors``) gives the same leaderboard as a
fresh process per trial; a trial that ASHA stops at a rung keeps its best weights and can be an
ensemble member. (Resuming a killed sweep: ``test_search_resume.py``.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from foretune.ensemble import make_ensemble, select_members
from foretune.search import run_sweep
from foretune.search.scheduler import build_scheduler, rung_epochs

# one slot, so trials run one after another (ASHA's decisions do not depend on timing) and a
# reused process serves several trials; ASHA may stop a trial after its 1st or 2nd epoch
SETTINGS = {
    "models": ["mlp"],
    "train.max_epochs": 3,
    "search.trials": 4,
    "search.sampler": "random",
    "search.scheduler": "asha",
    "search.grace_period": 1,
    "search.reduction_factor": 2,
    "search.max_concurrent": 1,
}
COMPARED = ["architecture", "hyperparameters", "learning_rate", "batch_size", "status", "val_loss", "epochs"]


def _trial_pids(run_dir: Path) -> set[int]:
    pids = set()
    for results in (run_dir / "sweep").glob("*/result.json"):
        pids.add(json.loads(results.read_text().splitlines()[-1])["t_pid"])
    return pids


@pytest.fixture(scope="module")
def reused(ray_session, tmp_path_factory):
    from support import tiny_config

    config = tiny_config(**SETTINGS)
    run_dir = tmp_path_factory.mktemp("reused")
    return config, run_dir, run_sweep(config, run_dir).leaderboard


def test_rungs_are_the_schedulers_own_milestones(small_config):
    config = small_config(**SETTINGS)
    asha = build_scheduler(config)
    assert rung_epochs(config) == {int(m) for m, _ in asha._brackets[0]._rungs} == {1, 2, 4}
    assert rung_epochs(small_config(**{**SETTINGS, "search.scheduler": "none"})) == frozenset()
    # a grace period longer than the run is capped, not an error from inside Ray
    short = small_config(**{**SETTINGS, "search.grace_period": 5, "train.max_epochs": 2})
    assert build_scheduler(short)._brackets[0]._rungs[-1][0] == 3 and rung_epochs(short) == {3}


def test_reused_processes_give_the_same_leaderboard_as_fresh_ones(reused, small_config, tmp_path):
    config, run_dir, board = reused
    fresh = run_sweep(small_config(**SETTINGS, **{"search.reuse_actors": False}), tmp_path).leaderboard
    assert len(_trial_pids(run_dir)) < len(board) == len(fresh)  # a process served several trials
    assert len(_trial_pids(tmp_path)) == len(fresh)
    ordered = [b[COMPARED].sort_values(["hyperparameters", "learning_rate"]) for b in (board, fresh)]
    pd.testing.assert_frame_equal(*(o.reset_index(drop=True) for o in ordered))


def test_a_trial_stopped_by_asha_keeps_its_best_weights_and_can_be_a_member(reused):
    config, run_dir, board = reused
    stopped = board[board["status"] == "early_stopped"]
    assert len(stopped) >= 1 and stopped["checkpoint_path"].notna().all(), board[COMPARED]
    assert (stopped["epochs"] < config.train.max_epochs).all()
    assert set(stopped["trial_id"]) <= set(select_members(board, len(board))["trial_id"])
    trial = str(stopped["trial_id"].iloc[0])
    ensemble = make_ensemble(run_dir, config, trial_ids=[trial])
    assert [m.info["trial_id"] for m in ensemble.members] == [trial]
