"""HTML report: sections, embedded and on-disk PNGs, omitted sections, ACF and helpers."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from foretune.evaluate.plots import acf, pooled_acf
from foretune.evaluate.report import (
    FILES_DIR,
    best_cells,
    pick_series,
    residual_frame,
    series_scores,
    sort_leaderboard,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HORIZON = 6
HEADINGS = (
    "Leaderboard",
    "Training curves",
    "Forecasts",
    "Residuals",
    "Backtest",
    "Calibration",
    "Attributions",
)


# ------------------------------------------------------------------------------------ fixtures
def _history(n_series: int = 3, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    ds = pd.date_range("2020-01-01", periods=n, freq="MS")
    frames = []
    for i in range(n_series):
        t = np.arange(n)
        y = 100 + 5 * i + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1 + i, n)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


def _split(history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train part and a forecast frame (with actuals y) over the last HORIZON points."""
    rng = np.random.default_rng(2)
    last = history.groupby("unique_id")["ds"].transform("max")
    start = last - pd.DateOffset(months=HORIZON - 1)
    test = history[history["ds"] >= start].copy()
    train = history[history["ds"] < start]
    err = rng.normal(0, 1.5, len(test)) * (1 + test["unique_id"].str[1].astype(int))
    fc = test.assign(mean=test["y"] + err)
    for q, z in (("q05", -1.645), ("q25", -0.674), ("q50", 0.0), ("q75", 0.674), ("q95", 1.645)):
        fc[q] = fc["mean"] + z * 3.0
    return train, fc.reset_index(drop=True)


def _leaderboard() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial_id": ["t0", "t1", "t2", "t3"],
            "architecture": ["lstm", "tcn", "lstm", "transformer"],
            "status": ["ok", "ok", "failed", "ok"],
            "val_loss": [0.30, 0.10, np.nan, 0.20],
            "val_mae": [1.0, 0.5, np.nan, 0.8],
            "val_rmse": [1.2, 0.7, np.nan, 1.0],
            "val_smape": [10.0, 5.0, np.nan, 8.0],
            "val_mase": [1.1, 0.6, np.nan, 0.9],
            "train_seconds": [12.0, 30.5, 1.0, 55.0],
            "hp_lr": [1e-3, 3e-4, 1e-2, 1e-3],
            "reason": [None, None, "CUDA <oom> & friends", None],
        }
    )


def _curves() -> pd.DataFrame:
    rows = []
    for k, trial in enumerate(["t0", "t1", "t2", "t3"]):
        for epoch in range(5):
            rows.append(
                {
                    "trial_id": trial,
                    "epoch": epoch,
                    "train_loss": 1.0 / (epoch + 1) + 0.05 * k,
                    "val_loss": np.nan if (k == 2 and epoch > 1) else 1.2 / (epoch + 1) + 0.1 * k,
                }
            )
    return pd.DataFrame(rows)


def _backtest() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["ensemble", "lstm", "naive"],
            "mae": [1.0, 1.5, 2.0],
            "rmse": [1.4, 1.3, 2.5],
            "mase": [0.8, 1.1, np.nan],
            "coverage_90": [0.88, 0.70, 0.99],
            "direction_accuracy": [0.6, 0.7, 0.5],
            "n_series": [3, 3, 3],
        }
    )


def _coverage() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "level": [50, 80, 90],
            "nominal": [0.5, 0.8, 0.9],
            "empirical_before": [0.40, 0.66, 0.78],
            "empirical_after": [0.51, 0.79, 0.90],
        }
    )


def _attributions() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    idx = pd.MultiIndex.from_product(
        [["s0", "s1"], [1, 2], range(1, 9), ["y", "month_sin", "month_cos"]],
        names=["unique_id", "step", "lag", "feature"],
    )
    return pd.DataFrame({"attribution": rng.normal(0, 1, len(idx))}, index=idx).reset_index()


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 10 and image.shape[1] > 10


def _images(page: str) -> list[str]:
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


# --------------------------------------------------------------------------------------- tests
def test_full_report(tmp_path: Path) -> None:
    history = _history()
    train, fc = _split(history)
    path = write_report(
        tmp_path / "out",
        leaderboard=_leaderboard(),
        curves=_curves(),
        history=train,
        forecasts=fc,
        backtest=_backtest(),
        coverage=_coverage(),
        attributions=_attributions(),
        title="demo <run>",
    )
    assert path == tmp_path / "out" / "report.html"
    page = path.read_text(encoding="utf-8")
    assert "<title>demo &lt;run&gt;</title>" in page
    for heading in HEADINGS:
        assert f"<h2>{heading}</h2>" in page
    assert "Not included" not in page

    pngs = sorted((tmp_path / "out" / FILES_DIR).glob("*.png"))
    names = {p.stem for p in pngs}
    assert names == {
        "leaderboard",
        "curves",
        "forecasts",
        "residuals",
        "residual_acf",
        "reliability",
        "attribution_heatmap",
        "attribution_bars",
    }
    embedded = _images(page)
    assert len(embedded) == len(pngs)
    for png in pngs:
        _check_png(png)
        assert f'href="{FILES_DIR}/{png.name}"' in page
        assert base64.b64encode(png.read_bytes()).decode() in embedded

    # escaping: the failure reason is shown, escaped; the failed trial is last
    assert "CUDA &lt;oom&gt; &amp; friends" in page
    assert "<oom>" not in page
    # forecasts: best/median/worst by MASE
    assert "best (MASE" in page and "worst (MASE" in page


def test_empty_call_lists_every_missing_section(tmp_path: Path) -> None:
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert "Not included" in page
    for heading in HEADINGS:
        assert f"<h2>{heading}</h2>" not in page
        assert f"<li>{heading}:" in page
    assert "no leaderboard given" in page
    assert _images(page) == []
    assert list((tmp_path / FILES_DIR).glob("*.png")) == []


def test_partial_inputs_and_stale_files(tmp_path: Path) -> None:
    write_report(tmp_path, coverage=_coverage(), attributions=_attributions())
    assert (tmp_path / FILES_DIR / "reliability.png").exists()
    # second report without coverage: its stale PNG goes, a forecast without y has no residuals
    history = _history(n_series=1)
    _, fc = _split(history)
    fc = fc.drop(columns=["y", "q25", "q75", "q05", "q95"])
    page = write_report(
        tmp_path, history=history, forecasts=fc, leaderboard=_leaderboard().iloc[[1]]
    ).read_text(encoding="utf-8")
    assert "<h2>Forecasts</h2>" in page and "<h2>Leaderboard</h2>" in page
    assert "<h2>Residuals</h2>" not in page and "no actuals" in page
    assert "no intervals drawn" in page
    assert "<h2>Calibration</h2>" not in page
    assert not (tmp_path / FILES_DIR / "reliability.png").exists()
    pngs = {p.stem for p in (tmp_path / FILES_DIR).glob("*.png")}
    assert pngs == {"forecasts", "leaderboard"}
    for p in (tmp_path / FILES_DIR).glob("*.png"):
        _check_png(p)


def test_robust_to_nans_single_series_and_empty(tmp_path: Path) -> None:
    history = _history(n_series=1, n=20)
    history.loc[3, "y"] = np.nan
    train, fc = _split(history)
    fc.loc[0, "y"] = np.nan
    fc.loc[1, "q05"] = np.nan
    curves = _curves()
    curves["val_loss"] = np.nan  # no validation loss at all
    page = write_report(
        tmp_path,
        history=train,
        forecasts=fc,
        curves=curves[curves["trial_id"] == "t1"],
        leaderboard=_leaderboard().assign(val_loss=np.nan),
        backtest=pd.DataFrame({"model": ["a"], "mae": [np.nan]}),
        coverage=_coverage().drop(columns="empirical_after"),
        attributions=pd.DataFrame(columns=["lag", "feature", "attribution"]),
    ).read_text(encoding="utf-8")
    for heading in (
        "Leaderboard",
        "Training curves",
        "Forecasts",
        "Residuals",
        "Backtest",
        "Calibration",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert "attributions is empty" in page
    assert "lowest training loss" in page  # no finite val_loss: ranked by training loss
    for p in (tmp_path / FILES_DIR).glob("*.png"):
        _check_png(p)


def test_missing_required_column_raises_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="forecasts lacks columns"):
        write_report(tmp_path / "x", forecasts=pd.DataFrame({"unique_id": ["a"], "ds": [1]}))
    with pytest.raises(ValueError, match="train_loss or val_loss"):
        write_report(tmp_path / "x", curves=pd.DataFrame({"trial_id": [1], "epoch": [0]}))
    with pytest.raises(TypeError):
        write_report(tmp_path / "x", backtest=[1, 2])  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------- ACF
def test_acf_alternating_series() -> None:
    x = np.tile([1.0, -1.0], 10)  # n = 20, mean 0
    r = acf(x, nlags=3)
    # lag 1: 19 products of -1 over sum of squares 20; lag 2: 18 / 20
    np.testing.assert_allclose(r, [1.0, -19 / 20, 18 / 20, -17 / 20])


def test_acf_hand_case_nan_and_short() -> None:
    # x = 1, 2, 3: demeaned -1, 0, 1; sum sq 2; lag 1: 0; lag 2: -1 -> -0.5; lag 3: no pairs
    r = acf([1.0, 2.0, 3.0], nlags=3)
    np.testing.assert_allclose(r[:3], [1.0, 0.0, -0.5])
    assert np.isnan(r[3])
    # a NaN point is skipped: 1, nan, 3 demeaned -1, ., 1; lag 2: -1 / 2
    r = acf([1.0, np.nan, 3.0], nlags=2)
    assert np.isnan(r[1]) and r[2] == pytest.approx(-0.5)
    assert np.all(np.isnan(acf([2.0, 2.0, 2.0], nlags=1)))  # no variance


def test_pooled_acf_does_not_cross_segments() -> None:
    a, b = np.array([1.0, -1.0]), np.array([5.0, 7.0])  # demeaned: 1,-1 and -1,1
    r = pooled_acf([a, b], nlags=1)
    # lag 1: (-1) + (-1) over 4; concatenating would add a cross pair
    assert r[1] == pytest.approx(-0.5)
    white = np.random.default_rng(0).normal(size=2000)
    assert abs(acf(white, 5)[1:]).max() < 3 / np.sqrt(2000)


def test_pooled_acf_of_many_segments_is_the_sum_over_segments() -> None:
    from foretune.data import builtin_dataset_path

    data = pd.read_parquet(builtin_dataset_path())
    segments = [
        np.diff(np.log(g["y"].to_numpy()))[-k:]
        for k, (_, g) in zip(range(3, 40, 5), data.groupby("unique_id"), strict=True)
    ]
    segments[1][2] = np.nan
    segments[4][0] = np.inf
    segments += [np.array([]), np.full(4, np.nan), np.array([0.3])]  # add nothing
    num, den, pairs = np.zeros(11), 0.0, np.zeros(11)
    for x in segments:  # the definition, one segment at a time
        ok = np.isfinite(x)
        e = np.where(ok, x - x[ok].mean(), 0.0) if ok.any() else np.zeros(len(x))
        den += np.sum(e * e)
        for k in range(min(10, len(x) - 1) + 1):
            num[k] += np.sum(e[: len(x) - k] * e[k:])
            pairs[k] += np.sum(ok[: len(x) - k] & ok[k:])
    expected = np.where(pairs > 0, num / den, np.nan)
    np.testing.assert_allclose(pooled_acf(segments, 10), expected, rtol=1e-12)
    assert np.isnan(pooled_acf([np.array([1.0, 2.0])], 3)[2:]).all()
    assert np.isnan(pooled_acf([], 2)).all()


# ------------------------------------------------------------------------------------- helpers
def test_sort_leaderboard_order_and_columns() -> None:
    lb = _leaderboard()[["reason", "hp_lr", "val_loss", "status", "trial_id", "architecture"]]
    out = sort_leaderboard(lb)
    assert out["trial_id"].tolist() == ["t1", "t3", "t0", "t2"]
    assert list(out.columns) == [
        "trial_id",
        "architecture",
        "status",
        "val_loss",
        "hp_lr",
        "reason",
    ]


def test_best_cells() -> None:
    best = best_cells(_backtest())
    assert best == {
        "mae": [0],
        "rmse": [1],
        "mase": [0],
        "coverage_90": [0],  # |0.88 - 0.9| < |0.99 - 0.9|
        "direction_accuracy": [1],
    }


def test_backtest_models_in_the_index(tmp_path: Path) -> None:
    backtest = _backtest().set_index("model")
    page = write_report(tmp_path, backtest=backtest).read_text(encoding="utf-8")
    assert "<th>model</th>" in page and "<td>ensemble</td>" in page
    assert page.count('class="best"') == 5  # mae, rmse, mase, coverage_90, direction_accuracy


def test_series_scores_and_pick() -> None:
    history = _history()
    train, fc = _split(history)
    scores, metric = series_scores(fc, train)
    assert metric == "mase" and set(scores.index) == {"s0", "s1", "s2"}
    picks = pick_series(scores, ["s0", "s1", "s2"], metric)
    assert [p[1].split()[0] for p in picks] == ["best", "median", "worst"]
    assert picks[0][0] == scores.idxmin() and picks[-1][0] == scores.idxmax()
    scores, metric = series_scores(fc)
    assert metric == "smape"
    _, none = series_scores(fc.drop(columns="y"))
    assert none is None
    assert pick_series(pd.Series(dtype=float), ["a", "b", "c", "d"], None) == [
        ("a", ""),
        ("b", ""),
        ("c", ""),
    ]


def test_residual_frame_steps_with_folds() -> None:
    ds = pd.date_range("2021-01-01", periods=4, freq="MS")
    fc = pd.DataFrame(
        {
            "unique_id": "a",
            "cutoff": [ds[0]] * 3 + [ds[1]] * 3,
            "ds": list(ds[1:4]) + list(ds[2:4]) + [ds[3] + pd.DateOffset(months=1)],
            "y": [1.0, 2.0, 3.0, 2.0, 3.0, 4.0],
            "mean": [0.0, 2.0, 2.0, 2.5, 3.0, 3.0],
        }
    )
    res = residual_frame(fc)
    assert res["step"].tolist() == [1, 2, 3, 1, 2, 3]
    assert res["segment"].nunique() == 2  # overlapping folds are separate stretches
    np.testing.assert_allclose(res["residual"], [1.0, 0.0, 1.0, -0.5, 0.0, 1.0])
