"""The frames the report shows: the sorted leaderboard, its summary by architecture, the
residuals, and which cell of each column is best.

    board = sort_leaderboard(leaderboard)          # best first, failed last
    best = best_cells(summary)                     # column -> rows of its best value
    residuals = residual_frame(forecasts)          # unique_id, segment, step, ds, residual
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from foretune.train.record import LEADERBOARD_COLUMNS, TrialStatus

__all__ = ["best_cells", "by_architecture", "failed_mask", "numeric", "residual_frame", "sort_leaderboard"]

#: The leaderboard's columns the report shows first, in the leaderboard's order.
_LEADING = tuple(
    c
    for c in LEADERBOARD_COLUMNS
    if c in ("trial_id", "architecture", "status", "train_seconds") or c.startswith("val_")
)
_COVERAGE_COL = re.compile(r"^coverage_(\d+(?:\.\d+)?)$")
_HIGHER_BETTER = re.compile(r"(accuracy|^r2|skill)$")
_UNRANKED = re.compile(r"^(n|n_.*|.*_n_undefined|rank|fold|folds|cutoff)$")


def numeric(s: pd.Series) -> pd.Series:
    """``s`` as float64, NaN where a value is not a number."""
    return pd.to_numeric(s, errors="coerce").astype("float64")


def failed_mask(frame: pd.DataFrame) -> pd.Series:
    """The rows of a leaderboard whose ``status`` is failed (none without a ``status``)."""
    if "status" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["status"].astype("string").eq(TrialStatus.FAILED.value).fillna(False).astype(bool)


def sort_leaderboard(leaderboard: pd.DataFrame) -> pd.DataFrame:
    """Best trial first (lowest ``val_loss``), trials without a loss next, failed trials last.

    Columns: the standard ones first, then others, then the hyperparameters ``hp_*`` after the
    metrics, then ``reason``.
    """
    leaderboard = leaderboard.reset_index(drop=True)
    loss = (
        numeric(leaderboard["val_loss"])
        if "val_loss" in leaderboard.columns
        else pd.Series(np.nan, index=leaderboard.index)
    )
    keys = pd.DataFrame(
        {"failed": failed_mask(leaderboard), "no_loss": loss.isna(), "loss": loss},
        index=leaderboard.index,
    )
    order = keys.sort_values(["failed", "no_loss", "loss"], kind="stable").index
    cols = list(leaderboard.columns)
    lead = [c for c in _LEADING if c in cols]
    hp = [c for c in cols if str(c).startswith("hp_")]
    tail = ["reason"] if "reason" in cols else []
    rest = [c for c in cols if c not in lead and c not in hp and c not in tail]
    return leaderboard.loc[order, lead + rest + hp + tail].reset_index(drop=True)


def by_architecture(table: pd.DataFrame, failed: pd.Series) -> pd.DataFrame:
    """Per architecture of a sorted leaderboard: trials, failed, best and median ``val_loss``,
    median ``train_seconds``; best architecture first."""
    frame = pd.DataFrame(
        {
            "architecture": table["architecture"].astype("string").fillna("?"),
            "failed": failed.astype(int),
            "val_loss": numeric(table.get("val_loss", pd.Series(np.nan, index=table.index))),
            "train_seconds": numeric(table.get("train_seconds", pd.Series(np.nan, index=table.index))),
        }
    )
    g = frame.groupby("architecture", sort=False)
    out = pd.DataFrame(
        {
            "trials": g.size(),
            "failed": g["failed"].sum(),
            "best val_loss": g["val_loss"].min(),
            "median val_loss": g["val_loss"].median(),
            "median train_seconds": g["train_seconds"].median(),
        }
    )
    return out.sort_values("best val_loss", na_position="last").reset_index()


def residual_frame(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Residuals ``y - mean`` with ``unique_id, segment, step, ds, residual``, ordered by time.

    ``step`` is the ``step`` column if present, else the position within the series' fold
    (``cutoff`` if present). ``segment`` numbers the stretches the ACF is pooled over: one per
    series, or one per series and fold when folds overlap in time.
    """
    f = forecasts
    has_cutoff = "cutoff" in f.columns and f["cutoff"].notna().any()
    overlapping = bool(f.duplicated(["unique_id", "ds"]).any())
    if overlapping and not has_cutoff:
        f = f.drop_duplicates(["unique_id", "ds"], keep="last")
    fold_keys = ["unique_id", "cutoff"] if has_cutoff else ["unique_id"]
    seg_keys = fold_keys if overlapping else ["unique_id"]
    f = f.sort_values([*fold_keys, "ds"], kind="stable")
    if "step" in f.columns:
        step = numeric(f["step"])
    else:
        step = f.groupby(fold_keys, observed=True, sort=False).cumcount().astype("float64") + 1
    out = pd.DataFrame(
        {
            "unique_id": f["unique_id"],
            "segment": f.groupby(seg_keys, observed=True, sort=False).ngroup(),
            "step": step,
            "ds": f["ds"],
            "residual": numeric(f["y"]) - numeric(f["mean"]),
        }
    )
    return out.sort_values(["segment", "ds"], kind="stable").reset_index(drop=True)


def best_cells(frame: pd.DataFrame) -> dict[str, list[int]]:
    """Row positions of the best value in each ranked numeric column (ties all count).

    Best is the lowest value, except ``*accuracy``, ``r2`` and ``*skill`` (highest) and
    ``coverage_<L>`` (closest to L/100, or to L when the column is in percent); count columns
    (``n``, ``n_*``, ``*_n_undefined``, ``rank``, ``fold(s)``, ``cutoff``) and booleans are not
    ranked.
    """
    best: dict[str, list[int]] = {}
    for col in frame.columns:
        name = str(col)
        if _UNRANKED.match(name) or not pd.api.types.is_numeric_dtype(frame[col]):
            continue
        if pd.api.types.is_bool_dtype(frame[col]):
            continue
        values = numeric(frame[col]).to_numpy()
        ok = np.isfinite(values)
        if not ok.any():
            continue
        key = _ranking_key(name, values, ok)
        target_key = np.min(key[ok])
        hits = np.flatnonzero(ok & np.isclose(key, target_key, rtol=1e-12, atol=1e-15))
        best[name] = hits.tolist()
    return best


def _ranking_key(name: str, values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """What ``best_cells`` minimises for column ``name``: distance to nominal coverage, minus an
    accuracy or skill, else the value itself."""
    match = _COVERAGE_COL.match(name)
    if match:
        target = float(match.group(1))
        target = target / 100.0 if np.nanmax(values[ok]) <= 1.0 + 1e-9 else target
        return np.abs(values - target)
    if _HIGHER_BETTER.search(name):
        return -values
    return values
