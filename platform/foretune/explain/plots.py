"""Explain figures, drawn on ``matplotlib.figure.Figure`` (no pyplot state) and returned as PNG bytes.

    series_attribution_heatmap(explanation.matrix(uid), title)   # signed, lag x feature
    feature_importance_bars(explanation.ensemble)                  # mean |attribution| per feature

The heat map shows one series' *signed* attributions on a diverging colormap centred on 0 (red
pushes the explained output up, blue down), lag 1 (the most recent input) on top.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

DPI = 100


def series_attribution_heatmap(matrix: pd.DataFrame, title: str = "") -> bytes:
    """Signed heat map of a ``lag x feature`` frame (index: lags, columns: feature names)."""
    values = matrix.to_numpy(np.float64)
    fig = Figure(
        figsize=(min(3.5 + 0.7 * max(values.shape[1], 1), 12), min(2.5 + 0.22 * max(values.shape[0], 1), 12))
    )
    ax = fig.subplots()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        _empty(ax)
        return _png(fig)
    limit = float(np.abs(finite).max()) or 1.0
    image = ax.imshow(values, aspect="auto", interpolation="nearest", cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax, label="attribution (+ raises, - lowers the output)")
    ax.set_xticks(
        np.arange(values.shape[1]),
        [str(c) for c in matrix.columns],
        rotation=45,
        ha="right",
        fontsize=8,
    )
    every = max(1, int(np.ceil(len(matrix) / 30)))
    rows = np.arange(0, len(matrix), every)
    ax.set_yticks(rows, [str(matrix.index[i]) for i in rows], fontsize=8)
    ax.set_xlabel("feature")
    ax.set_ylabel("lag (1 = most recent)")
    ax.set_title(title or "attribution by lag and feature", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def feature_importance_bars(attributions: pd.DataFrame) -> bytes:
    """Bars of each feature's mean ``|attribution|`` over series and steps, summed over lags.

    ``attributions``: the tidy ``lag, feature, attribution`` rows (e.g. ``Explanation.ensemble``).
    """
    a = attributions.assign(_abs=pd.to_numeric(attributions["attribution"], errors="coerce").abs())
    mean = a.pivot_table(index="lag", columns="feature", values="_abs", aggfunc="mean").sort_index()
    order = mean.sum(axis=0).sort_values(ascending=False, kind="stable").index
    total = mean[order].sum(axis=0, min_count=1).dropna().sort_values()
    fig = Figure(figsize=(7, min(1.5 + 0.3 * max(len(total), 1), 10)))
    ax = fig.subplots()
    if total.empty:
        _empty(ax)
        return _png(fig)
    ax.barh([str(k) for k in total.index], total.to_numpy(np.float64), color="C0")
    ax.set_xlabel("sum over lags of mean |attribution|")
    ax.set_title("attribution by feature")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _empty(ax: Axes, text: str = "no data to plot") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])
