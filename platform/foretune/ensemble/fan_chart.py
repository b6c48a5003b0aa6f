"""The fan chart of a forecast frame: recent history, mean, median, shaded quantile intervals,
actuals (``Ensemble.plot`` and the report draw with it; ``foretune.plot_forecast`` is it).

    fig = fan_chart(forecast, history, series=["a"])

Like every figure here it is a ``matplotlib.figure.Figure`` drawn without pyplot. utilsforecast's
``plot_series`` draws a forecast's Nixtla view (``predict(format="nixtla")``) as well, but it is
not the same chart, so ``fan_chart`` stays here: it draws through pyplot (a global figure per
call, which the report and worker processes must not accumulate), picks series at random by
default, and has no median, no actuals inside the forecast window and no line at the forecast
origin. It sits in ``ensemble`` because it reads the quantile columns by ``metrics``' names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from foretune.metrics import interval_pairs
from foretune.plotting import empty

MAX_SERIES = 6  # panels a fan chart draws when it is not told which series


def fan_chart(
    forecasts: pd.DataFrame,
    history: pd.DataFrame | None = None,
    series: Sequence[object] | None = None,
    labels: Sequence[str] | None = None,
    history_factor: int = 4,
) -> Figure:
    """Fan chart per series: recent history, forecast mean, shaded quantile intervals, actuals.

    ``forecasts`` holds one forecast per ``(unique_id, ds)`` (one fold, e.g.
    ``Ensemble.predict``'s frame); ``series`` the ids to draw, one panel each (default: the first
    ``MAX_SERIES``). History before the forecast start is cut to the last ``history_factor`` x
    horizon points; history inside the forecast window and a ``y`` column in ``forecasts`` are
    drawn as actuals.
    """
    if series is None:
        series = list(pd.unique(forecasts["unique_id"]))[:MAX_SERIES]
    n = max(len(series), 1)
    fig = Figure(figsize=(10, 3.0 * n))
    axes = np.atleast_1d(fig.subplots(n, 1, squeeze=False)[:, 0])
    if not series:
        empty(axes[0])
        return fig
    pairs = interval_pairs(list(forecasts.columns))
    for i, (ax, uid) in enumerate(zip(axes, series, strict=True)):
        f = forecasts[forecasts["unique_id"] == uid].sort_values("ds")
        if f.empty:
            empty(ax, f"no forecasts for {uid}")
            continue
        if history is not None:
            _draw_history(ax, history[history["unique_id"] == uid], f["ds"].to_numpy(), history_factor)
        _draw_forecast(ax, f, pairs)
        title = str(uid) if labels is None else f"{uid}: {labels[i]}"
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)


def _draw_history(ax: Axes, history: pd.DataFrame, x: np.ndarray, history_factor: int) -> None:
    """One series' history: the last ``history_factor`` x horizon points before the forecast
    dates ``x``, and those inside them."""
    h = history.sort_values("ds")
    before = h[h["ds"] < x[0]].tail(history_factor * len(x))
    inside = h[(h["ds"] >= x[0]) & (h["ds"] <= x[-1])]
    shown = pd.concat([before, inside])
    if not shown.empty:
        ax.plot(shown["ds"].to_numpy(), shown["y"].to_numpy(np.float64), color="k", lw=1.2, label="history")


def _draw_forecast(ax: Axes, f: pd.DataFrame, pairs: list[tuple[float, str, str]]) -> None:
    """One series' forecast ``f`` (sorted by ``ds``): shaded intervals (``pairs`` of
    ``interval_pairs``), mean, median, actuals and a line at the forecast start."""
    x = f["ds"].to_numpy()
    alphas = np.linspace(0.15, 0.4, num=max(len(pairs), 1))
    for (cov, lo, hi), alpha in zip(pairs, alphas, strict=False):
        label = f"{cov * 100:g}% interval"
        ax.fill_between(x, _values(f, lo), _values(f, hi), color="C0", alpha=float(alpha), lw=0, label=label)
    ax.plot(x, _values(f, "mean"), color="C0", lw=1.8, label="forecast mean")
    if "q50" in f.columns:
        ax.plot(x, _values(f, "q50"), color="C0", lw=1.0, ls=":", label="median")
    if "y" in f.columns:
        y = _values(f, "y")
        if np.isfinite(y).any():
            ax.plot(x, y, "o", color="C3", ms=3.5, label="actual")
    ax.axvline(x[0], color="0.6", lw=0.8, ls="--")
