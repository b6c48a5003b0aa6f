"""prepare(): train-only fitting, window shapes and counts, chronology, traceability, lengths."""

import numpy as np
import pandas as pd
import pytest

from foretune.data import (
    DataError,
    RatioTransform,
    builtin_dataset_path,
    minimum_length,
    prepare,
    read_frame,
    split_lengths,
    validate,
)

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


def _levels(frame: pd.DataFrame, uid: str, column: str = "y") -> np.ndarray:
    return frame.loc[frame["unique_id"] == uid, column].to_numpy(np.float64)


def _prep(frame, kind="log_ratio", window=T, horizon=H, **kw):
    return prepare(
        validate(frame, transform=kind), window=window, horizon=horizon, transform=RatioTransform(kind), **kw
    )


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
        n_train, _, _ = split_lengths(len(y) - 1, 4, 0.15, 0.1)
        # the transform adds eps = 1e-10 inside the log: an absolute difference below 1e-9
        r = np.log(y[1 : n_train + 1] / y[:n_train])
        s = prep.transform.stats[uid]
        assert s.mu == pytest.approx(r.mean(), rel=0, abs=1e-9)
        assert s.sigma == pytest.approx(r.std(), rel=1e-6)
        assert s.scale == s.sigma


@pytest.mark.parametrize("kind", ["diff", "none"])
def test_stats_equal_hand_computed_train_moments_other_kinds(kind):
    frame = _frame({"a": 60, "b": 45})
    prep = _prep(frame, kind=kind)
    for uid in ("a", "b"):
        y = _levels(frame, uid)
        n_train, _, _ = split_lengths(len(y) - 1, H, 0.15, 0.1)
        r = np.diff(y[: n_train + 1]) if kind == "diff" else y[1 : n_train + 1]
        s = prep.transform.stats[uid]
        assert s.mu == pytest.approx(r.mean(), rel=1e-12)
        assert s.sigma == pytest.approx(r.std(), rel=1e-12)


def test_changing_validation_or_test_values_leaves_stats_unchanged(macro):
    uid = "cpi"
    y = _levels(macro, uid)
    n_train, _, _ = split_lengths(len(y) - 1, 4, 0.15, 0.1)
    before = _stats_of(macro, uid)
    rows = np.flatnonzero(macro["unique_id"] == uid)
    changed = macro.copy()
    # every level after the last training level (val and test parts) doubled / perturbed
    changed.loc[rows[n_train + 1 :], "y"] *= np.linspace(2.0, 5.0, len(rows) - n_train - 1)
    assert _stats_of(changed, uid) == before
    # other series untouched as well
    assert _stats_of(changed, "realgdp") == _stats_of(macro, "realgdp")


@pytest.mark.parametrize("offset", [0, 10, "last"])
def test_changing_a_training_value_changes_stats(macro, offset):
    uid = "cpi"
    y = _levels(macro, uid)
    n_train, _, _ = split_lengths(len(y) - 1, 4, 0.15, 0.1)
    position = n_train if offset == "last" else offset  # y[n_train] is the last training level
    rows = np.flatnonzero(macro["unique_id"] == uid)
    changed = macro.copy()
    changed.loc[rows[position], "y"] *= 1.2
    before, after = _stats_of(macro, uid), _stats_of(changed, uid)
    assert after[0] != before[0] and after[1] != before[1]


def test_covariate_stats_ignore_val_and_test_values():
    frame = _frame({"a": 80}, covariates=2)
    n_train, _, _ = split_lengths(79, H, 0.15, 0.1)
    before = _prep(frame).transform.stats["a"]
    changed = frame.copy()
    changed.loc[n_train + 1 :, "c1"] += 1000.0
    after = _prep(changed).transform.stats["a"]
    assert after.cov_mu == before.cov_mu and after.cov_sigma == before.cov_sigma
    changed.loc[2, "c1"] += 1000.0
    assert _prep(changed).transform.stats["a"].cov_mu != before.cov_mu


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
        assert ws.x.shape == (n, T, 1)
        assert ws.y_reg.shape == (n, H) and ws.y_dir.shape == (n, H)
        assert ws.series.shape == ws.origin.shape == ws.last.shape == (n,)
        assert ws.future.shape == (n, H)
        assert set(np.unique(ws.y_dir)) <= {0, 1, 2}
        assert ws.x.dtype == np.float32 and ws.y_reg.dtype == np.float32
    assert prep.n_features == 1
    assert prep.window == T and prep.horizon == H
    # a random walk gives all three classes in the training labels
    assert set(np.unique(prep.train.y_dir)) == {0, 1, 2}


def test_window_counts_per_split_and_series(synth):
    _, prep = synth
    assert prep.series_ids == ["a", "b", "c"]
    for index, uid in enumerate(prep.series_ids):
        n_train, n_val, n_test = split_lengths(LENGTHS[uid] - 1, H, 0.15, 0.1)
        assert n_train + n_val + n_test == LENGTHS[uid] - 1
        assert np.sum(prep.train.series == index) == n_train - T - H + 1
        assert np.sum(prep.val.series == index) == n_val - H + 1
        assert np.sum(prep.test.series == index) == n_test - H + 1


def test_hand_split_lengths():
    # 100 changes, horizon 3: val round(15) = 15, test round(10) = 10
    assert split_lengths(100, 3, 0.15, 0.1) == (75, 15, 10)
    # horizon is the floor of each held-out part
    assert split_lengths(20, 5, 0.15, 0.1) == (10, 5, 5)
    assert split_lengths(20, 5, 0.15, 0.0) == (15, 5, 0)


def test_chronology_per_series(synth):
    _, prep = synth
    for index in range(len(prep.series_ids)):
        tr = prep.train.origin[prep.train.series == index]
        va = prep.val.origin[prep.val.series == index]
        te = prep.test.origin[prep.test.series == index]
        # targets of a window with origin o are changes o .. o+H-1
        assert (tr + H - 1).max() < va.min()
        assert (va + H - 1).max() < te.min()
        # inputs are strictly before the targets
        assert tr.min() >= T


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


def test_covariates_become_standardised_features():
    frame = _frame({"a": 80, "b": 66}, seed=2, covariates=2)
    prep = _prep(frame)
    assert prep.covariates == ("c0", "c1")
    assert prep.n_features == 3
    for ws in (prep.train, prep.val, prep.test):
        assert ws.x.shape[1:] == (T, 3)
    for index, uid in enumerate(prep.series_ids):
        n = len(_levels(frame, uid))
        n_train, _, _ = split_lengths(n - 1, H, 0.15, 0.1)
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
                    ws.x[i, :, 1:], (cov[o - T + 1 : o + 1] - mu) / sd, rtol=1e-5, atol=1e-5
                )
    # training covariate features are about zero-mean / unit-std
    c = prep.train.x[:, -1, 1:]
    assert np.all(np.abs(c.mean(axis=0)) < 0.3)
    assert np.all(np.abs(c.std(axis=0) - 1.0) < 0.3)


def test_zero_test_fraction_gives_empty_test_split():
    frame = _frame({"a": 40, "b": 33})
    prep = _prep(frame, test_fraction=0.0)
    assert len(prep.test) == 0
    assert prep.test.x.shape == (0, T, 1) and prep.test.y_reg.shape == (0, H)
    for index, uid in enumerate(prep.series_ids):
        n_train, n_val, n_test = split_lengths(len(_levels(frame, uid)) - 1, H, 0.15, 0.0)
        assert n_test == 0
        assert np.sum(prep.train.series == index) == n_train - T - H + 1
        assert np.sum(prep.val.series == index) == n_val - H + 1
        # validation reaches the very last observation
        assert prep.val.origin[prep.val.series == index].max() + H == len(_levels(frame, uid)) - 1


# -- minimum_length -----------------------------------------------------------------------------
CASES = [(6, 3, 0.15, 0.1), (4, 1, 0.2, 0.2), (12, 4, 0.15, 0.0), (2, 1, 0.1, 0.1)]


@pytest.mark.parametrize(("window", "horizon", "vf", "tf"), CASES)
def test_minimum_length_is_the_true_minimum(window, horizon, vf, tf):
    need = minimum_length(window, horizon, vf, tf)
    kw = {"window": window, "horizon": horizon, "val_fraction": vf, "test_fraction": tf}
    ok = _prep(_frame({"ok": need}), **kw)
    assert len(ok.train) >= 1 and len(ok.val) >= 1
    assert len(ok.test) >= (1 if tf > 0 else 0)
    with pytest.raises(DataError, match="'short'"):
        _prep(_frame({"ok": need, "short": need - 1}), **kw)


def test_minimum_length_hand_value():
    # window 6, horizon 3, fractions .15/.1: training needs window + horizon = 9 changes.
    # 15 changes -> val max(3, round(2.25)) = 3, test max(3, round(1.5)) = 3 -> train 9 (ok);
    # 14 changes -> val 3, test 3 -> train 8 (too few); so 16 observations.
    assert split_lengths(15, 3, 0.15, 0.1) == (9, 3, 3)
    assert split_lengths(14, 3, 0.15, 0.1) == (8, 3, 3)
    assert minimum_length(6, 3, 0.15, 0.1) == 16


@pytest.mark.parametrize(("window", "horizon", "vf", "tf"), [(4, 1, 0.2, 0.2), (11, 1, 0.1, 0.1)])
def test_every_series_at_least_minimum_length_gets_windows_in_every_split(window, horizon, vf, tf):
    """Any series that prepare accepts contributes training windows (or prepare raises)."""
    need = minimum_length(window, horizon, vf, tf)
    kw = {"window": window, "horizon": horizon, "val_fraction": vf, "test_fraction": tf}
    for n in range(need, need + 25):
        try:
            prep = _prep(_frame({"s": n}), **kw)
        except DataError:
            continue
        assert len(prep.train) >= 1, f"series of length {n} (minimum {need}) has no train window"
        assert len(prep.val) >= 1 and len(prep.test) >= 1
