"""Explain figures drawn on ``matplotlib.figure.Figure`` (no pyplot state), returned as PNG bytes.

The per-feature bar chart reuses ``foretune.evaluate.plots.attribution_bars`` (mean |attribution|
summed over lags). The per-series heat map is here because it shows *signed* attributions of one
series (the evaluation report's heat map averages |attribution| over series): a diverging
colormap centred on 0, red pushes the explained output up, blue down; lag 1 (most recent) on top.
"""

from __future__ import annotations

import pandas as pd

from foretune.evaluate.plots import lag_feature_heatmap


def attribution_heatmap(matrix: pd.DataFrame, title: str = "") -> bytes:
    """Signed heat map of a ``lag x feature`` frame (index: lags, columns: feature names)."""
    return lag_feature_heatmap(
        matrix,
        signed=True,
        colorbar_label="attribution (+ raises, - lowers the output)",
        title=title or "attribution by lag and feature",
    )
