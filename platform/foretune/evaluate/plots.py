"""Report figures: one small function per figure, each returning a matplotlib ``Figure``.

    fig = residuals_figure(residuals)     # show it in a notebook, or foretune.plotting.png(fig)

``fan_chart`` lives in ``foretune.plotting`` (``Ensemble.plot`` draws the same chart) and
``interval_pairs`` in ``metrics``; both are re-exported here.

Figures are drawn on ``matplotlib.figure.Figure`` directly (the Agg renderer, no pyplot), so
nothing touches matplotlib's global state and they work headless and inside worker processes.
Inputs are the long frames ``foretune.evaluate.report.write_report`` documents; the caller has
checked their required columns. Every function tolerates NaNs, a single series or trial and
missing quantile columns; an input with nothing left to plot gives a figure saying so. Colors:
``tab10`` / ``tab20`` (categorical), ``viridis`` (heat map).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from foretune.ensemble.fan_chart import fan_chart
from foretune.metrics import interval_pairs
from foretune.plotting import (
    attribution_bars,
    attribution_matrix,
    empty,
    lag_feature_heatmap,
)

__all__ = [
    "acf",
    "acf_figure",
    "attribution_bars",
    "attribution_heatmap",
    "attribution_matrix",
    "curves_figure",
    "fan_chart",
    "interval_pairs",
    "leaderboard_figure",
    "metric_by_step_figure",
    "pooled_acf",
    "rank_trials",
    "reliability_diagram",
    "residuals_figure",
]


# ------------------------------------------------------------------------------------ helpers
def _finite(values: pd.Series | np.ndarray) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
    return arr[np.isfinite(arr)]


def _maybe_log(ax: Axes, values: np.ndarray, ratio: float = 100.0) -> None:
    """Log y-scale when all values are positive and span more than ``ratio``."""
    v = values[np.isfinite(values)]
    if v.size and v.min() > 0 and v.max() / v.min() > ratio:
        ax.set_yscale("log")


# ---------------------------------------------------------------------------- autocorrelation
def pooled_acf(segments: Sequence[npt.ArrayLike], nlags: int = 20) -> np.ndarray:
    """ACF at lags ``0..nlags`` pooled over independent segments (e.g. one per series).

    ``r_k = sum_s sum_t e_s[t] e_s[t+k] / sum_s sum_t e_s[t]**2`` (the biased estimator, as
    statsmodels' ``acf``) with each segment demeaned on its own; pairs never cross segments. A
    NaN point drops the pairs it is in; lags without pairs are NaN; lag 0 is 1 unless there is
    no variance.
    """
    if nlags < 0:
        raise ValueError(f"nlags must be >= 0, got {nlags}")
    num = np.zeros(nlags + 1)
    pairs = np.zeros(nlags + 1, dtype=np.int64)
    den = 0.0
    parts = [np.asarray(seg, dtype=np.float64).ravel() for seg in segments]
    if parts:  # all segments at once, one after another; a pair counts within a segment only
        x = np.concatenate(parts)
        seg = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
        ok = np.isfinite(x)
        total = np.bincount(seg, weights=np.where(ok, x, 0.0), minlength=len(parts))
        count = np.bincount(seg, weights=ok, minlength=len(parts))
        mean = np.divide(total, count, out=np.zeros(len(parts)), where=count > 0)
        e = np.where(ok, x - mean[seg], 0.0)  # a segment without finite points adds nothing
        den = float(np.sum(e * e))
        for k in range(min(nlags, len(x) - 1) + 1):
            same = seg[: len(x) - k] == seg[k:]
            num[k] = float(np.sum(np.where(same, e[: len(x) - k] * e[k:], 0.0)))
            pairs[k] = int(np.count_nonzero(same & ok[: len(x) - k] & ok[k:]))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den if den > 0 else np.full(nlags + 1, np.nan)
    out[pairs == 0] = np.nan
    return out


def acf(x: npt.ArrayLike, nlags: int = 20) -> np.ndarray:
    """Autocorrelation of one series at lags ``0..nlags`` (see ``pooled_acf``).

    An alternating series ``1, -1, 1, -1, ...`` of length n has lag-1 ACF ``-(n - 1) / n``.
    """
    return pooled_acf([x], nlags)


# ---------------------------------------------------------------------------------- figures
def leaderboard_figure(leaderboard: pd.DataFrame, failed: npt.ArrayLike | None = None) -> Figure:
    """Validation loss and training time by architecture: a box per architecture, a dot per trial.

    Architectures are ordered by median validation loss, the same in both panels; trials
    flagged in ``failed`` (a boolean mask over the rows) are red crosses and skip the boxes.
    """
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2)
    n = len(leaderboard)
    arch = leaderboard.get("architecture", pd.Series("all", index=leaderboard.index))
    arch = arch.astype("string").fillna("?").to_numpy(dtype=object)
    bad = np.zeros(n, bool) if failed is None else np.asarray(failed, dtype=bool)
    loss = (
        pd.to_numeric(leaderboard["val_loss"], errors="coerce").to_numpy(np.float64)
        if "val_loss" in leaderboard.columns
        else np.full(n, np.nan)
    )

    def order_key(name: str) -> tuple[float, str]:
        v = loss[(arch == name) & ~bad & np.isfinite(loss)]
        return (float(np.median(v)) if v.size else np.inf, name)

    names = sorted(set(arch), key=order_key)
    pos = {name: i + 1 for i, name in enumerate(names)}
    rng = np.random.default_rng(0)
    panels = (("val_loss", "validation loss"), ("train_seconds", "training time [s]"))
    for ax, (col, label) in zip(axes, panels, strict=True):
        if col not in leaderboard.columns:
            empty(ax, f"no {col} column")
            continue
        values = pd.to_numeric(leaderboard[col], errors="coerce").to_numpy(np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            empty(ax, f"no finite {col}")
            continue
        x = np.array([pos[a] for a in arch], dtype=np.float64) + rng.uniform(-0.15, 0.15, n)
        boxes = {k: values[(arch == k) & finite & ~bad] for k in names}
        boxes = {k: v for k, v in boxes.items() if v.size}
        if boxes:
            ax.boxplot(
                list(boxes.values()),
                positions=[pos[k] for k in boxes],
                widths=0.5,
                showfliers=False,
            )
        ok, ko = finite & ~bad, finite & bad
        ax.scatter(x[ok], values[ok], s=14, alpha=0.7, color="C0", zorder=3)
        if ko.any():
            ax.scatter(x[ko], values[ko], s=24, marker="x", color="C3", zorder=3, label="failed")
            ax.legend(fontsize=8)
        counts = [f"{k}\n(n={int(np.sum(arch == k))})" for k in names]
        ax.set_xticks(list(pos.values()), counts, fontsize=8)
        ax.set_xlim(0.4, len(names) + 0.6)
        ax.set_ylabel(label)
        ax.set_title(f"{label} by architecture")
        _maybe_log(ax, values[finite])
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def rank_trials(curves: pd.DataFrame) -> tuple[pd.Series, str]:
    """Each trial's minimum loss, best first, and the loss column used.

    ``val_loss`` when it has any finite value, else ``train_loss``; trials without one go last.
    """
    key = "train_loss"
    if "val_loss" in curves.columns and _finite(curves["val_loss"]).size:
        key = "val_loss"
    if key not in curves.columns:
        key = "val_loss"
    loss = pd.to_numeric(curves[key], errors="coerce").replace([np.inf, -np.inf], np.nan)
    best = loss.groupby(curves["trial_id"], sort=False).min()
    return best.sort_values(na_position="last", kind="stable"), key


def curves_figure(curves: pd.DataFrame, max_trials: int = 20) -> Figure:
    """Training curves, one color per trial: validation loss solid, training loss dashed.

    Shows the ``max_trials`` trials with the lowest minimum validation loss (training loss when
    there is no validation loss).
    """
    fig = Figure(figsize=(10, 4.8))
    ax = fig.subplots()
    best, _ = rank_trials(curves)
    chosen = list(best.index[:max_trials])
    cmap = matplotlib.colormaps["tab20" if len(chosen) > 10 else "tab10"]
    plotted = []
    marker = "." if curves["epoch"].nunique() <= 15 else None
    for i, trial in enumerate(chosen):
        g = curves[curves["trial_id"] == trial].sort_values("epoch")
        color = cmap(i % cmap.N)
        drew = False
        for col, style in (("val_loss", "-"), ("train_loss", "--")):
            if col in g.columns:
                y = pd.to_numeric(g[col], errors="coerce").to_numpy(np.float64)
                if np.isfinite(y).any():
                    ax.plot(g["epoch"].to_numpy(), y, style, color=color, lw=1.4, marker=marker)
                    plotted.append(y)
                    drew = True
        if drew:
            ax.plot([], [], "-", color=color, label=str(trial))
    if not plotted:
        empty(ax)
        return fig
    _maybe_log(ax, np.concatenate(plotted), ratio=20.0)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("loss")
    ax.set_title(f"training curves ({len(chosen)} best of {len(best)} trials)")
    ax.grid(alpha=0.3)
    # the style key is an extra artist inside the axes; the trial key (outside) is the
    # axes' own legend, so that bbox_inches="tight" makes room for it
    style_handles = [
        Line2D([], [], color="0.3", ls="-", label="validation"),
        Line2D([], [], color="0.3", ls="--", label="training"),
    ]
    ax.add_artist(ax.legend(handles=style_handles, fontsize=8, loc="upper right"))
    ax.legend(title="trial", fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def residuals_figure(residuals: pd.DataFrame) -> Figure:
    """Residuals ``y - mean`` against forecast step: all points, mean and 5-95% band per step."""
    fig = Figure(figsize=(9, 3.8))
    ax = fig.subplots()
    r = residuals[np.isfinite(residuals["residual"].to_numpy(np.float64))]
    if r.empty:
        empty(ax)
        return fig
    rng = np.random.default_rng(0)
    steps = r["step"].to_numpy(np.float64)
    ax.scatter(
        steps + rng.uniform(-0.15, 0.15, len(r)),
        r["residual"],
        s=8,
        alpha=0.35,
        color="C0",
        label="residual",
    )
    per_step = r.groupby("step")["residual"]
    summary = pd.DataFrame(
        {"mean": per_step.mean(), "lo": per_step.quantile(0.05), "hi": per_step.quantile(0.95)}
    )
    ax.fill_between(
        summary.index,
        summary["lo"],
        summary["hi"],
        color="C1",
        alpha=0.2,
        lw=0,
        label="5-95% per step",
    )
    ax.plot(summary.index, summary["mean"], color="C1", lw=1.8, marker="o", ms=3, label="mean per step")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel("forecast step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("residual (actual - mean)")
    ax.set_title("residuals by forecast step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def acf_figure(values: np.ndarray, n: int) -> Figure:
    """Stem plot of an ACF (lags 1..) with the white-noise band ``+-1.96 / sqrt(n)``."""
    fig = Figure(figsize=(9, 3.4))
    ax = fig.subplots()
    lags = np.arange(len(values))[1:]
    vals = np.asarray(values, dtype=np.float64)[1:]
    keep = np.isfinite(vals)
    if not keep.any() or n < 2:
        empty(ax, "too few residuals for an autocorrelation")
        return fig
    ax.vlines(lags[keep], 0.0, vals[keep], color="C0", lw=2)
    ax.plot(lags[keep], vals[keep], "o", color="C0", ms=4)
    band = 1.96 / np.sqrt(n)
    ax.axhspan(-band, band, color="C0", alpha=0.12, lw=0, label=f"+-1.96/sqrt(n), n={n}")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlim(0.3, lags[keep].max() + 0.7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("lag")
    ax.set_ylabel("autocorrelation")
    ax.set_title("residual autocorrelation")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _reliability_lines(coverage: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame, str]]:
    """``(label, marker, rows, column)`` per line of the reliability diagram."""
    if "empirical_before" in coverage.columns or "empirical" not in coverage.columns:
        return [
            (label, marker, coverage, col)
            for col, marker, label in (
                ("empirical_before", "o", "before calibration"),
                ("empirical_after", "s", "after calibration"),
            )
            if col in coverage.columns
        ]
    if "model" not in coverage.columns:
        return [("backtest", "o", coverage, "empirical")]
    markers = "osD^v<>p*hX"
    return [
        (str(model), markers[i % len(markers)], rows, "empirical")
        for i, (model, rows) in enumerate(coverage.groupby("model", sort=False))
    ]


def reliability_diagram(coverage: pd.DataFrame) -> Figure:
    """Nominal vs empirical interval coverage: before and (if given) after calibration
    (``empirical_before``/``empirical_after``), or a backtest's ``empirical`` coverage, one line
    per ``model`` when that column is present."""
    fig = Figure(figsize=(5.2, 5.0))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="ideal")
    drew = False
    for label, marker, rows, col in _reliability_lines(coverage):
        c = rows.sort_values("nominal")
        nominal = pd.to_numeric(c["nominal"], errors="coerce").to_numpy(np.float64)
        emp = pd.to_numeric(c[col], errors="coerce").to_numpy(np.float64)
        ok = np.isfinite(nominal) & np.isfinite(emp)
        if ok.any():
            ax.plot(nominal[ok], emp[ok], marker=marker, lw=1.5, label=label)
            drew = True
    if not drew:
        ax.text(0.5, 0.5, "no finite coverage values", ha="center", va="center", color="0.4")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("empirical coverage")
    ax.set_title("interval reliability")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


_BASELINE_NAME = ("naive", "seasonal", "auto", "ets", "theta", "arima")


def metric_by_step_figure(steps: pd.DataFrame, metric: str) -> Figure:
    """``metric`` against forecast step, one line per ``model`` (baselines dashed, in gray tones
    after the learned models' colors)."""
    fig = Figure(figsize=(9, 4.2))
    ax = fig.subplots()
    drew = False
    learned = baseline = 0
    for model, g in steps.groupby("model", sort=False):
        g = g.sort_values("step")
        y = pd.to_numeric(g[metric], errors="coerce").to_numpy(np.float64)
        if not np.isfinite(y).any():
            continue
        name = str(model)
        is_baseline = name.lower().startswith(_BASELINE_NAME)
        if is_baseline:
            style = {"ls": "--", "color": str(0.15 + 0.15 * (baseline % 5)), "lw": 1.3}
            baseline += 1
        else:
            style = {"ls": "-", "color": f"C{learned % 10}", "lw": 2.2 if name == "ensemble" else 1.4}
            learned += 1
        ax.plot(g["step"].to_numpy(), y, marker="o", ms=3.5, label=name, **style)
        drew = True
    if not drew:
        empty(ax)
        return fig
    ax.set_xlabel("forecast step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric.upper())
    ax.set_title(f"{metric.upper()} by forecast step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def attribution_heatmap(attributions: pd.DataFrame) -> Figure:
    """Heat map of mean ``|attribution|`` per lag (rows) and feature (columns)."""
    return lag_feature_heatmap(
        attribution_matrix(attributions),
        signed=False,
        colorbar_label="mean |attribution|",
        title="mean |attribution| by lag and feature",
    )
