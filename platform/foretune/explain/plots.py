"""Explain figures, each returned as a matplotlib ``Figure`` (no pyplot state;
``foretune.plotting.png`` encodes one as PNG bytes).

    series_attribution_heatmap(explanation.matrix(uid), title)   # signed, lag x feature
    feature_importance_bars(explanation.ensemble)                  # mean |attribution| per feature

The heat map shows one series' *signed* attributions on a diverging colormap centred on 0 (red
pushes the explained output up, blue down), lag 1 (the most recent input) on top.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from foretune.plotting import attribution_bars, lag_feature_heatmap


def series_attribution_heatmap(matrix: pd.DataFrame, title: str = "") -> Figure:
    """Signed heat map of a ``lag x feature`` frame (index: lags, columns: feature names)."""
    return lag_feature_heatmap(
        matrix,
        signed=True,
        colorbar_label="attribution (+ raises, - lowers the output)",
        title=title or "attribution by lag and feature",
    )


def feature_importance_bars(attributions: pd.DataFrame) -> Figure:
    """Bars of each feature's mean ``|attribution|`` over series and steps, summed over lags.

    ``attributions``: the tidy ``lag, feature, attribution`` rows (e.g. ``Explanation.ensemble``).
    """
    return attribution_bars(attributions)
