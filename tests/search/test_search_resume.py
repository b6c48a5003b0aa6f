"""Kill the sweep's driver with SIGKILL mid-sweep, then `--resume`: exactly N distinct trials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from foretune.cli import main
from support import recorded_finished

TRIALS = 4  # 2 finish before the kill, at least 1 is left for the resumed run


def _finished_trials(run_dir: Path) -> set[str]:
    """Trials that Tune's saved experiment state records as finished (``support.recorded_finished``)."""
    states = sorted((run_dir / "sweep").glob("experiment_state-*.json"), key=lambda p: p.stat().st_mtime)
    return recorded_finished([p.read_text() for p in states])


def test_resume_after_sigkill_completes_exactly_the_requested_trials(ray_session, tmp_path, capsys):
    config = tmp_path / "exp.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "seed": 0,
                "models": ["mlp"],
                "data": {"horizon": 2},
                "train": {"max_epochs": 3, "patience": 3},
                "search": {"trials": TRIALS, "windows": [8], "scheduler": "none", "max_concurrent": 1},
                "ensemble": {"top_k": 2, "samples": 8},
            }
        )
    )
    run_dir = tmp_path / "run"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    cmd = [sys.executable, "-m", "foretune"]
    driver = subprocess.Popen(
        [*cmd, "sweep", "--config", str(config), "--out", str(run_dir), "--num-cpus", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while len(_finished_trials(run_dir)) < 2 and time.monotonic() < deadline:
        assert driver.poll() is None, "the sweep ended before it could be interrupted"
        time.sleep(0.2)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its local Ray instance
    driver.wait()
    assert not (run_dir / "leaderboard.parquet").exists()
    finished_ids = _finished_trials(run_dir)
    assert 2 <= len(finished_ids) < TRIALS

    # The resumed run reads only what the killed driver left on disk, so it runs in this process
    # on the session's Ray (the command line's code without a second Python and Ray start-up).
    code = main(["run", "--resume", str(run_dir), "--num-cpus", "2"])
    assert code == 0, capsys.readouterr().err[-3000:]
    board = pd.read_parquet(run_dir / "leaderboard.parquet")
    assert len(board) == TRIALS and board["trial_id"].nunique() == TRIALS
    assert (board["status"] == "ok").all(), board[["status", "reason"]]
    assert finished_ids <= set(board["trial_id"])  # kept, not rerun under a new id
    assert (run_dir / "ensemble" / "manifest.json").is_file()


def test_a_restored_searcher_tolerates_trials_it_never_suggested(tmp_path):
    """Tune saves the searcher's state and the trials at different moments: a sweep killed in
    between resumes with a trial the restored searcher does not know, whose results crashed
    Ray's own OptunaSearch (KeyError). foretune's searcher ignores them and keeps learning."""
    import pytest
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    from foretune.search.sweep import ResumableOptunaSearch

    def searcher(cls):
        made = cls(space={"x": tune.uniform(0.0, 1.0)}, metric="val_loss", mode="min", seed=0)
        made.suggest("known")
        made.save(str(tmp_path / f"{cls.__name__}.pkl"))  # the state a resumed sweep restores
        restored = cls(space={"x": tune.uniform(0.0, 1.0)}, metric="val_loss", mode="min", seed=0)
        restored.restore(str(tmp_path / f"{cls.__name__}.pkl"))
        return restored

    result = {"val_loss": 0.5, "training_iteration": 1}
    with pytest.raises(KeyError):
        searcher(OptunaSearch).on_trial_result("started_after_the_save", result)
    ours = searcher(ResumableOptunaSearch)
    ours.on_trial_result("started_after_the_save", result)
    ours.on_trial_complete("started_after_the_save", result)
    ours.on_trial_result("known", result)
    ours.on_trial_complete("known", result)
    assert [t.value for t in ours._ot_study.trials if t.value is not None] == [0.5]
