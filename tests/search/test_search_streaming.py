"""Sweeps on streamed data: inline trials, Ray Train worker shards, the ensemble, auto mode."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from foretune.config import ConfigError
from foretune.data.experiment import streamed_covariates
from foretune.data.synthetic import write_series_parquet
from foretune.ensemble import Ensemble, build_ensemble
from foretune.search import run_sweep


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """40 daily series of 200 rows in 4 time-sliced files."""
    return write_series_parquet(tmp_path_factory.mktemp("in") / "data", 8000, 40, files=4)


def _config(small_config, source, **overrides):
    return small_config(
        **{
            "data.path": str(source),
            "data.streaming": "on",
            "train.max_epochs": 2,
            "search.max_concurrent": 1,
            "ensemble.max_windows": 300,
            **overrides,
        }
    )


def test_streamed_sweep_is_reproducible_and_serves_an_ensemble(
    ray_session, small_config, source, tmp_path, capsys
):
    # one epoch: re-reading the stream every epoch is covered by the two-worker sweep below and
    # by test_data_store's streamed fit; every streamed epoch costs Ray Data executions
    config = _config(small_config, source, **{"train.max_epochs": 1})
    first = run_sweep(config, tmp_path / "a").leaderboard
    assert "through Ray Data" in capsys.readouterr().out
    assert (tmp_path / "a" / "data" / "store.json").is_file()
    assert (first["status"] == "ok").all() and len(first) == 2
    second = run_sweep(config, tmp_path / "b").leaderboard
    pd.testing.assert_series_equal(first["val_loss"], second["val_loss"])

    artifact = build_ensemble(tmp_path / "a", config)
    ensemble = Ensemble.load(artifact)
    frame = pd.read_parquet(source)
    history = frame[frame["unique_id"].isin(["s000001", "s000033"])]
    forecast = ensemble.predict(history)
    assert len(forecast) == 2 * config.data.horizon
    assert forecast[["mean", "p_up"]].notna().all().all()
    # every series can be served: the transform covers all of them, not just the sample
    assert len(ensemble.transform.stats) == 40


def test_streamed_sweep_on_two_ray_train_workers(ray_session, small_config, source, tmp_path):
    config = _config(
        small_config, source, **{"search.trials": 1, "train.num_workers": 2, "train.cpus_per_worker": 0.5}
    )
    board = run_sweep(config, tmp_path / "run").leaderboard
    assert board["status"].tolist() == ["ok"], board["reason"].tolist()
    assert board["val_mase"].notna().all()
    assert (tmp_path / "run" / "leaderboard.parquet").is_file()
    # the TorchTrainer trial checkpoints, and every epoch reached Tune through
    # TuneReportCallback (the in-memory Ray Train trial: tests/cluster/test_cluster_placement.py)
    row = board.iloc[0]
    assert Path(row["checkpoint_path"], "model.pt").is_file()
    curves = pd.read_parquet(tmp_path / "run" / "curves.parquet")
    assert int(row["epochs"]) >= 1 and sorted(curves["epoch"]) == list(range(int(row["epochs"])))


def test_trials_must_leave_cpus_for_ray_data(ray_session, small_config, source, tmp_path):
    config = _config(small_config, source, **{"search.cpus_per_trial": 2.0})
    with pytest.raises(ConfigError, match="data.stream_cpus"):
        run_sweep(config, tmp_path / "run")


def test_auto_streams_only_above_the_threshold(small_config, source):
    config = _config(small_config, source, **{"data.streaming": "auto"})
    assert streamed_covariates(config) is None  # 8000 rows x 8 steps x 4 B is far below 2 GB
    tiny = _config(small_config, source, **{"data.streaming": "auto", "data.stream_above_gb": 1e-6})
    assert streamed_covariates(tiny) == ()
    off = _config(small_config, source, **{"data.streaming": "off"})
    assert streamed_covariates(off) is None
    assert streamed_covariates(small_config(**{"data.streaming": "on"})) is None  # built-in data


def test_refit_is_refused_before_a_streamed_sweep_starts(small_config, source, tmp_path):
    config = _config(small_config, source, **{"ensemble.refit": True})
    with pytest.raises(ConfigError, match="ensemble.refit"):
        run_sweep(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
