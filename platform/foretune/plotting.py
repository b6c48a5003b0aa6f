"""Figure routines shared by the ensemble, the report and the explanations, and ``png``, the one
way a figure becomes PNG bytes (the report and ``Explanation.save`` write files with it). The fan
chart of a forecast is ``ensemble.fan_chart`` (it reads the quantile names of ``metrics``).

    lag_feature_heatmap(matrix, signed=..., colorbar_label=..., title=...)  # lag x feature
    attribution_matrix(attributions)   # mean |attribution| per lag and feature
    attribution_bars(attributions)     # that matrix summed over lags, one bar per feature
    png(fig)                           # bytes of a PNG image

Every figure function returns a ``matplotlib.figure.Figure`` drawn without pyplot (no global
state, headless, safe in worker processes): a notebook shows it, ``fig.savefig`` writes it.
The module sits at the bottom of the flow (it imports nothing of foretune), so every stage
may draw with it.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

DPI = 100


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (``DPI`` dots per inch, cropped to its content)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def empty(ax: Axes, text: str = "no data to plot") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def attribution_matrix(attributions: pd.DataFrame) -> pd.DataFrame:
    """Mean ``|attribution|`` over series and steps: rows are lags (sorted), columns features
    (most important first: largest sum over lags)."""
    a = attributions.assign(_abs=pd.to_numeric(attributions["attribution"], errors="coerce").abs())
    m = a.pivot_table(index="lag", columns="feature", values="_abs", aggfunc="mean").sort_index()
    order = m.sum(axis=0).sort_values(ascending=False, kind="stable").index
    return m[order]


def lag_feature_heatmap(
    matrix: pd.DataFrame,
    *,
    signed: bool,
    colorbar_label: str,
    title: str,
    ylabel: str = "lag (1 = most recent)",
) -> Figure:
    """Heat map of a ``lag x feature`` frame; ``signed`` uses a diverging map centred on 0."""
    values = matrix.to_numpy(np.float64)
    fig = Figure(
        figsize=(min(3.5 + 0.7 * max(values.shape[1], 1), 12), min(2.5 + 0.22 * max(values.shape[0], 1), 12))
    )
    ax = fig.subplots()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        empty(ax)
        return fig
    if signed:
        limit = float(np.abs(finite).max()) or 1.0
        colors = {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
    else:
        colors = {"cmap": "viridis"}
    image = ax.imshow(values, aspect="auto", interpolation="nearest", **colors)
    fig.colorbar(image, ax=ax, label=colorbar_label)
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
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def attribution_bars(attributions: pd.DataFrame) -> Figure:
    """Total attribution per feature: the heat map's mean ``|attribution|`` summed over lags."""
    total = attribution_matrix(attributions).sum(axis=0, min_count=1).dropna()
    total = total.sort_values()
    fig = Figure(figsize=(7, min(1.5 + 0.3 * max(len(total), 1), 10)))
    ax = fig.subplots()
    if total.empty:
        empty(ax)
        return fig
    ax.barh([str(k) for k in total.index], total.to_numpy(np.float64), color="C0")
    ax.set_xlabel("sum over lags of mean |attribution|")
    ax.set_title("attribution by feature")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
