"""The result of explaining an ensemble: :class:`Explanation`, the rows and summary it holds,
and the files it writes.

    explanation.attributions        # unique_id, member, step, lag, feature, attribution
    explanation.matrix("a")         # one series' ensemble attributions as lag x feature
    explanation.save("RUN/explain") # attributions.parquet, heat maps, bars, summary.json
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foretune.models import DIRECTION_CLASSES
from foretune.plotting import png

from .attribution import Attribution, ExplainError
from .plots import feature_importance_bars, series_attribution_heatmap
from .settings import IGSettings, held_channels

#: ``member`` value of the weighted ensemble's rows.
ENSEMBLE = "ensemble"
COLUMNS = ("unique_id", "member", "step", "lag", "feature", "attribution")
ATTRIBUTIONS_FILE = "attributions.parquet"
SUMMARY_FILE = "summary.json"
FEATURES_FILE = "feature_importance.png"
HEATMAP_PREFIX = "heatmap_"


@dataclass
class Explanation:
    """Attributions of one forecast step for several series.

    ``attributions``: tidy frame ``unique_id, member, step, lag, feature, attribution`` where
    ``member`` is ``"<index>:<architecture>"`` (as ``Ensemble.weights``) or ``"ensemble"``;
    ``lag`` 1 is the most recent input step. ``completeness``: one row per series and member
    with ``target, n_steps, output, baseline_output, attribution_sum, delta, relative_error,
    converged`` (plus ``architecture, window, weight``). ``summary``: JSON-ready settings and
    completeness. :meth:`save` writes them with the figures.
    """

    attributions: pd.DataFrame
    completeness: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ensemble(self) -> pd.DataFrame:
        """The weighted ensemble's rows only (what the figures show)."""
        return self.attributions[self.attributions["member"] == ENSEMBLE].reset_index(drop=True)

    def matrix(self, unique_id: str, member: str = ENSEMBLE) -> pd.DataFrame:
        """Attributions of one series and member as a ``lag x feature`` frame (features in order)."""
        a = self.attributions
        rows = a[(a["unique_id"] == str(unique_id)) & (a["member"] == member)]
        if rows.empty:
            raise ExplainError(f"no attributions for series {unique_id!r} and member {member!r}")
        m = rows.pivot(index="lag", columns="feature", values="attribution").sort_index()
        order = [f for f in self.summary.get("features", []) if f in m.columns]
        return m[order or list(m.columns)]

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``attributions.parquet``, ``heatmap_<series>.png`` (signed ensemble attribution,
        lag x feature), ``feature_importance.png`` (mean |attribution| over series, summed over
        lags, per feature) and ``summary.json`` (settings, members and weights, completeness,
        file names) under ``out``; earlier ``heatmap_*.png`` files there are removed first.
        Returns the paths. The ensemble rows can also go to the evaluation report
        (``evaluate.report.write_report(attributions=explanation.ensemble)``).
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(f"{HEATMAP_PREFIX}*.png"):
            stale.unlink()
        paths: dict[str, Path] = {"attributions": out / ATTRIBUTIONS_FILE}
        self.attributions.to_parquet(paths["attributions"], index=False)
        uids = list(dict.fromkeys(self.attributions["unique_id"]))
        names = _file_names(uids)
        s = self.summary
        what = s.get("target_label", s.get("target", "output"))
        for uid in uids:
            path = out / names[uid]
            title = (
                f"{uid}: attribution of {what} at step {s.get('step', '?')} "
                f"(ensemble, baseline {s.get('baseline', '?')})"
            )
            path.write_bytes(png(series_attribution_heatmap(self.matrix(uid), title)))
            paths[f"heatmap:{uid}"] = path
        paths["feature_importance"] = out / FEATURES_FILE
        paths["feature_importance"].write_bytes(png(feature_importance_bars(self.ensemble)))
        paths["summary"] = out / SUMMARY_FILE
        files = {
            "attributions": ATTRIBUTIONS_FILE,
            "heatmaps": {uid: names[uid] for uid in uids},
            "feature_importance": FEATURES_FILE,
        }
        text = json.dumps({**s, "files": files}, indent=2, default=_json_default)
        paths["summary"].write_text(text + "\n")
        return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, tuple)):
        return list(value)
    if isinstance(value, (Path, pd.Timestamp)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _file_names(uids: Sequence[str]) -> dict[str, str]:
    """``heatmap_<id>.png`` with unsafe characters replaced; clashes get ``_<n>`` appended."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for uid in uids:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(uid)).strip("._") or "series"
        name, n = f"{HEATMAP_PREFIX}{stem}.png", 1
        while name.lower() in taken:
            n += 1
            name = f"{HEATMAP_PREFIX}{stem}_{n}.png"
        taken.add(name.lower())
        names[uid] = name
    return names


def tidy_attributions(
    uids: Sequence[str], member: str, step: int, attr: np.ndarray, names: Sequence[str]
) -> pd.DataFrame:
    """``[N, T, F]`` (time in input order) -> tidy rows (:data:`COLUMNS`), lag 1 (most recent) first."""
    n, t, f = attr.shape
    by_lag = attr[:, ::-1, :]  # index k -> lag k + 1
    return pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(uids, dtype=object), t * f),
            "member": member,
            "step": np.int64(step),
            "lag": np.tile(np.repeat(np.arange(1, t + 1, dtype=np.int64), f), n),
            "feature": np.tile(np.asarray(names, dtype=object), n * t),
            "attribution": by_lag.reshape(-1).astype(np.float64),
        },
        columns=list(COLUMNS),
    )


def completeness_frame(
    uids: Sequence[str], member: str, architecture: str, window: int, weight: float, result: Attribution
) -> pd.DataFrame:
    """One completeness row per series for one member (or the ensemble) of an explanation."""
    total = result.attributions.reshape(len(uids), -1).sum(axis=1)
    return pd.DataFrame(
        {
            "unique_id": uids,
            "member": member,
            "architecture": architecture,
            "window": np.int64(window),
            "weight": float(weight),
            "target": result.target,
            "n_steps": result.n_steps,
            "output": result.output,
            "baseline_output": result.baseline_output,
            "attribution_sum": total,
            "delta": result.delta,
            "relative_error": result.relative_error,
            "converged": result.converged,
        }
    )


def target_label(target: str, direction_class: object) -> str:
    """What the attributions explain: ``"forecast"`` or ``"p_<class>"`` (``p_predicted`` too)."""
    if target == "forecast":
        return "forecast"
    if isinstance(direction_class, str):
        return f"p_{direction_class}"  # p_up, p_down, p_flat or p_predicted
    return f"p_{DIRECTION_CLASSES[int(direction_class)]}"


def build_summary(
    uids: Sequence[str],
    names: Sequence[str],
    members: list[dict[str, Any]],
    completeness: pd.DataFrame,
    labels: Sequence[str],
    settings: IGSettings,
    dtype: Any,
) -> dict[str, Any]:
    """The JSON-ready ``summary`` of an explanation: settings, features, members, completeness."""
    import captum

    target = settings.target
    return {
        "method": "integrated_gradients",
        "library": f"captum {captum.__version__}",
        "quadrature": settings.method,
        "dtype": str(dtype).replace("torch.", ""),
        "step": int(settings.step),
        "target": target,
        "target_label": target_label(target, settings.direction_class),
        "direction_class": settings.direction_class if target == "direction" else None,
        "baseline": settings.baseline,
        "held_at_actual_values": [names[i] for i in held_channels(names, settings.held)],
        "features": list(names),
        "lags": "lag 1 is the most recent input step; ensemble rows span 1..max(window), "
        "a member contributes 0 beyond its own window",
        "members": members,
        "series": list(uids),
        "targets": dict(zip(uids, labels, strict=True)),
        "completeness": _completeness_summary(completeness, settings),
    }


def _completeness_summary(completeness: pd.DataFrame, settings: IGSettings) -> dict[str, Any]:
    ens = completeness[completeness["member"] == ENSEMBLE]
    return {
        "tolerance": float(settings.tolerance),
        "atol": float(settings.atol),
        "n_steps_schedule": [int(c) for c in settings.n_steps],
        "all_converged": bool(completeness["converged"].all()),
        "max_relative_error": float(completeness["relative_error"].max()),
        "max_n_steps": int(completeness["n_steps"].max()),
        "ensemble": {
            str(r["unique_id"]): {
                "relative_error": float(r["relative_error"]),
                "delta": float(r["delta"]),
                "n_steps": int(r["n_steps"]),
                "converged": bool(r["converged"]),
            }
            for _, r in ens.iterrows()
        },
        "rows": completeness.to_dict("records"),
    }
