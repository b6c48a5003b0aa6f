"""A series' forecast depends only on its own history, the artifact and the seed: not on which
other series share the frame, nor on their order or the order of the rows.

The ensemble has members with each kind of dropout (plain, variational between recurrent layers,
attention) and a statistical member; forecasts carry sample columns, so the draws themselves are
compared, bit for bit.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_artifact import builtin_history, tiny_ensemble

from foretune.ensemble import Ensemble
from foretune.ensemble.member import Member

SEED = 7
HISTORY = builtin_history()
IDS = list(HISTORY["unique_id"].unique())


@pytest.fixture(scope="module")
def ensemble():
    ens = tiny_ensemble(samples=6)
    ens.members.append(Member.of_statistical("SeasonalNaive", 0.25))
    return ens


@pytest.fixture(scope="module")
def whole(ensemble) -> pd.DataFrame:
    return ensemble.predict(HISTORY, seed=SEED, sample_columns=3)


def rows(forecast: pd.DataFrame, uid: str) -> pd.DataFrame:
    return forecast[forecast["unique_id"] == uid].reset_index(drop=True)


@settings(max_examples=12, deadline=None)
@given(
    kept=st.lists(st.sampled_from(IDS), min_size=1, max_size=len(IDS), unique=True),
    shuffle=st.integers(0, 2**32 - 1),
)
def test_a_series_forecast_ignores_the_other_series_and_all_order(ensemble, whole, kept, shuffle):
    frame = HISTORY[HISTORY["unique_id"].isin(kept)].sample(frac=1.0, random_state=shuffle)
    forecast = ensemble.predict(frame, seed=SEED, sample_columns=3)
    assert list(forecast["unique_id"].unique()) == list(frame["unique_id"].unique())  # input order
    for uid in kept:
        pd.testing.assert_frame_equal(rows(forecast, uid), rows(whole, uid), check_exact=True)


def test_the_seed_decides_the_draws(ensemble, whole):
    other = ensemble.predict(HISTORY, seed=SEED + 1, sample_columns=3)
    assert not np.array_equal(other["sample_0"], whole["sample_0"])
    again = ensemble.predict(HISTORY, seed=SEED, sample_columns=3)
    pd.testing.assert_frame_equal(again, whole, check_exact=True)


def test_a_series_draws_differ_from_another_series_draws(ensemble):
    """Per-series seeds: two series with the very same history still get their own draws."""
    twin = HISTORY[HISTORY["unique_id"] == "cpi"].assign(unique_id="cpi_twin")
    frame = pd.concat([HISTORY[HISTORY["unique_id"] == "cpi"], twin], ignore_index=True)
    forecast = ensemble.predict(frame, seed=SEED, sample_columns=3)
    a, b = rows(forecast, "cpi"), rows(forecast, "cpi_twin")
    assert not np.array_equal(a["sample_0"], b["sample_0"])


@pytest.mark.slow
def test_a_fresh_process_forecasts_the_same(ensemble, whole, tmp_path):
    """The seeds are a stable hash: another process (another PYTHONHASHSEED) draws the same."""
    artifact = tmp_path / "ensemble"
    deep = tiny_ensemble(samples=6)
    deep.save(artifact)
    here = Ensemble.load(artifact).predict(HISTORY, seed=SEED, sample_columns=3)
    script = textwrap.dedent(
        f"""
        import pandas as pd, torch
        from foretune.ensemble import Ensemble
        from foretune.data import builtin_dataset_path
        torch.set_num_threads(1)
        history = pd.read_parquet(builtin_dataset_path())
        Ensemble.load({str(artifact)!r}).predict(history, seed={SEED}, sample_columns=3).to_parquet(
            {str(tmp_path / "there.parquet")!r}
        )
        """
    )
    env = {"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "platform")
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "there.parquet"), here, check_exact=True)
