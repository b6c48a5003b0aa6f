"""The command line as a user runs it: real processes, real Parquet, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from foretune.data import builtin_dataset_path

REPO = Path(__file__).resolve().parents[2]


def foretune(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    return subprocess.run(
        [sys.executable, "-m", "foretune", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def test_run_on_wide_parquet_then_predict(tmp_path):
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
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "leaderboard" in result.stdout and "ensemble artifact" in result.stdout
    board = pd.read_parquet(out / "leaderboard.parquet")
    assert len(board) == 2 and set(board["architecture"]) == {"mlp"}
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


def test_bad_config_value_names_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("train:\n  learning_rate: -0.1\n")
    result = foretune("sweep", "--config", str(config), "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "train.learning_rate" in result.stderr and "Traceback" not in result.stderr


def test_unknown_model_is_a_clear_error(tmp_path):
    result = foretune("sweep", "--models", "lstm,prophet", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "prophet" in result.stderr and "Traceback" not in result.stderr


def test_bad_data_names_the_series_and_writes_nothing(tmp_path):
    frame = pd.read_parquet(builtin_dataset_path())
    frame.loc[frame.index[frame.unique_id == "cpi"][10], "y"] = float("nan")
    data = tmp_path / "bad.parquet"
    frame.to_parquet(data, index=False)
    out = tmp_path / "run"
    result = foretune("run", "--data", str(data), "--out", str(out))
    assert result.returncode == 2
    assert "'cpi'" in result.stderr and "data.fill" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (out / "leaderboard.parquet").exists()


def test_predict_with_missing_artifact_is_clear(tmp_path):
    result = foretune("predict", "--model", str(tmp_path / "nope"), "--data", str(builtin_dataset_path()))
    assert result.returncode == 2 and "manifest" in result.stderr
