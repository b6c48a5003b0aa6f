"""The split rule over many panels (property test), the lookback defaults, the vectorised MASE
scales, the summary line, and the split keys the config refuses (pointing to val_windows and
test_windows)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foretune.config import ConfigError, ExperimentConfig
from foretune.data import (
    DataError,
    DataSummary,
    RatioTransform,
    SeriesFrame,
    Splits,
    default_windows,
    minimum_length,
    model_inputs,
    prepare,
)
from foretune.metrics import mase_scale, segment_scales


def _panel(lengths: list[int], seed: int) -> SeriesFrame:
    rng = np.random.default_rng(seed)
    ids = [f"s{i:02d}" for i in range(len(lengths))]
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, lengths),
            "ds": np.concatenate([np.arange(n) for n in lengths]),
            "y": 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.05, sum(lengths)))),
            "c": rng.normal(size=sum(lengths)),
        }
    )
    return SeriesFrame(frame, ("c",), {uid: 1 for uid in ids})


@settings(max_examples=150, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 60), min_size=1, max_size=10),
    window=st.integers(1, 20),
    horizon=st.integers(1, 8),
    val_windows=st.integers(1, 3),
    test_windows=st.integers(0, 3),
    holdout_windows=st.integers(0, 2),
    seed=st.integers(0, 1000),
)
def test_every_series_is_kept_and_every_long_enough_series_trains(
    lengths, window, horizon, val_windows, test_windows, holdout_windows, seed
):
    data = _panel(lengths, seed)
    splits = Splits(horizon, val_windows, test_windows, holdout_windows)
    kw = {"window": window, "horizon": horizon, "val_windows": val_windows, "test_windows": test_windows}
    kw["holdout_windows"] = holdout_windows
    if max(lengths) < minimum_length(horizon) + val_windows * horizon:
        with pytest.raises(DataError, match="no series is long enough for a validation window"):
            prepare(data, transform=RatioTransform(), **kw)
        return
    prep = prepare(data, transform=RatioTransform(), **kw)
    assert prep.series_ids == data.series_ids  # no series dropped
    assert set(prep.transform.stats) == set(data.series_ids)  # each can be forecast
    assert prep.n_features == 3
    summary = prep.summary
    assert summary.series == len(lengths)
    assert summary.train + summary.too_short == len(lengths)
    for index, n in enumerate(lengths):
        per = {k: getattr(prep, k).series == index for k in ("train", "val", "test")}
        counts = tuple(int(per[k].sum()) for k in ("train", "val", "test"))
        assert counts == splits.counts(n, window)
        # the tail is held out only where the rest still gives a training and a validation window
        held = splits.held_out(n)
        assert held in (0, holdout_windows * horizon)
        rest = n - holdout_windows * horizon
        assert (held > 0) == (holdout_windows > 0 and rest >= minimum_length(horizon) + val_windows * horizon)
        n -= held  # no window of any split reaches the held-out observations
        assert (counts[0] >= 1) == (n >= horizon + 2)
        n_train, n_val, n_test = splits.lengths(n + held)
        # targets r[o : o+H] of each split lie inside it: train | test | validation
        tr, te, va = (getattr(prep, k).origin[per[k]] for k in ("train", "test", "val"))
        assert np.all(tr >= 1) and np.all(tr + horizon <= n_train)
        assert np.all(te >= n_train) and np.all(te + horizon <= n_train + n_test)
        assert np.all(va >= n_train + n_test) and np.all(va + horizon <= n - 1)
        if n_val:
            assert va.max() + horizon == n - 1
    for name in ("train", "val", "test"):
        ws = getattr(prep, name)
        assert np.isfinite(ws.x).all() and np.isfinite(ws.y_reg).all()
        # the mask marks exactly the input steps at or after the first change
        steps = ws.origin[:, None] - window + np.arange(window)
        np.testing.assert_array_equal(ws.x[..., -1], (steps >= 0).astype(np.float32))
        np.testing.assert_array_equal(ws.x[steps < 0], 0.0)
    # a sampled window equals the forecast input built from its history
    if len(prep.train):
        i = len(prep.train) // 2
        uid = prep.series_ids[prep.train.series[i]]
        rows = data.frame[data.frame["unique_id"] == uid].iloc[: prep.train.origin[i] + 1]
        x = model_inputs(prep.transform, uid, rows["y"].to_numpy(), rows[["c"]].to_numpy(), window)
        np.testing.assert_array_equal(x, prep.train.x[i])


def test_minimum_length_is_horizon_plus_two():
    assert [minimum_length(h) for h in (1, 4, 12)] == [3, 6, 14]
    for h in (1, 4, 12):
        assert Splits(h).counts(minimum_length(h), window=16)[0] == 1
        assert Splits(h).counts(minimum_length(h) - 1, window=16)[0] == 0


def test_summary_line_and_padding_count():
    # horizon 2, window 6: 1 and 3 observations give no window; 4, 6 and 9 are padded; 40 is not
    splits = Splits(2, 1, 1)
    summary = splits.summary(np.array([1, 3, 4, 6, 9, 40]), window=6)
    assert summary == DataSummary(series=6, train=4, padded=3, val=3, test=2, too_short=2)
    assert summary.line() == (
        "data: 6 series; train windows from 4 (3 padded), validation from 3, test from 2; "
        "2 too short to train (still forecast)"
    )
    # holding out 2 windows of horizon 2: only the 9 and 40 keep a training and a validation window
    held = Splits(2, 1, 1, holdout_windows=2)
    np.testing.assert_array_equal(held.held_out(np.array([1, 3, 4, 6, 9, 40])), [0, 0, 0, 0, 0, 4])
    assert held.held_out(10) == 4 and held.lengths(10) == (3, 2, 0)
    assert (
        held.summary(np.array([9, 40]), window=6)
        .line()
        .endswith("; the last 4 steps of 1 series held out for the report")
    )


def test_splits_reject_impossible_settings():
    with pytest.raises(ValueError, match="horizon >= 1"):
        Splits(0)
    with pytest.raises(ValueError, match="val_windows >= 1"):
        Splits(3, 0, 1)
    with pytest.raises(ValueError, match="window must be >= 1"):
        Splits(3).counts(10, 0)


# -- lookback defaults -------------------------------------------------------------------------
def test_default_windows_are_multiples_of_the_larger_of_horizon_and_season():
    assert default_windows(4, 4, [203] * 8) == [2, 4, 8, 12]  # quarterly macro data
    assert default_windows(7, 12, [400, 500, 600]) == [6, 12, 24, 36]
    assert default_windows(1, 1, [100]) == [2, 3]  # each at least 2, deduplicated
    assert default_windows(48, 48, [4000]) == [24, 48, 96, 144]  # half-hourly, a day ahead


def test_default_windows_are_capped_by_the_median_series():
    # median 40, horizon 6: at most 34 -> 6, 12, 24 (36 dropped)
    assert default_windows(6, 12, [20, 40, 400]) == [6, 12, 24]
    # too short for any: the smallest multiple is kept
    assert default_windows(6, 12, [10, 12, 14]) == [6]
    assert default_windows(24, 1, [50]) == [12, 24]  # 50 - 24 = 26: 48 and more dropped


# -- vectorised MASE scales ---------------------------------------------------------------------
@pytest.mark.parametrize("season", [1, 4, 12])
def test_mase_scales_equal_the_metric(season):
    rng = np.random.default_rng(season)
    series = [rng.normal(10, 3, n) for n in (1, 2, 4, 5, 12, 13, 50)] + [np.full(9, 2.0)]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in series])])
    got = segment_scales(np.concatenate(series), offsets, np.full(len(series), season))
    expected = [mase_scale(s, season) for s in series]
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[0]) and np.isnan(got[-1])  # no differences; a zero scale


def test_mase_scales_with_a_season_per_series():
    rng = np.random.default_rng(0)
    series = [rng.normal(size=n) for n in (30, 30, 3, 30)]
    seasons = np.array([1, 7, 7, 12])
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in series])])
    got = segment_scales(np.concatenate(series), offsets, seasons)
    np.testing.assert_allclose(got, [mase_scale(s, p) for s, p in zip(series, seasons, strict=True)])


# -- the configuration keys the rule replaced ---------------------------------------------------
@pytest.mark.parametrize("key", ["val_fraction", "test_fraction"])
def test_old_fraction_keys_name_their_replacement(key):
    with pytest.raises(
        ConfigError, match=rf"data\.{key} was replaced by data\.val_windows and data\.test_windows"
    ):
        ExperimentConfig.from_dict({"data": {"horizon": 4, key: 0.15}})
    with pytest.raises(ConfigError, match=r"data\.val_windows"):
        ExperimentConfig.from_yaml(None, {f"data.{key}": 0.2})


def test_window_counts_in_the_config():
    config = ExperimentConfig.from_yaml(None)
    assert (config.data.val_windows, config.data.test_windows) == ("auto", "auto")
    assert "val_fraction" not in config.to_dict()["data"]
    with pytest.raises(ConfigError, match=r"data\.val_windows"):
        ExperimentConfig.from_dict({"data": {"val_windows": "many"}})
    with pytest.raises(ConfigError, match=r"data\.test_windows"):
        ExperimentConfig.from_dict({"data": {"test_windows": -1}})
    assert ExperimentConfig.from_dict({"data": {"val_windows": 2, "test_windows": 0}}).data.test_windows == 0


def test_default_windows_without_lengths_are_not_capped():
    assert default_windows(4, 4, []) == [2, 4, 8, 12]


def test_auto_split_windows_give_few_series_more_windows_within_their_length():
    from foretune.data.windows import AUTO_WINDOWS_MAX, auto_split_windows

    assert auto_split_windows(12, [708]) == AUTO_WINDOWS_MAX  # one long monthly series
    assert auto_split_windows(24, [241]) == 2  # 0.4 x 241 / (2 x 24): what its length allows
    assert auto_split_windows(4, [195] * 8) == 2  # 8 series: about 10 windows in all
    assert auto_split_windows(6, [20] * 181) == 1  # a large panel: one each
    assert auto_split_windows(24, [60]) == 1  # never fewer than one
    assert auto_split_windows(4, []) == 1


def test_auto_windows_resolve_from_the_data_and_the_ensemble_reads_the_sweeps_choice():
    from foretune.config import ExperimentConfig
    from foretune.data.experiment import load_series, run_splits, with_split_windows, with_windows
    from foretune.errors import ConfigError

    config = ExperimentConfig.from_dict({"data": {"horizon": 4}})
    assert (config.data.val_windows, config.data.test_windows) == ("auto", "auto")
    with pytest.raises(ConfigError, match="auto"):
        run_splits(config)
    resolved = with_windows(config, load_series(config))  # the built-in 8 quarterly series
    assert (resolved.data.val_windows, resolved.data.test_windows) == (2, 2)
    assert run_splits(resolved).val_windows == 2
    streamed = with_split_windows(config, None)  # lengths not known yet: one each
    assert (streamed.data.val_windows, streamed.data.test_windows) == (1, 1)
    explicit = ExperimentConfig.from_dict({"data": {"horizon": 4, "val_windows": 3, "test_windows": 0}})
    assert with_windows(explicit, load_series(explicit)).data.test_windows == 0
