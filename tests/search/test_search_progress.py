"""What a sweep prints: the per-trial lines, the heartbeat while trials run, --quiet, --verbose."""

from __future__ import annotations

import re

import pytest
from ray.tune.experiment import Trial

from foretune import console
from foretune.cli import main
from foretune.search import progress, run_sweep

#: One small trial of a few epochs, so results arrive while it still runs.
ONE_TRIAL = {
    "models": ["mlp"],
    "search.trials": 1,
    "search.max_concurrent": 1,
    "train.max_epochs": 3,
    "train.patience": 3,
}
CLI_SETTINGS = [
    "--set=models=[mlp]",
    "--set=search.trials=1",
    "--set=search.windows=[8]",
    "--set=search.scheduler=none",
    "--set=train.max_epochs=2",
    "--horizon=4",
]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def running_trial(trial_id: str, architecture: str) -> Trial:
    trial = Trial("trainable", config={"architecture": architecture}, trial_id=trial_id, stub=True)
    trial.set_status(Trial.RUNNING)
    return trial


def test_heartbeat_comes_every_interval_with_each_running_trials_epoch_and_the_best(capsys):
    clock = Clock()
    callback = progress.ProgressCallback(total=4, interval=30.0, clock=clock)
    a, b = running_trial("a1", "lstm"), running_trial("b2", "tcn")
    trials = [a, b]
    callback.on_trial_result(0, trials, a, {"epoch": 2, "val_loss": 0.8123, "best_val_loss": 0.8})
    clock.now = 29.0
    callback.on_step_end(0, trials)
    assert capsys.readouterr().out == ""  # not yet: 29 s < 30 s
    clock.now = 31.0
    callback.on_step_end(0, trials)
    line = capsys.readouterr().out.strip()
    assert line == (
        "[heartbeat 31s] 0/4 done, 2 running: a1 (lstm) epoch 3 val_loss 0.8123; b2 (tcn) starting; "
        "best val_loss 0.8000 (lstm)"
    )
    callback.on_step_end(0, trials)  # the next one only 30 s later
    assert capsys.readouterr().out == ""
    b.set_status(Trial.TERMINATED)
    callback.on_trial_complete(0, trials, b)
    clock.now = 95.0
    callback.on_step_end(0, trials)
    out = capsys.readouterr().out
    assert out.startswith("[1/4] trial b2 (tcn) done") and "[heartbeat 1m35s] 1/4 done, 1 running: a1" in out


def test_a_running_sweep_prints_heartbeats_with_epochs_and_validation_loss(
    ray_session, small_config, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.0)  # every controller step instead of every 30 s
    run_sweep(small_config(**ONE_TRIAL), tmp_path / "run")
    out = capsys.readouterr().out
    beats = [line for line in out.splitlines() if line.startswith("[heartbeat")]
    assert beats, out
    assert any(re.search(r"1 running: \w+ \(mlp\) epoch [1-3] val_loss \d+\.\d{4}; best", b) for b in beats)
    assert re.search(r"^\[1/1\] trial \w+ \(mlp\) done", out, re.M)
    # Tune's TensorBoard logs, where docs/usage.md says they are
    assert list((tmp_path / "run" / "sweep").glob("*/events.out.tfevents.*"))


def test_quiet_prints_nothing_but_errors(ray_session, tmp_path, capfd):
    assert main(["sweep", "--quiet", *CLI_SETTINGS, "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "leaderboard.parquet").is_file()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert console.current() == console.NORMAL  # restored afterwards
    assert main(["sweep", "-q", "--set=train.max_epochs=0", "--out", str(tmp_path / "bad")]) == 2
    out, err = capfd.readouterr()
    assert out == "" and err.startswith("foretune: error:") and "max_epochs" in err


def test_verbose_lets_ray_tunes_own_reporter_through(ray_session, tmp_path, capfd):
    assert main(["sweep", "--verbose", *CLI_SETTINGS, "--out", str(tmp_path / "run")]) == 0
    out, _ = capfd.readouterr()
    assert re.search(r"== Status ==|Trial status", out), out  # Tune's reporter
    assert re.search(r"^\[1/1\] trial \w+ \(mlp\) done", out, re.M)  # and foretune's own lines


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--quiet", "--verbose"])
    assert "not allowed with" in capsys.readouterr().err


def test_a_bar_counts_finished_trials_with_the_best_so_far_and_lines_stay_on_stdout(capsys, monkeypatch):
    import pickle

    monkeypatch.setattr(console, "bars_enabled", lambda: True)  # as on a terminal or in a notebook
    (callback,) = progress.tune_reporting(3)["callbacks"]
    callback.clock = clock = Clock()
    callback.setup()
    assert callback.bar is not None and callback.bar.total == 3
    assert pickle.loads(pickle.dumps(callback)).bar is None  # Tune may pickle its callbacks
    a, b = running_trial("a1", "lstm"), running_trial("b2", "tcn")
    callback.on_trial_result(0, [a, b], a, {"epoch": 1, "val_loss": 0.9, "best_val_loss": 0.75})
    a.set_status(Trial.TERMINATED)
    clock.now = 10.0
    callback.on_trial_complete(0, [a, b], a)
    b.set_status(Trial.ERROR)
    callback.on_trial_error(0, [a, b], b)
    assert callback.bar.n == 2
    callback.on_experiment_end([a, b])
    out, err = capsys.readouterr()
    assert re.search(r"^\[1/3\] trial a1 \(lstm\) done", out, re.M) and "[2/3] trial b2 (tcn) FAILED" in out
    assert "2/3" in err and "best val_loss=0.7500 (lstm), failed=1" in err  # the bar, on stderr
    monkeypatch.setattr(console, "bars_enabled", lambda: False)  # logs: lines and heartbeats only
    (plain,) = progress.tune_reporting(3)["callbacks"]
    plain.setup()
    assert plain.bar is None
    with console.verbosity(console.QUIET):
        assert progress.tune_reporting(3)["callbacks"] == []
