"""The command line as a user runs it: real processes, real Parquet, clear errors.

A run, its predictions and one refused command go through ``python -m foretune`` (the exit code
of a process); the other refusals call ``foretune.cli.main`` in this process, which is what that
process runs (``sys.exit(main())``), with no new Python process per error message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from foretune.cli import main
from foretune.data import builtin_dataset_path

REPO = Path(__file__).resolve().parents[2]


def foretune(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``foretune *args`` in a new process."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    return subprocess.run(
        [sys.executable, "-m", "foretune", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def in_process(capsys, *args: str) -> subprocess.CompletedProcess:
    """``foretune *args`` as ``foretune.cli.main`` in this process, shaped like ``foretune``'s
    result (an exception that is not a user error propagates: the test fails with it)."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


@pytest.mark.slow
def test_run_on_wide_parquet_then_predict(tmp_path, capsys):
    long = pd.read_parquet(builtin_dataset_path())
    wide = long.pivot(index="ds", columns="unique_id", values="y").reset_index()
    wide = wide[["ds", "realgdp", "cpi", "m1"]]
    data = tmp_path / "wide.parquet"
    wide.to_parquet(data, index=False)
    out = tmp_path / "run"
    result = foretune(
        "run",
        "--data",
        str(data),
        "--models",
        "mlp",
        "--trials",
        "2",
        "--horizon",
        "3",
        "--seed",
        "1",
        "--out",
        str(out),
        "--num-cpus",
        "2",
        "--set",
        "train.max_epochs=4",
        "--set",
        "search.windows=[8, 12]",
        "--set",
        "search.trials=5",  # the named flag (--trials 2) wins
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "leaderboard" in result.stdout and "ensemble artifact" in result.stdout
    board = pd.read_parquet(out / "leaderboard.parquet")
    assert len(board) == 2 and set(board["architecture"]) == {"mlp"}
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["max_epochs"] == 4 and config["search"]["windows"] == [8, 12]
    assert config["search"]["trials"] == 2 and config["data"]["horizon"] == 3
    # every stage's seconds are recorded, the steps inside under their stage's name
    stages = json.loads((out / "timings.json").read_text())["stages"]
    assert {"sweep", "ensemble", "report", "refit_full"} <= set(stages)
    inner = {"ensemble.draws", "ensemble.statistical", "ensemble.selection", "ensemble.calibration"}
    inner |= {"report.backtest.ensemble", "report.backtest.naive", "report.html", "refit_full.draws"}
    assert inner <= set(stages), sorted(stages)
    assert "wall-clock" in result.stdout and "after the sweep" in result.stdout
    # The run is not silently overwritten by a second one ...
    again = foretune("sweep", "--data", str(data), "--out", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr and "--resume" in again.stderr
    assert str(out) in again.stderr and "Traceback" not in again.stderr
    assert len(pd.read_parquet(out / "leaderboard.parquet")) == 2
    # ... and a directory as the forecast's path is refused before any forecast is computed.
    refused = in_process(
        capsys, "predict", "--model", str(out / "ensemble"), "--data", str(data), "--out", str(tmp_path)
    )
    assert refused.returncode == 2 and "is a directory" in refused.stderr
    assert "Traceback" not in refused.stderr and "forecast (" not in refused.stdout
    forecast_path = tmp_path / "forecast.parquet"
    result = foretune(
        "predict",
        "--model",
        str(out / "ensemble"),
        "--data",
        str(data),
        "--horizon",
        "2",
        "--out",
        str(forecast_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    forecast = pd.read_parquet(forecast_path)
    assert sorted(forecast["unique_id"].unique()) == ["cpi", "m1", "realgdp"]
    assert forecast.groupby("unique_id").size().eq(2).all()


def test_bad_config_value_names_the_key(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("train:\n  learning_rate: -0.1\n")
    result = in_process(capsys, "sweep", "--config", str(config), "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "train.learning_rate" in result.stderr and "Traceback" not in result.stderr


def test_unknown_model_is_a_clear_error(tmp_path, capsys):
    result = in_process(capsys, "sweep", "--models", "lstm,prophet", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "prophet" in result.stderr and "Traceback" not in result.stderr


def test_bad_data_names_the_series_and_writes_nothing(tmp_path, capsys):
    frame = pd.read_parquet(builtin_dataset_path())
    frame.loc[frame.index[frame.unique_id == "cpi"][10], "y"] = float("nan")
    data = tmp_path / "bad.parquet"
    frame.to_parquet(data, index=False)
    out = tmp_path / "run"
    result = in_process(capsys, "run", "--data", str(data), "--out", str(out))
    assert result.returncode == 2
    assert "'cpi'" in result.stderr and "data.fill" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()  # refused before anything was written, the stage timings included


def test_predict_with_missing_artifact_is_clear(tmp_path, capsys):
    result = in_process(
        capsys, "predict", "--model", str(tmp_path / "nope"), "--data", str(builtin_dataset_path())
    )
    assert (
        result.returncode == 2 and "nope does not exist" in result.stderr and "RUN/ensemble" in result.stderr
    )


def test_version_and_help_speak_to_users():
    import foretune as package

    result = foretune("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"foretune {package.__version__}"
    result = foretune("--help")
    assert result.returncode == 0
    for word in ("forecast", "run", "sweep", "predict", "evaluate", "--set", "mlp", "attention_lstm"):
        assert word in result.stdout, word


def test_out_that_holds_something_is_refused_before_any_work(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    result = in_process(capsys, "sweep", "--out", str(taken))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(taken) in result.stderr and "--overwrite" in result.stderr and "--resume" in result.stderr
    assert "sweeping" not in result.stdout and sorted(p.name for p in taken.iterdir()) == ["notes.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = in_process(capsys, "run", "--out", str(a_file), "--overwrite")
    assert result.returncode == 2 and "is a file" in result.stderr and "Traceback" not in result.stderr


def test_set_with_an_unknown_key_names_it(tmp_path, capsys):
    result = in_process(capsys, "sweep", "--set", "train.max_epoch=5", "--out", str(tmp_path / "x"))
    assert (
        result.returncode == 2
        and "'train.max_epoch'" in result.stderr
        and "train.max_epochs" in result.stderr
    )
    assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


def test_samples_must_be_positive(tmp_path):
    for value in ("0", "-3"):
        result = foretune(
            "predict", "--model", str(tmp_path), "--data", str(builtin_dataset_path()), "--samples", value
        )
        assert result.returncode == 2 and "--samples" in result.stderr and ">= 1" in result.stderr
        assert "Traceback" not in result.stderr
