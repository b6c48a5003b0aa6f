"""One self-contained HTML report of a run: leaderboard, curves, forecasts, backtest, calibration.

    write_report("out/", leaderboard=board, curves=curves, history=history, forecasts=fc,
                 backtest=summary, coverage=coverage, backtest_steps=steps)

writes ``out/report.html`` and its figures as ``out/report_files/<name>.png``. Every input is
optional: a section appears only when its input is given and non-empty, and the page lists the
sections left out with the reason. Images are embedded as base64 data URIs, so the page alone is
complete (it can be mailed or attached to a CI run); no server, no JavaScript. ``run_tables``
reads a run directory's leaderboard and curves; the helpers (``sort_leaderboard``,
``series_scores``, ``pick_series``, ``residual_frame``, ``best_cells``) are public for reuse.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from foretune.data import resolve_freqs, season_lengths
from foretune.errors import DataError
from foretune.metrics import evaluate_forecasts
from foretune.plotting import png
from foretune.rundir import RunDir
from foretune.storage import read_parquet
from foretune.train.record import LEADERBOARD_COLUMNS, TrialStatus

from . import plots

__all__ = [
    "FIGURE_NAMES",
    "REQUIRED",
    "best_cells",
    "pick_series",
    "residual_frame",
    "run_tables",
    "series_scores",
    "sort_leaderboard",
    "write_report",
]

FILES_DIR = "report_files"
FIGURE_NAMES = (
    "leaderboard",
    "curves",
    "forecasts",
    "residuals",
    "residual_acf",
    "reliability",
    "backtest_steps",
    "attribution_heatmap",
    "attribution_bars",
)
"""Every PNG ``write_report`` may write; stale ones are removed before each write."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "leaderboard": ("trial_id",),
    "curves": ("trial_id", "epoch"),
    "history": ("unique_id", "ds", "y"),
    "forecasts": ("unique_id", "ds", "mean"),
    "backtest": (),
    "backtest_steps": ("model", "step"),
    "coverage": ("nominal",),
    "attributions": ("lag", "feature", "attribution"),
}
"""Columns each input must have (``curves`` also needs ``train_loss`` or ``val_loss``,
``coverage`` one of ``empirical_before`` or ``empirical``, ``backtest_steps`` a metric column)."""

STEP_METRICS = ("mase", "smape", "mae")
"""Metrics the error-by-step figure draws, the first present wins."""

ACF_LAGS = 20
MAX_CURVES = 20
#: The leaderboard's columns the report shows first, in the leaderboard's order.
_LEADING = tuple(
    c
    for c in LEADERBOARD_COLUMNS
    if c in ("trial_id", "architecture", "status", "train_seconds") or c.startswith("val_")
)
_COVERAGE_COL = re.compile(r"^coverage_(\d+(?:\.\d+)?)$")
_HIGHER_BETTER = re.compile(r"(accuracy|^r2|skill)$")
_UNRANKED = re.compile(r"^(n|n_.*|.*_n_undefined|rank|fold|folds|cutoff)$")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
nav a{margin-right:1em}.note{color:#666;font-size:.92em}.missing{background:#f7f7f7;
padding:.6em 1em;border-left:3px solid #bbb}.scroll{overflow-x:auto;max-height:36em}
table.tbl{border-collapse:collapse;font-size:.85em;font-variant-numeric:tabular-nums}
table.tbl th,table.tbl td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right;
white-space:nowrap}table.tbl th{background:#fafafa;position:sticky;top:0}
.best{font-weight:bold;color:#1a7f37}.bad{color:#b42318;font-weight:bold}
figure{margin:1em 0}figure img{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}
"""


@dataclass
class _Section:
    key: str
    heading: str
    body: str | None = None
    missing: str | None = None


# ------------------------------------------------------------------------------ data helpers
def _numeric(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _failed_mask(frame: pd.DataFrame) -> pd.Series:
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
        _numeric(leaderboard["val_loss"])
        if "val_loss" in leaderboard.columns
        else pd.Series(np.nan, index=leaderboard.index)
    )
    keys = pd.DataFrame(
        {"failed": _failed_mask(leaderboard), "no_loss": loss.isna(), "loss": loss},
        index=leaderboard.index,
    )
    order = keys.sort_values(["failed", "no_loss", "loss"], kind="stable").index
    cols = list(leaderboard.columns)
    lead = [c for c in _LEADING if c in cols]
    hp = [c for c in cols if str(c).startswith("hp_")]
    tail = ["reason"] if "reason" in cols else []
    rest = [c for c in cols if c not in lead and c not in hp and c not in tail]
    return leaderboard.loc[order, lead + rest + hp + tail].reset_index(drop=True)


def _one_fold(forecasts: pd.DataFrame) -> pd.DataFrame:
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
    if "y" not in forecasts.columns or not _numeric(forecasts["y"]).notna().any():
        return pd.Series(dtype="float64"), None
    cols = ["unique_id", "ds", "y", "mean"]
    seasons = season_lengths(resolve_freqs(history)) if history is not None else 1
    per_fold = []
    for fold in _folds(forecasts):
        frame = fold[cols].assign(y=_numeric(fold["y"]), mean=_numeric(fold["mean"]))
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
            picks[uid] = f"{name} ({metric.upper()} {_fmt(ranked.iloc[pos])})"
    return list(picks.items())


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
        step = _numeric(f["step"])
    else:
        step = f.groupby(fold_keys, observed=True, sort=False).cumcount().astype("float64") + 1
    out = pd.DataFrame(
        {
            "unique_id": f["unique_id"],
            "segment": f.groupby(seg_keys, observed=True, sort=False).ngroup(),
            "step": step,
            "ds": f["ds"],
            "residual": _numeric(f["y"]) - _numeric(f["mean"]),
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
        values = _numeric(frame[col]).to_numpy()
        ok = np.isfinite(values)
        if not ok.any():
            continue
        match = _COVERAGE_COL.match(name)
        if match:
            target = float(match.group(1))
            target = target / 100.0 if np.nanmax(values[ok]) <= 1.0 + 1e-9 else target
            key = np.abs(values - target)
        elif _HIGHER_BETTER.search(name):
            key = -values
        else:
            key = values
        target_key = np.min(key[ok])
        hits = np.flatnonzero(ok & np.isclose(key, target_key, rtol=1e-12, atol=1e-15))
        best[name] = hits.tolist()
    return best


# --------------------------------------------------------------------------------- HTML helpers
def _fmt(value: Any) -> str:
    """Compact cell text: 4 significant digits, thousands as integers, blanks for missing."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if np.isnan(v):
            return ""
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        if 1e4 <= abs(v) < 1e12:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _table(frame: pd.DataFrame, marks: dict[str, dict[int, str]] | None = None) -> str:
    """``to_html`` of the escaped, formatted cells; ``marks[col][row] = css class`` wraps a cell."""
    marks = marks or {}
    cells = {}
    for j, col in enumerate(frame.columns):
        column = []
        for i, value in enumerate(frame.iloc[:, j].tolist()):
            text = html.escape(_fmt(value))
            css = marks.get(str(col), {}).get(i)
            column.append(f'<span class="{css}">{text}</span>' if css else text)
        cells[j] = column
    out = pd.DataFrame(cells, index=range(len(frame)), columns=range(frame.shape[1]))
    out.columns = [html.escape(str(c)) for c in frame.columns]
    body = out.to_html(escape=False, index=False, border=0, classes="tbl", na_rep="")
    return f'<div class="scroll">{body}</div>'


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


class _Figures:
    """Writes each figure's PNG under ``report_files/`` and returns its embedded HTML."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written: list[Path] = []

    def __call__(self, name: str, figure: Figure, caption: str) -> str:
        assert name in FIGURE_NAMES, name
        path = self.directory / f"{name}.png"
        image = png(figure)
        path.write_bytes(image)
        self.written.append(path)
        data = base64.b64encode(image).decode("ascii")
        cap = html.escape(caption)
        href = f"{FILES_DIR}/{name}.png"
        return (
            f'<figure><a href="{href}"><img src="data:image/png;base64,{data}" alt="{cap}">'
            f"</a><figcaption>{cap}</figcaption></figure>"
        )


# ------------------------------------------------------------------------------------ sections
def _leaderboard_section(lb: pd.DataFrame, fig: _Figures) -> str:
    table = sort_leaderboard(lb)
    failed = _failed_mask(table)
    parts = []
    summary = f"{len(table)} trials, {int(failed.sum())} failed."
    if "val_loss" in table.columns and _numeric(table["val_loss"]).notna().any():
        top = table.iloc[0]
        arch = f" ({top['architecture']})" if "architecture" in table.columns else ""
        summary += f" Best: trial {_fmt(top['trial_id'])}{arch}, val_loss {_fmt(top['val_loss'])}."
    parts.append(f"<p>{html.escape(summary)}</p>")
    if "architecture" in table.columns and {"val_loss", "train_seconds"} & set(table.columns):
        parts.append(
            fig(
                "leaderboard",
                plots.leaderboard_figure(table, failed.to_numpy()),
                "Validation loss (left) and training time (right) by architecture; "
                "boxes over trials, one dot per trial.",
            )
        )
        parts.append("<h3>By architecture</h3>" + _table(_by_architecture(table, failed)))
    else:
        parts.append(
            _note("No plot: the leaderboard needs an architecture column and val_loss or train_seconds.")
        )
    marks: dict[str, dict[int, str]] = {}
    if "status" in table.columns:
        marks["status"] = {i: "bad" for i in np.flatnonzero(failed.to_numpy())}
    if "val_loss" in table.columns and not failed.iloc[0] and pd.notna(table["val_loss"].iloc[0]):
        marks["trial_id"] = {0: "best"}
    parts.append("<h3>All trials</h3>" + _table(table, marks))
    return "\n".join(parts)


def _by_architecture(table: pd.DataFrame, failed: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "architecture": table["architecture"].astype("string").fillna("?"),
            "failed": failed.astype(int),
            "val_loss": _numeric(table.get("val_loss", pd.Series(np.nan, index=table.index))),
            "train_seconds": _numeric(table.get("train_seconds", pd.Series(np.nan, index=table.index))),
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


def _curves_section(curves: pd.DataFrame, fig: _Figures) -> str:
    ranking, key = plots.rank_trials(curves)
    shown = min(len(ranking), MAX_CURVES)
    kind = "validation" if key == "val_loss" else "training"
    return fig(
        "curves",
        plots.curves_figure(curves, MAX_CURVES),
        f"Training curves of the {shown} best of {len(ranking)} trials (lowest {kind} loss): "
        "validation solid, training dashed, one color per trial.",
    )


def _forecast_section(forecasts: pd.DataFrame, history: pd.DataFrame | None, fig: _Figures) -> str:
    # best, median and worst series; a backtest with several folds shows each one's last fold
    scores, metric = series_scores(forecasts, history)
    ids = pd.unique(forecasts["unique_id"])
    picks = pick_series(scores, ids, metric)
    parts = []
    if metric is None:
        parts.append(_note(f"No actuals (y) in the forecasts: showing the first {len(picks)} series."))
    else:
        parts.append(
            _note(
                f"{len(ids)} series scored by {metric.upper()} of the forecast mean; "
                "showing the best, median and worst."
            )
        )
    if history is None:
        parts.append(_note("No history given: the chart shows the forecast window only."))
    pairs = plots.interval_pairs(list(forecasts.columns))
    if not pairs:
        parts.append(_note("No symmetric quantile columns (e.g. q05/q95): no intervals drawn."))
    labels = ", ".join(f"{uid} {label}".strip() for uid, label in picks)
    levels = ", ".join(f"{c * 100:g}%" for c, _, _ in pairs) or "none"
    parts.append(
        fig(
            "forecasts",
            plots.fan_chart(
                _one_fold(forecasts), history, [u for u, _ in picks], [label for _, label in picks]
            ),
            f"Forecast mean with shaded intervals ({levels}) after the recent history; series: {labels}.",
        )
    )
    return "\n".join(parts)


def _residual_section(forecasts: pd.DataFrame, fig: _Figures) -> str:
    # the ACF is pooled over series (and folds when they overlap), band +-1.96 / sqrt(n residuals)
    res = residual_frame(forecasts)
    r = res["residual"].to_numpy(np.float64)
    ok = np.isfinite(r)
    n = int(ok.sum())
    cuts = np.flatnonzero(np.diff(res["segment"].to_numpy())) + 1  # res is ordered by segment
    segments = np.split(r, cuts) if len(r) else []
    values = plots.pooled_acf(segments, ACF_LAGS)
    defined = np.flatnonzero(np.isfinite(values[1:]))
    max_lag = int(defined[-1]) + 1 if defined.size else 0
    stats = pd.DataFrame(
        {
            "residuals": [n],
            "mean (bias)": [float(r[ok].mean())],
            "std": [float(r[ok].std(ddof=1)) if n > 1 else np.nan],
            "lag-1 ACF": [values[1] if len(values) > 1 else np.nan],
            "band": [1.96 / np.sqrt(n) if n else np.nan],
        }
    )
    return "\n".join(
        [
            _table(stats),
            fig(
                "residuals",
                plots.residuals_figure(res),
                "Residuals (actual - forecast mean) by forecast step.",
            ),
            fig(
                "residual_acf",
                plots.acf_figure(values, n),
                f"Residual autocorrelation at lags 1-{max_lag} (of up to {ACF_LAGS}: a lag needs "
                f"stretches longer than it), pooled over {len(segments)} stretch(es) "
                "(series, or series x fold when folds overlap); the band is +-1.96/sqrt(n).",
            ),
        ]
    )


def _backtest_section(
    backtest: pd.DataFrame, steps: pd.DataFrame | None = None, fig: _Figures | None = None
) -> str:
    frame = backtest
    if not isinstance(frame.index, pd.RangeIndex):  # models as the index: show as a column
        name = str(frame.index.name or "model")
        while name in frame.columns:
            name += "_"
        frame = frame.rename_axis(name).reset_index()
    best = best_cells(frame)
    marks = {col: dict.fromkeys(rows, "best") for col, rows in best.items()}
    parts = [
        _table(frame, marks),
        _note(
            "Best per column in bold green: lowest error/width/loss, highest accuracy, "
            "coverage_L closest to L%."
        ),
    ]
    if steps is not None and fig is not None:
        parts.append(_steps_section(steps, fig))
    return "\n".join(parts)


def _steps_section(steps: pd.DataFrame, fig: _Figures) -> str:
    metric = next(m for m in STEP_METRICS if m in steps.columns)
    models = pd.unique(steps["model"].astype(str))
    return fig(
        "backtest_steps",
        plots.metric_by_step_figure(steps, metric),
        f"{metric.upper()} by forecast step for {len(models)} model(s), averaged over series "
        "and backtest windows: how fast each model's error grows with the horizon.",
    )


def _coverage_section(coverage: pd.DataFrame, fig: _Figures) -> str:
    cov = coverage.copy()
    value_cols = [c for c in ("nominal", "empirical", "empirical_before", "empirical_after") if c in cov]
    for c in value_cols:
        cov[c] = _numeric(cov[c])
    parts = []
    if cov["nominal"].max() > 1.0:  # given in percent: drawn as fractions
        cov[value_cols] = cov[value_cols] / 100.0
        parts.append(_note("Coverage was given in percent; drawn as fractions."))
    after = "empirical_after" in cov.columns
    backtest = "empirical" in cov.columns and "empirical_before" not in cov.columns
    what = " in the backtest" if backtest else ""
    what += " before and after calibration" if after else ""
    parts.append(
        fig(
            "reliability",
            plots.reliability_diagram(cov),
            f"Nominal vs empirical interval coverage{what}; points on the diagonal are perfectly calibrated.",
        )
    )
    parts.append(_table(coverage))
    return "\n".join(parts)


def _attribution_section(attributions: pd.DataFrame, fig: _Figures) -> str:
    a = attributions
    n_series = a["unique_id"].nunique() if "unique_id" in a.columns else 1
    n_steps = a["step"].nunique() if "step" in a.columns else 1
    return "\n".join(
        [
            fig(
                "attribution_heatmap",
                plots.attribution_heatmap(a),
                f"Mean |attribution| by lag and feature over {n_series} series and "
                f"{n_steps} forecast step(s).",
            ),
            fig(
                "attribution_bars",
                plots.attribution_bars(a),
                "Total attribution per feature (mean |attribution| summed over lags).",
            ),
        ]
    )


# ----------------------------------------------------------------------------------- assembly
def run_tables(run: RunDir) -> dict[str, pd.DataFrame | None]:
    """A run directory's ``leaderboard`` and training ``curves`` (None where absent), as
    ``write_report`` takes them."""
    return {
        "leaderboard": read_parquet(run.leaderboard) if run.leaderboard.is_file() else None,
        "curves": read_parquet(run.curves) if run.curves.is_file() else None,
    }


def _check(name: str, frame: Any) -> pd.DataFrame | None:
    if frame is None:
        return None
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED[name] if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name} lacks columns {missing}; it needs {list(REQUIRED[name])}, "
            f"got {[str(c) for c in frame.columns]}"
        )
    if name == "curves" and not {"train_loss", "val_loss"} & set(frame.columns):
        raise DataError("curves needs a train_loss or val_loss column")
    if name == "coverage" and not {"empirical_before", "empirical"} & set(frame.columns):
        raise DataError("coverage needs an empirical_before or empirical column")
    if name == "backtest_steps" and not set(STEP_METRICS) & set(frame.columns):
        raise DataError(f"backtest_steps needs one of the columns {list(STEP_METRICS)}")
    return frame


def _why_missing(name: str, frame: pd.DataFrame | None) -> str | None:
    if frame is None:
        return f"no {name} given"
    if frame.empty:
        return f"{name} is empty"
    return None


def _page(title: str, sections: list[_Section]) -> str:
    shown = [s for s in sections if s.body is not None]
    left_out = [s for s in sections if s.body is None]
    nav = " ".join(f'<a href="#{s.key}">{html.escape(s.heading)}</a>' for s in shown)
    missing = ""
    if left_out:
        items = "".join(
            f"<li>{html.escape(s.heading)}: {html.escape(s.missing or '')}</li>" for s in left_out
        )
        missing = f'<div class="missing"><p>Not included:</p><ul>{items}</ul></div>'
    body = "\n".join(
        f'<section id="{s.key}">\n<h2>{html.escape(s.heading)}</h2>\n{s.body}\n</section>' for s in shown
    )
    t = html.escape(title)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{t}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<h1>{t}</h1>\n"
        f"<nav>{nav}</nav>\n{missing}\n{body}\n"
        f'<p class="note">Generated by foretune.evaluate.report.</p>\n</body>\n</html>\n'
    )


def write_report(
    out_dir: str | Path,
    *,
    leaderboard: pd.DataFrame | None = None,
    curves: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    forecasts: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
    coverage: pd.DataFrame | None = None,
    attributions: pd.DataFrame | None = None,
    title: str = "foretune report",
    backtest_steps: pd.DataFrame | None = None,
) -> Path:
    """Write ``out_dir/report.html`` (self-contained) and its PNGs; return the HTML's path.

    Sections, each shown only when its input is given: Leaderboard (``leaderboard``), Training
    curves (``curves``), Forecasts (``forecasts``, with ``history``), Residuals (``forecasts``
    with a ``y`` column), Backtest (``backtest``, with an error-by-step figure when
    ``backtest_steps`` is also given), Calibration (``coverage``), Attributions
    (``attributions``). Required columns are in ``REQUIRED``; a frame lacking one raises
    ``DataError`` before anything is written.

    - Forecasts are scored per series by MASE of ``mean`` (sMAPE without ``history``); the chart
      shows the best, median and worst series (the first three without actuals).
    - ``coverage`` has ``nominal`` and ``empirical_before`` (optionally ``empirical_after``:
      a calibration's effect) or ``empirical`` (a backtest's; with ``model``, one line per
      model); coverage given in percent (``nominal`` above 1) is drawn as fractions.
    - ``backtest_steps`` (``model, step`` and a metric) is drawn with the first of ``mase``,
      ``smape``, ``mae`` present; the backtest table marks each column's best (``best_cells``).
    """
    inputs = {
        "leaderboard": leaderboard,
        "curves": curves,
        "history": history,
        "forecasts": forecasts,
        "backtest": backtest,
        "backtest_steps": backtest_steps,
        "coverage": coverage,
        "attributions": attributions,
    }
    frames = {name: _check(name, frame) for name, frame in inputs.items()}
    out = Path(out_dir)
    files = out / FILES_DIR
    files.mkdir(parents=True, exist_ok=True)
    for name in FIGURE_NAMES:
        (files / f"{name}.png").unlink(missing_ok=True)
    fig = _Figures(files)

    hist = frames["history"]
    hist = None if hist is None or hist.empty else hist
    steps = frames["backtest_steps"]
    steps = None if steps is None or steps.empty else steps
    fc = frames["forecasts"]
    has_actuals = fc is not None and "y" in fc.columns and _numeric(fc["y"]).notna().any()
    specs: list[tuple[str, str, str, Any]] = [
        ("leaderboard", "Leaderboard", "leaderboard", lambda f: _leaderboard_section(f, fig)),
        ("curves", "Training curves", "curves", lambda f: _curves_section(f, fig)),
        ("forecasts", "Forecasts", "forecasts", lambda f: _forecast_section(f, hist, fig)),
        ("residuals", "Residuals", "forecasts", lambda f: _residual_section(f, fig)),
        ("backtest", "Backtest", "backtest", lambda f: _backtest_section(f, steps, fig)),
        ("calibration", "Calibration", "coverage", lambda f: _coverage_section(f, fig)),
        ("attributions", "Attributions", "attributions", lambda f: _attribution_section(f, fig)),
    ]
    sections = []
    for key, heading, source, build in specs:
        frame = frames[source]
        why = _why_missing(source, frame)
        if why is None and key == "residuals" and not has_actuals:
            why = "forecasts have no actuals (y column), so there are no residuals"
        if why is None:
            sections.append(_Section(key, heading, body=build(frame)))
        else:
            sections.append(_Section(key, heading, missing=why))

    path = out / "report.html"
    path.write_text(_page(title, sections), encoding="utf-8")
    return path
