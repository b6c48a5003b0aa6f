"""Trials trained by Ray Train's TorchTrainer (Train V2) inside Tune trials, on a real local Ray."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from foretune.search import run_sweep


def test_torchtrainer_trial_reports_to_tune_and_checkpoints(ray_session, small_config, tmp_path):
    config = small_config(
        models=["mlp"],
        **{
            "train.num_workers": 2,
            "train.cpus_per_worker": 0.5,
            "search.trials": 1,
            "search.max_concurrent": 1,
            "train.max_epochs": 2,  # two reports (and checkpoints) through Ray Train are enough
        },
    )
    result = run_sweep(config, tmp_path)
    board = result.leaderboard
    assert len(board) == 1
    row = board.iloc[0]
    assert row["status"] == "ok", row["reason"]
    assert Path(row["checkpoint_path"], "model.pt").is_file()
    curves = pd.read_parquet(tmp_path / "curves.parquet")
    # every epoch reached Tune through TuneReportCallback
    assert sorted(curves["epoch"]) == list(range(int(row["epochs"])))
