"""prepare(): train-only fitting, window shapes and counts, chronology, traceability, padding."""

import numpy as np
import pandas as pd
import pytest

from foretune.data import (
    DataError,
    RatioTransform,
    SeriesFrame,
    Splits,
    builtin_dataset_path,
    features,
    model_inputs,
    prepare,
    read_frame,
    validate,
)
from foretune.metrics import mase_scale

T, H = 6, 3


def _frame(lengths: dict[str, int], seed: int = 0, covariates: int = 0) -> pd.DataFrame:
    """Positive random-walk series of the given lengths, integer time steps."""
    rng = np.random.default_rng(seed)
    parts = []
    for uid, n in lengths.items():
        part = {
            "unique_id": uid,
            "ds": np.arange(n),
            "y": 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.05, n))),
        }
        for c in range(covariates):
            part[f"c{c}"] = rng.normal(5.0 * c, 1.0 + c, n)
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


def series_frame(frame: pd.DataFrame, covariates: tuple[str, ...] = ()) -> SeriesFrame:
    """A ``SeriesFrame`` built directly (any length, even 1): sorted, integer step 1."""
    frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    freqs = {str(uid): 1 for uid in frame["unique_id"].unique()}
    return SeriesFrame(frame, covariates, freqs)


def _levels(frame: pd.DataFrame, uid: str, column: str = "y") -> np.ndarray:
    return frame.loc[frame["unique_id"] == uid, column].to_numpy(np.float64)


def _prep(frame, kind="log_ratio", window=T, horizon=H, **kw):
    return prepare(
        validate(frame, transform=kind),
        window=window,
        horizon=horizon,
        transform=RatioTransform(kind, drift_prior=0.0),
        **kw,
    )


def _n_train(n_obs: int, horizon: int = H, val_windows: int = 1, test_windows: int = 1) -> int:
    return Splits(horizon, val_windows, test_windows).lengths(n_obs)[0]


# -- the split rule at its boundaries (hand values) ---------------------------------------------
def test_split_lengths_at_the_boundaries():
    s = Splits(horizon=3, val_windows=1, test_windows=1)
    # a training window needs 1 input change + 3 target changes = 4 changes = 5 observations
    assert s.lengths(1) == (0, 0, 0)
    assert s.lengths(4) == (3, 0, 0)  # horizon + 1: all training, no window
    assert s.lengths(5) == (4, 0, 0)  # horizon + 2: one training window
    assert s.lengths(7) == (6, 0, 0)  # one change short of validation
    assert s.lengths(8) == (4, 3, 0)  # exactly enough for validation
    assert s.lengths(10) == (6, 3, 0)  # one change short of test
    assert s.lengths(11) == (4, 3, 3)  # exactly enough for validation and test
    assert s.lengths(101) == (94, 3, 3)
    assert Splits(3, 2, 0).lengths(11) == (4, 6, 0)  # two validation windows, no test
    assert Splits(3, 2, 0).lengths(101) == (94, 6, 0)
    assert Splits(2, 1, 3).lengths(12) == (3, 2, 6)


def test_window_counts_at_the_boundaries():
    s = Splits(horizon=3, val_windows=1, test_windows=1)
    assert s.counts(4, window=6) == (0, 0, 0)
    assert s.counts(5, window=6) == (1, 0, 0)  # origin 1: five padded input steps
    assert s.counts(8, window=6) == (1, 1, 0)
    assert s.counts(11, window=6) == (1, 1, 1)
    # 30 training changes: origins 6..27 (full inputs, as without padding)
    assert s.counts(37, window=6) == (22, 1, 1)
    assert s.origins(37, window=6)["train"] == (6, 27)
    # 12 training changes: m = 9 origins at most; only 4 with full inputs, so the last 5 (= window - 1)
    assert s.origins(19, window=6)["train"] == (5, 9)
    # val_windows 2 gives horizon + 1 windows (rolling origins over 2 x horizon changes)
    assert Splits(3, 2, 0).counts(101, window=6) == (94 - 3 - 6 + 1, 4, 0)
    # arrays in, arrays out
    train, val, test = s.counts(np.array([4, 5, 11]), window=6)
    np.testing.assert_array_equal(train, [0, 1, 1])
    np.testing.assert_array_equal(val, [0, 0, 1])
    np.testing.assert_array_equal(test, [0, 0, 1])


@pytest.mark.parametrize("window", [1, 2, 3, 6, 13, 40])
@pytest.mark.parametrize("horizon", [1, 2, 3, 7])
@pytest.mark.parametrize(("val_windows", "test_windows"), [(1, 1), (1, 0), (2, 1), (3, 2)])
def test_splits_are_monotone_in_length(window, horizon, val_windows, test_windows):
    """A longer series never has fewer validation or test windows, never leaves a split, and
    never has fewer training windows unless it just became long enough to hold out a part."""
    s = Splits(horizon, val_windows, test_windows)
    n = np.arange(1, 200)
    train, val, test = s.counts(n, window)
    lengths = s.lengths(n)
    assert np.all(np.diff(val) >= 0) and np.all(np.diff(test) >= 0)
    for counts in (train, val, test):
        assert np.all(np.diff((counts > 0).astype(int)) >= 0), "a longer series left a split"
    held_out = lengths[1] + lengths[2]
    grew = np.diff(held_out) > 0
    assert np.all(np.diff(train)[~grew] >= 0)
    # every series with horizon + 2 observations trains, and none shorter does
    np.testing.assert_array_equal(train > 0, n >= horizon + 2)
    # the parts cover every change and the split lengths are monotone
    np.testing.assert_array_equal(sum(lengths), n - 1)
    assert np.all(np.diff(lengths[1]) >= 0) and np.all(np.diff(lengths[2]) >= 0)
    # validation comes as soon as training keeps one window beside it
    np.testing.assert_array_equal(val > 0, n >= horizon + 2 + val_windows * horizon)


# -- 2. train-only fitting ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def macro() -> pd.DataFrame:
    return read_frame(builtin_dataset_path())


def _stats_of(frame, uid):
    s = _prep(frame, window=8, horizon=4).transform.stats[uid]
    return (s.mu, s.sigma, s.scale)


def test_stats_equal_hand_computed_train_moments(macro):
    prep = _prep(macro, window=8, horizon=4)
    for uid in prep.series_ids:
        y = _levels(macro, uid)
        n_train = _n_train(len(y), 4)
        assert n_train == len(y) - 1 - 8  # validation and test: 4 changes each
        # the transform adds eps = 1e-10 inside the log: an absolute difference below 1e-9
        r = np.log(y[1 : n_train + 1] / y[:n_train])
        s = prep.transform.stats[uid]
        assert s.mu == pytest.approx(r.mean(), rel=0, abs=1e-9)
        assert s.sigma == pytest.approx(r.std(), rel=1e-6)
        assert s.scale == s.sigma


@pytest.mark.parametrize("kind", ["diff", "none"])
def test_stats_equal_hand_computed_train_moments_other_kinds(kind):
    frame = _frame({"a": 60, "b": 45, "c": 9})  # c: 8 changes, too short for test: train 5
    prep = _prep(frame, kind=kind)
    for uid in ("a", "b", "c"):
        y = _levels(frame, uid)
        n_train = _n_train(len(y))
        r = np.diff(y[: n_train + 1]) if kind == "diff" else y[1 : n_train + 1]
        s = prep.transform.stats[uid]
        assert s.mu == pytest.approx(r.mean(), rel=1e-12)
        assert s.sigma == pytest.approx(r.std(), rel=1e-12)
    assert _n_train(9) == 5


def test_train_only_series_fit_on_all_their_changes():
    frame = _frame({"long": 40, "short": 7})  # 6 changes: a training window but no validation
    prep = _prep(frame, kind="diff")
    r = np.diff(_levels(frame, "short"))
    s = prep.transform.stats["short"]
    assert s.mu == pytest.approx(r.mean(), rel=1e-12) and s.sigma == pytest.approx(r.std(), rel=1e-12)


def test_changing_validation_or_test_values_leaves_stats_unchanged(macro):
    uid = "cpi"
    y = _levels(macro, uid)
    n_train = _n_train(len(y), 4)
    before = _stats_of(macro, uid)
    rows = np.flatnonzero(macro["unique_id"] == uid)
    changed = macro.copy()
    # every level after the last training level (test and validation parts) perturbed
    changed.loc[rows[n_train + 1 :], "y"] *= np.linspace(2.0, 5.0, len(rows) - n_train - 1)
    assert _stats_of(changed, uid) == before
    # other series untouched as well
    assert _stats_of(changed, "realgdp") == _stats_of(macro, "realgdp")


@pytest.mark.parametrize("offset", [0, 10, "last"])
def test_changing_a_training_value_changes_stats(macro, offset):
    uid = "cpi"
    y = _levels(macro, uid)
    n_train = _n_train(len(y), 4)
    position = n_train if offset == "last" else offset  # y[n_train] is the last training level
    rows = np.flatnonzero(macro["unique_id"] == uid)
    changed = macro.copy()
    changed.loc[rows[position], "y"] *= 1.2
    before, after = _stats_of(macro, uid), _stats_of(changed, uid)
    assert after[0] != before[0] and after[1] != before[1]


def test_covariate_stats_ignore_val_and_test_values():
    frame = _frame({"a": 80}, covariates=2)
    n_train = _n_train(80)
    before = _prep(frame).transform.stats["a"]
    changed = frame.copy()
    changed.loc[n_train + 1 :, "c1"] += 1000.0
    after = _prep(changed).transform.stats["a"]
    assert after.cov_mu == before.cov_mu and after.cov_sigma == before.cov_sigma
    changed.loc[2, "c1"] += 1000.0
    assert _prep(changed).transform.stats["a"].cov_mu != before.cov_mu


def test_mase_scale_is_the_metric_on_the_training_part(macro):
    prep = _prep(macro, window=8, horizon=4)
    for i, uid in enumerate(prep.series_ids):
        y = _levels(macro, uid)
        expected = mase_scale(y[: _n_train(len(y), 4) + 1], 4)  # quarterly: season 4
        assert prep.mase_scale[i] == pytest.approx(expected, rel=1e-12)


def test_mase_scale_of_short_and_flat_series():
    frame = pd.DataFrame(
        {
            "unique_id": ["a"] * 3 + ["flat"] * 12 + ["b"] * 40,
            "ds": np.concatenate([np.arange(3), np.arange(12), np.arange(40)]),
            "y": np.concatenate([[1.0, 3.0, 2.0], np.full(12, 5.0), np.arange(40.0) ** 1.5]),
        }
    )
    prep = prepare(series_frame(frame), window=4, horizon=2, transform=RatioTransform("diff"))
    assert prep.series_ids == ["a", "b", "flat"]
    y_b = np.arange(40.0) ** 1.5
    assert prep.mase_scale[0] == pytest.approx(1.5)  # |3-1|, |2-3| over all (train-only) levels
    assert prep.mase_scale[1] == pytest.approx(mase_scale(y_b[: _n_train(40, 2) + 1]), rel=1e-12)
    assert np.isnan(prep.mase_scale[2])  # a zero scale is NaN, as in the metric


# -- 3. windows ---------------------------------------------------------------------------------
LENGTHS = {"a": 70, "b": 41, "c": 55}


@pytest.fixture(scope="module")
def synth():
    frame = _frame(LENGTHS, seed=1)
    return frame, _prep(frame)


def test_shapes_and_dtypes(synth):
    _, prep = synth
    for ws in (prep.train, prep.val, prep.test):
        n = len(ws)
        assert n > 0
        assert ws.x.shape == (n, T, 2)  # change and mask
        assert ws.y_reg.shape == (n, H) and ws.y_dir.shape == (n, H)
        assert ws.series.shape == ws.origin.shape == ws.last.shape == (n,)
        assert ws.future.shape == (n, H)
        assert set(np.unique(ws.y_dir)) <= {0, 1, 2}
        assert ws.x.dtype == np.float32 and ws.y_reg.dtype == np.float32
        assert ws.series.dtype == ws.origin.dtype == ws.y_dir.dtype == np.int64
        assert ws.x.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(ws.x[..., -1], 1.0)  # long series: no padding
    assert prep.n_features == 2
    assert prep.window == T and prep.horizon == H
    # a random walk gives all three classes in the training labels
    assert set(np.unique(prep.train.y_dir)) == {0, 1, 2}


def test_window_counts_per_split_and_series(synth):
    _, prep = synth
    assert prep.series_ids == ["a", "b", "c"]
    for index, uid in enumerate(prep.series_ids):
        n = LENGTHS[uid]
        n_train, n_val, n_test = Splits(H).lengths(n)
        assert (n_val, n_test) == (H, H) and n_train == n - 1 - 2 * H
        assert np.sum(prep.train.series == index) == n_train - T - H + 1
        assert np.sum(prep.val.series == index) == 1
        assert np.sum(prep.test.series == index) == 1
        assert Splits(H).counts(n, T) == (n_train - T - H + 1, 1, 1)


def test_chronology_per_series(synth):
    """Training targets, then test targets, then validation targets (the series' last changes)."""
    _, prep = synth
    for index, uid in enumerate(prep.series_ids):
        tr = prep.train.origin[prep.train.series == index]
        va = prep.val.origin[prep.val.series == index]
        te = prep.test.origin[prep.test.series == index]
        # targets of a window with origin o are changes o .. o+H-1
        assert (tr + H - 1).max() < te.min()
        assert (te + H - 1).max() < va.min()
        assert va.max() + H == LENGTHS[uid] - 1  # validation reaches the last observation
        # long series keep the unpadded origins: inputs strictly inside the series
        assert tr.min() == T
        np.testing.assert_array_equal(tr, np.arange(T, tr.max() + 1))


def test_future_last_inputs_and_targets_trace_back_to_the_data(synth):
    frame, prep = synth
    t = prep.transform
    for ws in (prep.train, prep.val, prep.test):
        for i in range(len(ws)):
            uid = prep.series_ids[ws.series[i]]
            y = _levels(frame, uid)
            o = ws.origin[i]
            assert ws.last[i] == y[o]
            np.testing.assert_array_equal(ws.future[i], y[o + 1 : o + 1 + H])
            r = np.log(y[1:] / y[:-1])
            s = t.stats[uid]
            np.testing.assert_allclose(ws.y_reg[i], (r[o : o + H] - s.mu) / s.sigma, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(ws.x[i, :, 0], (r[o - T : o] - s.mu) / s.sigma, rtol=1e-5, atol=1e-5)
            # y_dir: cumulative log change against 0.25 * sigma * sqrt(h)
            cum = np.log(y[o + 1 : o + 1 + H] / y[o])
            band = 0.25 * s.sigma * np.sqrt(np.arange(1, H + 1))
            expected = np.where(cum > band, 2, np.where(cum < -band, 0, 1))
            np.testing.assert_array_equal(ws.y_dir[i], expected)
            # the true future is recovered from the standardised targets
            path = t.unstandardize(uid, ws.y_reg[i].astype(np.float64))
            np.testing.assert_allclose(t.integrate(ws.last[i], path), ws.future[i], rtol=1e-5)


def test_series_index_maps_to_series_ids_on_builtin_data(macro):
    """``series[i]`` indexes ``series_ids`` (the contract in windows.py's docstring).

    The built-in data lists its series in a non-alphabetical order (realgdp first).
    """
    prep = _prep(macro, window=8, horizon=4)
    for ws in (prep.train, prep.val, prep.test):
        for i in range(0, len(ws), 11):
            uid = prep.series_ids[ws.series[i]]
            y = _levels(macro, uid)
            assert ws.last[i] == y[ws.origin[i]], (i, uid)
            np.testing.assert_array_equal(ws.future[i], y[ws.origin[i] + 1 : ws.origin[i] + 5])


def test_series_index_maps_to_series_ids_when_frame_is_not_sorted_by_id():
    frame = _frame({"b": 50, "a": 40}, seed=3)  # "b" comes first in the file
    prep = _prep(frame)
    for ws in (prep.train, prep.val, prep.test):
        for i in range(len(ws)):
            uid = prep.series_ids[ws.series[i]]
            assert ws.last[i] == _levels(frame, uid)[ws.origin[i]], (i, uid)


def test_rows_of_a_series_frame_need_not_be_grouped():
    """Rows interleaved across series (each in time order) give each series the same windows."""
    grouped = series_frame(_frame({"b": 50, "a": 40}, seed=3))
    mixed = SeriesFrame(grouped.frame.iloc[::-1].sort_values("ds", kind="stable"), (), grouped.freqs)
    assert mixed.frame["unique_id"].iloc[:4].tolist() == ["b", "a", "b", "a"]
    one, other = (prepare(d, window=T, horizon=H, transform=RatioTransform()) for d in (grouped, mixed))
    assert one.series_ids == other.series_ids == ["a", "b"]
    for name in ("train", "val", "test"):
        a, b = getattr(one, name), getattr(other, name)
        for f in ("x", "y_reg", "y_dir", "series", "origin", "last", "future"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def test_covariates_become_standardised_features():
    frame = _frame({"a": 80, "b": 66}, seed=2, covariates=2)
    prep = _prep(frame)
    assert prep.covariates == ("c0", "c1")
    assert prep.n_features == 4  # change, two covariates, mask
    for ws in (prep.train, prep.val, prep.test):
        assert ws.x.shape[1:] == (T, 4)
    for index, uid in enumerate(prep.series_ids):
        n = len(_levels(frame, uid))
        n_train = _n_train(n)
        cov = np.stack([_levels(frame, uid, "c0"), _levels(frame, uid, "c1")], axis=1)
        mu, sd = cov[: n_train + 1].mean(axis=0), cov[: n_train + 1].std(axis=0)
        s = prep.transform.stats[uid]
        np.testing.assert_allclose(s.cov_mu, mu, rtol=1e-12)
        np.testing.assert_allclose(s.cov_sigma, sd, rtol=1e-12)
        for ws in (prep.train, prep.test):
            for i in np.flatnonzero(ws.series == index):
                o = ws.origin[i]
                # feature row k pairs change r[k] (y[k] -> y[k+1]) with the covariates at k+1
                np.testing.assert_allclose(
                    ws.x[i, :, 1:3], (cov[o - T + 1 : o + 1] - mu) / sd, rtol=1e-5, atol=1e-5
                )
    # training covariate features are about zero-mean / unit-std
    c = prep.train.x[:, -1, 1:3]
    assert np.all(np.abs(c.mean(axis=0)) < 0.3)
    assert np.all(np.abs(c.std(axis=0) - 1.0) < 0.3)


def test_zero_test_windows_give_an_empty_test_split():
    frame = _frame({"a": 40, "b": 33})
    prep = _prep(frame, test_windows=0)
    assert len(prep.test) == 0
    assert prep.test.x.shape == (0, T, 2) and prep.test.y_reg.shape == (0, H)
    for index, uid in enumerate(prep.series_ids):
        n = len(_levels(frame, uid))
        n_train, n_val, n_test = Splits(H, 1, 0).lengths(n)
        assert (n_val, n_test) == (H, 0)
        assert np.sum(prep.train.series == index) == n_train - T - H + 1
        assert np.sum(prep.val.series == index) == 1
        # validation reaches the very last observation
        assert prep.val.origin[prep.val.series == index].max() + H == n - 1


def test_several_validation_windows_roll_over_the_last_steps():
    frame = _frame({"a": 60})
    prep = _prep(frame, val_windows=2, test_windows=2)
    # 59 changes: validation the last 6, test the 6 before, train 47
    np.testing.assert_array_equal(prep.val.origin, np.arange(53, 57))
    np.testing.assert_array_equal(prep.test.origin, np.arange(47, 51))
    np.testing.assert_array_equal(prep.train.origin, np.arange(T, 47 - H + 1))


# -- padding and the mask -----------------------------------------------------------------------
def _hand_series() -> SeriesFrame:
    # diff changes r = [1, 3, 2, -1]; covariate at each level
    frame = pd.DataFrame(
        {
            "unique_id": "s",
            "ds": np.arange(5),
            "y": [10.0, 11.0, 14.0, 16.0, 15.0],
            "c": [1.0, 2.0, 3.0, 10.0, 20.0],
        }
    )
    return series_frame(frame, ("c",))


def test_padding_and_mask_on_a_hand_made_short_series():
    """Horizon 1, window 3, 4 changes: train r[0:2], test r[2], validation r[3].

    Training statistics (levels 10, 11, 14): mu = 2, sigma = 1 for the changes [1, 3]; the
    covariate's mean 2 and std sqrt(2/3) over [1, 2, 3]. A feature row holds the standardised
    change into a level, the covariate at that level, and the mask.
    """
    prep = prepare(_hand_series(), window=3, horizon=1, transform=RatioTransform("diff", drift_prior=0.0))
    s = prep.transform.stats["s"]
    assert (s.mu, s.sigma) == (2.0, 1.0)
    sd = np.sqrt(2 / 3)
    assert s.cov_mu == [2.0] and s.cov_sigma == pytest.approx([sd])
    # train origin 1 (the only one): inputs r[-2], r[-1] (padding) and r[0] = 1 -> -1
    np.testing.assert_array_equal(prep.train.origin, [1])
    np.testing.assert_allclose(prep.train.x[0], [[0, 0, 0], [0, 0, 0], [-1, 0, 1]], atol=1e-7)
    np.testing.assert_allclose(prep.train.y_reg, [[1.0]])  # r[1] = 3
    assert prep.train.last.tolist() == [11.0] and prep.train.future.tolist() == [[14.0]]
    # test origin 2: one padded step, then r[0], r[1]
    np.testing.assert_array_equal(prep.test.origin, [2])
    np.testing.assert_allclose(prep.test.x[0], [[0, 0, 0], [-1, 0, 1], [1, 1 / sd, 1]], atol=1e-6)
    np.testing.assert_allclose(prep.test.y_reg, [[0.0]])  # r[2] = 2
    # validation origin 3: no padding
    np.testing.assert_array_equal(prep.val.origin, [3])
    np.testing.assert_allclose(prep.val.x[0], [[-1, 0, 1], [1, 1 / sd, 1], [0, 8 / sd, 1]], atol=1e-6)
    np.testing.assert_allclose(prep.val.y_reg, [[-3.0]])  # r[3] = -1
    assert prep.val.future.tolist() == [[15.0]]
    assert prep.n_features == 3
    assert prep.summary.padded == 1


def test_model_inputs_pad_the_same_way_and_features_carry_the_mask():
    data = _hand_series()
    prep = prepare(data, window=3, horizon=1, transform=RatioTransform("diff", drift_prior=0.0))
    t, y, cov = prep.transform, data.frame["y"].to_numpy(), data.frame[["c"]].to_numpy()
    sd = np.sqrt(2 / 3)
    np.testing.assert_allclose(
        features(t, "s", y, cov),
        [[-1, 0, 1], [1, 1 / sd, 1], [0, 8 / sd, 1], [-3, 18 / sd, 1]],
        atol=1e-6,
    )
    assert features(t, "s", y, cov).dtype == np.float32
    for ws in (prep.train, prep.test, prep.val):
        o = ws.origin[0]
        np.testing.assert_array_equal(model_inputs(t, "s", y[: o + 1], cov[: o + 1], 3), ws.x[0])
    # a one-level history is all padding; a long window pads the whole history on the left
    np.testing.assert_array_equal(model_inputs(t, "s", y[:1], cov[:1], 3), np.zeros((3, 3)))
    long = model_inputs(t, "s", y, cov, 6)
    np.testing.assert_array_equal(long[:2], 0.0)
    np.testing.assert_array_equal(long[2:], features(t, "s", y, cov))
    np.testing.assert_array_equal(model_inputs(t, "s", y, cov, 2), long[-2:])


def test_every_window_is_model_inputs_of_its_history():
    """Train and forecast build inputs alike, padded or not, on a ragged panel with covariates."""
    frame = _frame({"a": 5, "b": 9, "c": 14, "d": 23, "e": 60}, seed=5, covariates=1)
    prep = _prep(frame, window=8, horizon=2)
    t = prep.transform
    for ws in (prep.train, prep.val, prep.test):
        for i in range(len(ws)):
            uid = prep.series_ids[ws.series[i]]
            o = ws.origin[i]
            history = frame[frame["unique_id"] == uid].iloc[: o + 1]
            x = model_inputs(t, uid, history["y"].to_numpy(), history[["c0"]].to_numpy(), 8)
            np.testing.assert_array_equal(x, ws.x[i])
            pad = max(0, 8 - o)  # inputs r[o-8 .. o-1]: r[k] with k < 0 are padding
            np.testing.assert_array_equal(ws.x[i, :pad], 0.0)
            np.testing.assert_array_equal(ws.x[i, pad:, -1], 1.0)


def test_padding_only_where_needed():
    """Full-input origins where a series has window - 1 of them; short series start at origin 1."""
    window, horizon = 6, 2
    frame = _frame({"tiny": 4, "short": 8, "mid": 16, "long": 30}, seed=6)
    prep = _prep(frame, window=window, horizon=horizon, test_windows=0)
    origins = {uid: prep.train.origin[prep.train.series == i] for i, uid in enumerate(prep.series_ids)}
    # tiny: 3 changes, all training (too short for validation): origin 1 only
    np.testing.assert_array_equal(origins["tiny"], [1])
    # short: 7 changes, validation the last 2, train 5: origins 1..3, all padded
    np.testing.assert_array_equal(origins["short"], [1, 2, 3])
    # mid: 15 changes, train 13: m = 11 > 2 * window - 3: full inputs from origin 6
    # long: the same rule as before padding existed
    np.testing.assert_array_equal(origins["mid"], np.arange(6, 12))
    np.testing.assert_array_equal(origins["long"], np.arange(6, 26))
    # 12 levels: train 9, m = 7: only 2 full-input origins, so the last window - 1 = 5 (3..7)
    plateau = _prep(_frame({"p": 12}), window=window, horizon=horizon, test_windows=0)
    np.testing.assert_array_equal(plateau.train.origin, np.arange(3, 8))
    assert prep.summary.padded == 2 and plateau.summary.padded == 1


# -- ragged panels: every series trains or is still forecast --------------------------------------
def test_short_series_are_kept_and_counted():
    """1, 2 and horizon + 1 observations: no training window, but still in series_ids."""
    lengths = {"one": 1, "two": 2, "h1": 4, "h2": 5, "val": 8, "full": 40}
    frame = _frame(lengths, seed=7)
    prep = prepare(series_frame(frame), window=T, horizon=H, transform=RatioTransform())
    assert prep.series_ids == sorted(lengths)
    assert set(prep.transform.stats) == set(lengths)
    per = {
        uid: tuple(int(np.sum(getattr(prep, k).series == i)) for k in ("train", "val", "test"))
        for i, uid in enumerate(prep.series_ids)
    }
    assert per == {
        "one": (0, 0, 0),
        "two": (0, 0, 0),
        "h1": (0, 0, 0),
        "h2": (1, 0, 0),
        "val": (1, 1, 0),
        "full": (40 - 1 - 6 - T - H + 1, 1, 1),
    }
    assert prep.summary.line() == (
        "data: 6 series; train windows from 3 (2 padded), validation from 2, test from 1; "
        "3 too short to train (still forecast)"
    )
    assert np.isfinite(prep.train.x).all() and np.isfinite(prep.val.x).all()


def test_a_panel_without_any_validation_window_is_an_error():
    frame = _frame({"a": 7, "b": 6, "c": 2}, seed=8)  # 7 observations: 6 changes < 4 + 3
    with pytest.raises(DataError, match=r"no series is long enough for a validation window") as err:
        prepare(series_frame(frame), window=T, horizon=H, transform=RatioTransform())
    message = str(err.value)
    assert "at least 8 observations" in message and "the longest has 7" in message
    assert "data.horizon" in message and "data.val_windows" in message
    # one series long enough is all it takes
    ok = prepare(series_frame(_frame({"a": 8, "b": 6})), window=T, horizon=H, transform=RatioTransform())
    assert ok.summary.val == 1 and len(ok.val) == 1


def test_builtin_summary_line(macro):
    prep = _prep(macro, window=8, horizon=4)
    assert prep.summary.line() == (
        "data: 8 series; train windows from 8 (0 padded), validation from 8, test from 8; "
        "0 too short to train (still forecast)"
    )
