"""Explain figures drawn on ``matplotlib.figure.Figure`` (no pyplot state), returned as PNG bytes.

The per-feature bar chart reuses ``foretune.evaluate.plots.attribution_bars`` (mean |attribution|
summed over lags). The per-series heat map is here because it shows *signed* attributions of one
series (the evaluation report's heat map averages |attribution| over series): a diverging
colormap centred on 0, red pushes the explained output up, blue down; lag 1 (most recent) on top.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

DPI = 100


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def attribution_heatmap(matrix: pd.DataFrame, title: str = "") -> bytes:
    """Signed heat map of a ``lag x feature`` frame (index: lags, columns: feature names)."""
    values = matrix.to_numpy(np.float64)
    fig = Figure(
        figsize=(min(3.5 + 0.7 * max(values.shape[1], 1), 12), min(2.5 + 0.22 * max(values.shape[0], 1), 12))
    )
    ax = fig.subplots()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        ax.text(
            0.5, 0.5, "no attributions to plot", ha="center", va="center", transform=ax.transAxes, color="0.4"
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return _png(fig)
    limit = float(np.abs(finite).max()) or 1.0
    image = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="attribution (+ raises, - lowers the output)")
    ax.set_xticks(
        np.arange(values.shape[1]), [str(c) for c in matrix.columns], rotation=45, ha="right", fontsize=8
    )
    every = max(1, int(np.ceil(len(matrix) / 30)))
    rows = np.arange(0, len(matrix), every)
    ax.set_yticks(rows, [str(matrix.index[i]) for i in rows], fontsize=8)
    ax.set_xlabel("feature")
    ax.set_ylabel("lag (1 = most recent)")
    ax.set_title(title or "attribution by lag and feature", fontsize=10)
    fig.tight_layout()
    return _png(fig)
