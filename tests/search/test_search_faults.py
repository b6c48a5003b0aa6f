"""Failed trials are recorded with their reason and never crash the sweep; budgets hold."""

from __future__ import annotations

import pytest

from foretune.config import ConfigError
from foretune.ensemble import EnsembleError, build_ensemble
from foretune.search import run_sweep


def test_failing_configuration_is_recorded_and_the_sweep_finishes(ray_session, small_config, tmp_path):
    # nhead=3 cannot divide d_model=64: every transformer trial raises inside torch.
    config = small_config(
        models=["transformer"],
        **{
            "search.trials": 2,
            "search.max_failures": 1,
            "search.space": {"transformer.nhead": 3, "transformer.d_model": 64},
        },
    )
    board = run_sweep(config, tmp_path).leaderboard
    assert len(board) == 2
    assert set(board["status"]) == {"failed"}
    assert board["reason"].str.contains("divisible").all()
    with pytest.raises(EnsembleError, match="divisible"):
        build_ensemble(tmp_path, config)


def test_mixed_sweep_keeps_good_trials(ray_session, small_config, tmp_path):
    # seed 3's random sampler draws transformer, mlp, transformer (seed 0 needed 6 trials for an
    # mlp): a failed trial before a good one, which must still rank first
    config = small_config(
        seed=3,
        models=["mlp", "transformer"],
        **{
            "search.trials": 3,
            "search.max_failures": 0,
            "search.sampler": "random",
            "search.space": {"transformer.nhead": 3, "transformer.d_model": 64},
        },
    )
    board = run_sweep(config, tmp_path).leaderboard
    assert len(board) == 3
    assert set(board["architecture"]) == {"mlp", "transformer"}
    assert (board.loc[board.architecture == "mlp", "status"] == "ok").all()
    assert (board.loc[board.architecture == "transformer", "status"] == "failed").all()
    assert board.iloc[0]["status"] == "ok"  # finished trials rank first


def test_time_budget_stops_the_sweep_and_keeps_finished_trials(ray_session, small_config, tmp_path):
    # two-epoch trials finish within the budget even on a busy machine; 200 of them cannot
    config = small_config(
        models=["mlp"],
        **{"search.trials": 200, "search.time_budget_s": 15.0, "train.max_epochs": 2},
    )
    board = run_sweep(config, tmp_path).leaderboard
    assert 0 < len(board) < 200
    assert (board["status"] == "ok").sum() >= 1


def test_impossible_resources_fail_before_training(ray_session, small_config, tmp_path):
    config = small_config(**{"train.num_workers": 4})
    with pytest.raises(ConfigError, match="train.num_workers"):
        run_sweep(config, tmp_path)
    config = small_config(**{"train.gpus_per_trial": 0.5})
    with pytest.raises(ConfigError, match="gpus_per_trial"):
        run_sweep(config, tmp_path / "gpu")
    assert not (tmp_path / "leaderboard.parquet").exists()
