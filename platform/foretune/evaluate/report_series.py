"""Which series the report's forecast chart shows: each series scored, then the best, median
and worst picked.

    scores, metric = series_scores(forecasts, history)     # MASE (or sMAPE) per series
    picks = pick_series(scores, ids, metric)                # [(uid, "best (MASE 0.8)"), ...]
    chart_frame = last_fold(forecasts)                      # one forecast per (unique_id, ds)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from foretune.data import resolve_freqs, season_lengths
from foretune.metrics import evaluate_forecasts

from .report_html import fmt
from .report_tables import numeric

__all__ = ["last_fold", "pick_series", "series_scores"]


def last_fold(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Each series' last fold (largest ``cutoff``), one row per ``(unique_id, ds)``."""
    f = forecasts
    if "cutoff" in f.columns and f["cutoff"].notna().any():
        last = f.groupby("unique_id", observed=True, sort=False)["cutoff"].transform("max")
        f = f[f["cutoff"] == last]
    return f.drop_duplicates(["unique_id", "ds"], keep="last")


def _folds(forecasts: pd.DataFrame) -> list[pd.DataFrame]:
    if "cutoff" in forecasts.columns and forecasts["cutoff"].notna().any():
        groups = [g for _, g in forecasts.groupby("cutoff", sort=True)]
    else:
        groups = [forecasts]
    return [g.drop_duplicates(["unique_id", "ds"], keep="last") for g in groups]


def series_scores(
    forecasts: pd.DataFrame, history: pd.DataFrame | None = None
) -> tuple[pd.Series, str | None]:
    """Per-series score of ``mean`` vs ``y`` (lower is better) and the metric's name.

    MASE (``history`` as in-sample data, each series' season from its inferred frequency) when
    defined for some series, else sMAPE (also without ``history``); folds (``cutoff``) are
    scored separately and averaged. No ``y`` actuals: an empty series, None.
    """
    if "y" not in forecasts.columns or not numeric(forecasts["y"]).notna().any():
        return pd.Series(dtype="float64"), None
    cols = ["unique_id", "ds", "y", "mean"]
    seasons = season_lengths(resolve_freqs(history)) if history is not None else 1
    per_fold = []
    for fold in _folds(forecasts):
        frame = fold[cols].assign(y=numeric(fold["y"]), mean=numeric(fold["mean"]))
        per_series, _ = evaluate_forecasts(frame, history, season=seasons)
        per_fold.append(per_series)
    scores = pd.concat(per_fold).groupby("unique_id", sort=False, observed=True)
    for metric in ("mase", "smape"):
        if metric in per_fold[0].columns:
            values = scores[metric].mean()
            if values.notna().any():
                return values.astype("float64"), metric
    return pd.Series(dtype="float64"), None


def pick_series(scores: pd.Series, ids: Iterable[Any], metric: str | None) -> list[tuple[Any, str]]:
    """Best, median and worst scored series as ``(unique_id, label)``; else the first three."""
    ranked = scores.dropna().sort_values(kind="stable")
    if ranked.empty or metric is None:
        return [(uid, "") for uid in list(ids)[:3]]
    picks: dict[Any, str] = {}
    for name, pos in (("best", 0), ("median", (len(ranked) - 1) // 2), ("worst", -1)):
        uid = ranked.index[pos]
        if uid not in picks:
            picks[uid] = f"{name} ({metric.upper()} {fmt(ranked.iloc[pos])})"
    return list(picks.items())
