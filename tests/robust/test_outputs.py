"""What a command writes follows what the user asked: the format by the suffix, an existing file
only with ``--overwrite``, and every ignored input column named in the run's first line."""

from __future__ import annotations

import pandas as pd
import pytest
from tiny_artifact import builtin_history, save_tiny_artifact

from foretune.cli import main
from foretune.commands import run as commands
from foretune.config import experiment_config


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_artifact(tmp_path_factory.mktemp("model") / "ensemble", architectures=("mlp",))


@pytest.fixture
def history(tmp_path):
    path = tmp_path / "hist.parquet"
    builtin_history().to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_predict_writes_the_format_its_suffix_names(model, history, tmp_path, capsys, suffix):
    out = tmp_path / f"forecast.{suffix}"
    assert main(["predict", "--model", str(model), "--data", str(history), "--out", str(out)]) == 0
    read = pd.read_csv(out) if suffix == "csv" else pd.read_parquet(out)
    assert len(read) == 8 * 4 and {"unique_id", "ds", "mean", "q05", "q95"} <= set(read.columns)
    if suffix == "csv":
        assert out.read_text().startswith("unique_id,ds,mean")
    assert f"written to {out}" in capsys.readouterr().out


def test_an_existing_forecast_is_replaced_only_with_overwrite(model, history, tmp_path, capsys):
    out = tmp_path / "forecast.parquet"
    pd.DataFrame({"kept": [1]}).to_parquet(out)
    args = ["predict", "--model", str(model), "--data", str(history), "--out", str(out)]
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    assert list(pd.read_parquet(out).columns) == ["kept"]
    assert main([*args, "--overwrite"]) == 0
    assert "mean" in pd.read_parquet(out).columns


def test_the_run_names_the_columns_it_ignores_before_it_starts(tmp_path, capsys, monkeypatch):
    data = tmp_path / "panel.parquet"
    builtin_history().assign(color="red", promo=1.0, note="x").to_parquet(data, index=False)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt  # the line is printed; no sweep needed

    monkeypatch.setattr(commands, "run_sweep", stop)
    for settings, expected in (
        ({}, ["'color' (text", "'note' (text"]),
        ({"data.covariates": ["promo"]}, ["'color' (not listed in data.covariates)", "'note'"]),
    ):
        config = experiment_config({**settings, "data.path": str(data)})
        with pytest.raises(KeyboardInterrupt):
            commands.sweep(config, tmp_path / "run")
        line = capsys.readouterr().out.splitlines()[0]
        assert "ignored column(s): " in line and all(e in line for e in expected), line
        assert "'promo'" not in line  # used as a covariate
    config = experiment_config({"data.path": str(tmp_path / "plain.parquet")})
    builtin_history().to_parquet(tmp_path / "plain.parquet", index=False)
    with pytest.raises(KeyboardInterrupt):
        commands.sweep(config, tmp_path / "run")
    assert "ignored" not in capsys.readouterr().out


@pytest.mark.parametrize("command", ["evaluate", "explain"])
def test_an_output_directory_inside_the_model_is_refused_before_any_work(
    model, history, tmp_path, capsys, command
):
    before = sorted(p.name for p in model.iterdir())
    out = model / "tables"
    args = [command, "--model", str(model), "--data", str(history), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "--model input" in err and "another directory" in err
    assert sorted(p.name for p in model.iterdir()) == before and not out.exists()


def test_an_output_directory_that_is_a_file_is_refused(model, history, capsys):
    args = ["evaluate", "--model", str(model), "--data", str(history), "--out", str(history)]
    assert main(args) == 2 and "is a file" in capsys.readouterr().err
    assert pd.read_parquet(history).shape[0] > 0
