"""The Ray Data series store: same windows, statistics, counts and errors as the in-memory path,
on a ragged panel (series too short to train, train-only, padded and full series)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from foretune.data import DataError, RatioTransform, prepare, read_frame, validate
from foretune.data.store import StoreSettings, build_store, input_covariates, open_dataset
from foretune.data.synthetic import panel_frame
from foretune.train import TrainSpec, fit
from foretune.train.feed import MemoryFeed
from foretune.train.loop import Trainer, score_windows

WINDOW, HORIZON = 10, 3
FIELDS = ("x", "y_reg", "y_dir")
# horizon 3: 5 observations give a training window, 8 validation too, 11 test too; window 10
# pads series with fewer than 2 * 10 - 3 + 3 + 1 = 21 training levels
LENGTHS = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 17, 20, 23, 26, 30, 35, 41, 50, 64, 80, 100, 120, 120]


def _settings(path, covariates=("x0",), **changes) -> StoreSettings:
    values = dict(
        source=str(path),
        covariates=tuple(covariates),
        transform="log_ratio",
        eps=1e-10,
        flat_band=0.25,
        horizon=HORIZON,
        val_windows=1,
        test_windows=1,
    )
    values.update(changes)
    return StoreSettings(**values)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Daily series of LENGTHS (all ending on the same day) with one covariate, spread over 3
    time-sliced files: every long series is in every file, so the store needs a real shuffle."""
    frame = panel_frame(LENGTHS, seed=2, covariates=1)
    directory = tmp_path_factory.mktemp("in") / "data"
    directory.mkdir()
    days = np.sort(frame["ds"].unique())
    for part, chunk in enumerate(np.array_split(days, 3)):
        frame[frame["ds"].isin(chunk)].to_parquet(directory / f"part-{part}.parquet", index=False)
    return directory


@pytest.fixture(scope="module")
def store(ray_session, source, tmp_path_factory):
    return build_store(_settings(source), tmp_path_factory.mktemp("run") / "data")


@pytest.fixture(scope="module")
def in_memory(source):
    # series in id order, as the store keeps them
    frame = read_frame(str(source)).sort_values(["unique_id", "ds"], kind="stable")
    series = validate(frame, transform="log_ratio", covariates=["x0"])
    return prepare(
        series,
        window=WINDOW,
        horizon=HORIZON,
        transform=RatioTransform(),
        val_windows=1,
        test_windows=1,
    )


def _rows(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Each window as one row of its values, rows sorted: compares window sets in any order."""
    flat = np.concatenate([arrays[f].reshape(len(arrays[f]), -1).astype(np.float64) for f in FIELDS], axis=1)
    return flat[np.lexsort(flat.T[::-1])]


def _collect(dataset) -> dict[str, np.ndarray]:
    parts = list(dataset.iter_batches(batch_size=None, batch_format="numpy"))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_the_panel_is_ragged(in_memory):
    summary = in_memory.summary
    assert summary.series == len(LENGTHS)
    assert summary.too_short == 2 and summary.train == len(LENGTHS) - 2  # 3 and 4 observations
    assert summary.val == len(LENGTHS) - 5 and summary.test == len(LENGTHS) - 8
    assert 0 < summary.padded < summary.train


def test_store_has_the_in_memory_statistics(store, in_memory):
    assert store.series_ids == in_memory.series_ids
    assert sorted(store.lengths.tolist()) == sorted(LENGTHS)
    assert store.covariates == ("x0",)
    for uid in store.series_ids:
        a, b = store.transform.stats[uid], in_memory.transform.stats[uid]
        np.testing.assert_allclose(
            [a.mu, a.sigma, a.scale, *a.cov_mu, *a.cov_sigma],
            [b.mu, b.sigma, b.scale, *b.cov_mu, *b.cov_sigma],
        )
    np.testing.assert_allclose(store.mase_scale, in_memory.mase_scale)
    assert store.freqs == in_memory.freqs


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_streamed_windows_equal_the_in_memory_windows(store, in_memory, split):
    streamed = _collect(store.windows(WINDOW, split, scoring=True))
    expected = getattr(in_memory, split)
    assert store.counts(WINDOW)[split] == len(expected) == len(streamed["x"])
    assert store.summary(WINDOW) == in_memory.summary
    assert streamed["x"].shape[1:] == (WINDOW, 3)  # change, covariate, mask
    assert store.n_features == in_memory.n_features == 3
    np.testing.assert_allclose(_rows(streamed), _rows(vars(expected)), rtol=1e-6)
    # scoring columns: the same (last level, future levels) pairs
    pairs = np.column_stack([streamed["last"], streamed["future"]])
    ref = np.column_stack([expected.last, expected.future])
    np.testing.assert_allclose(np.sort(pairs, axis=0), np.sort(ref, axis=0))
    # each window's series statistics travel with it
    by_last = {
        (float(a), *map(float, b)): i for i, (a, b) in enumerate(zip(ref[:, 0], ref[:, 1:], strict=True))
    }
    for k in range(0, len(pairs), 7):
        i = by_last[tuple(float(v) for v in pairs[k])]
        uid = in_memory.series_ids[expected.series[i]]
        assert streamed["mu"][k] == in_memory.transform.stats[uid].mu
        assert streamed["mase_scale"][k] == in_memory.mase_scale[expected.series[i]]


def test_streamed_order_is_fixed(store):
    first = _collect(store.windows(WINDOW, "train"))["y_reg"]
    again = _collect(store.windows(WINDOW, "train"))["y_reg"]
    np.testing.assert_array_equal(first, again)


def test_sample_is_whole_series_with_global_indices(store, in_memory):
    sample = store.sample(WINDOW, max_windows=20, seed=3)
    chosen = np.unique(sample.val.series)
    assert 1 <= len(chosen) < len(store.series_ids)
    assert sample.series_ids == in_memory.series_ids and len(sample.train) == 0
    for part in ("val", "test"):
        ours, ref = getattr(sample, part), getattr(in_memory, part)
        keep = np.isin(ref.series, chosen)
        np.testing.assert_array_equal(ours.series, ref.series[keep])
        np.testing.assert_array_equal(ours.origin, ref.origin[keep])
        np.testing.assert_allclose(ours.x, ref.x[keep], rtol=1e-6)
        np.testing.assert_allclose(ours.future, ref.future[keep])
    again = store.sample(WINDOW, max_windows=20, seed=3)
    np.testing.assert_array_equal(again.val.origin, sample.val.origin)


def test_streamed_fit_scores_like_the_in_memory_scorer(store, in_memory):
    spec = TrainSpec(
        "mlp",
        {"hidden_sizes": [16], "dropout": 0.0},
        WINDOW,
        HORIZON,
        batch_size=32,
        max_epochs=3,
        patience=3,
        seed=1,
    )
    reports = []
    result = fit(spec, store.stream(WINDOW), lambda m, c: reports.append((m, c)))
    assert result.status == "ok" and len(reports) == 4
    final, checkpoint = reports[-1]
    assert checkpoint is not None and checkpoint["n_features"] == 3
    assert reports[2][0]["train_loss"] < reports[0][0]["train_loss"]
    expected = score_windows(result.model, in_memory, in_memory.val)
    for key in ("mae", "rmse", "smape", "mase"):
        assert final[f"val_{key}"] == pytest.approx(expected[key], rel=1e-5)
    # the reported validation loss is the in-memory one of the same (best) weights
    with torch.no_grad():
        reg, _ = result.model(torch.as_tensor(in_memory.val.x))
    assert np.isfinite(final["val_loss"]) and reg.shape == (len(in_memory.val), HORIZON)
    arrays = [(ws.x, ws.y_reg, ws.y_dir, ws.path) for ws in (in_memory.train, in_memory.val)]
    reference = Trainer(spec, result.model, result.model, MemoryFeed(spec, *arrays, torch.device("cpu")))
    assert final["val_loss"] == pytest.approx(reference.val_loss(), rel=1e-5)


def test_a_resumed_run_reuses_its_store_and_refuses_other_settings(store, source):
    written = sorted(p.stat().st_mtime_ns for p in (store.directory / "series").iterdir())
    again = build_store(_settings(source), store.directory, reuse=True)
    assert again.series_ids == store.series_ids
    assert sorted(p.stat().st_mtime_ns for p in (store.directory / "series").iterdir()) == written
    with pytest.raises(DataError, match="other data settings"):
        build_store(_settings(source, horizon=HORIZON + 1), store.directory, reuse=True)


def _write(frame: pd.DataFrame, directory) -> str:
    directory.mkdir()
    frame.to_parquet(directory / "part-0.parquet", index=False)
    return str(directory)


def _good(n: int = 60, uid: str = "a") -> pd.DataFrame:
    y = 50.0 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.02, n)))
    return pd.DataFrame({"unique_id": uid, "ds": np.arange(n), "y": y})


DAMAGES = {
    "bad_nan": (
        lambda f: f.assign(y=f["y"].where(f.index != 30, np.nan)),
        "series 'bad_nan'.*NaN.*data.fill",
    ),
    "bad_dup": (lambda f: pd.concat([f, f.iloc[[5]]]), "series 'bad_dup' has duplicate time stamp ds=5"),
    "bad_neg": (lambda f: f.assign(y=-f["y"]), "series 'bad_neg' has a value <= 0"),
    # the wording of this one is validate.check_series'
    "bad_gap": (lambda f: f.drop(index=[20, 21]), "series 'bad_gap'.*(irregular|frequency|gap|missing)"),
}


def test_bad_series_are_named_before_training(ray_session, tmp_path):
    """One store build over every kind of damage (a build costs far more than a series): the
    error names the first bad series in id order and counts the others, and the store's
    per-series summary, which that error is read from, names each one with its own problem."""
    frames = [_good(uid="fine")] + [damage(_good(uid=uid)) for uid, (damage, _) in DAMAGES.items()]
    frame = pd.concat(frames, ignore_index=True)
    path = _write(frame.sample(frac=1.0, random_state=0), tmp_path / "in")
    first = min(DAMAGES)
    with pytest.raises(DataError, match=DAMAGES[first][1]) as raised:
        build_store(_settings(path, covariates=()), tmp_path / "store")
    assert f"({len(DAMAGES)} series have problems; this is the first)" in str(raised.value)
    table = pq.read_table(tmp_path / "store" / "series", columns=["unique_id", "problem"]).to_pandas()
    problems = dict(zip(table["unique_id"], table["problem"], strict=True))
    assert problems.pop("fine") == "" and sorted(problems) == sorted(DAMAGES)
    for uid, (_, message) in DAMAGES.items():
        assert re.search(message, problems[uid]), (uid, problems[uid])


def test_a_store_without_any_validation_window_is_an_error(ray_session, tmp_path):
    frame = pd.concat([_good(7, "a"), _good(3, "b")], ignore_index=True)  # 7 < 5 + 3
    path = _write(frame, tmp_path / "in")
    with pytest.raises(DataError, match="no series is long enough for a validation window"):
        build_store(_settings(path, covariates=()), tmp_path / "store")


def test_input_columns_are_checked_from_the_schema_alone(tmp_path):
    path = _write(_good().rename(columns={"y": "value"}), tmp_path / "in")
    dataset, _, _ = open_dataset(path)
    with pytest.raises(DataError, match=r"required column\(s\) \['y'\] missing"):
        input_covariates(dataset.schema, None)
    text = _write(_good().assign(note="x"), tmp_path / "text")
    with pytest.raises(DataError, match="covariate column 'note' must be numeric"):
        input_covariates(open_dataset(text)[0].schema, ["note"])
    assert input_covariates(open_dataset(text)[0].schema, None) == ()
    with pytest.raises(DataError, match="does not exist"):
        open_dataset(str(tmp_path / "missing"))
