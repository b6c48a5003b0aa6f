"""Figure routines shared by the ensemble, the report and the explanations, and ``png``, the one
way a figure becomes PNG bytes (the report and ``Explanation.save`` write files with it).

    fig = fan_chart(forecast, history, series=["a"])  # history, mean, shaded intervals, actuals
    lag_feature_heatmap(matrix, signed=..., colorbar_label=..., title=...)  # lag x feature
    attribution_matrix(attributions)   # mean |attribution| per lag and feature
    attribution_bars(attributions)     # that matrix summed over lags, one bar per feature
    png(fig)                           # bytes of a PNG image

Every figure function returns a ``matplotlib.figure.Figure`` drawn without pyplot (no global
state, headless, safe in worker processes): a notebook shows it, ``fig.savefig`` writes it.
The module sits at the bottom of the flow (of foretune it imports only ``metrics.interval_pairs``),
so the ensemble may draw with it. utilsforecast's ``plot_series`` draws a forecast's Nixtla view
(``predict(format="nixtla")``) as well, but it is not the same chart, so ``fan_chart`` stays
here: it draws through pyplot (a global figure per call, which the report and worker processes
must not accumulate), picks series at random by default, and has no median, no actuals inside
the forecast window and no line at the forecast origin.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from foretune.metrics import interval_pairs

DPI = 100
MAX_SERIES = 6  # panels a fan chart draws when it is not told which series


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
