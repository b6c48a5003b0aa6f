"""Attributions of a saved ensemble's forecast: every member, and the weighted ensemble, per series.

    explanation = explain_ensemble(Ensemble.load("RUN/ensemble"), history, step=1)
    explanation.attributions   # unique_id, member, step, lag, feature, attribution
    explanation.completeness   # one row per series and member (and "ensemble")
    explanation.save("RUN/explain")   # parquet, one heat map per series, bars, summary.json

Inputs are built as ``Ensemble.predict`` builds them (``Ensemble.inputs``): every series with an
observation, a short one left-padded behind the mask channel, whose attributions are reported
as feature ``"mask"`` (``feature_names``); a lag in the padding has input 0 and, against the
zeros baseline, attribution 0.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from foretune.ensemble import Ensemble
from foretune.models import DIRECTION_CLASSES
from foretune.plotting import png

from .attribution import (
    ATOL,
    BASELINES,
    N_STEPS,
    TOLERANCE,
    Attribution,
    ExplainError,
    check_request,
    integrated_gradients,
    prepare_model,
    require_captum,
)
from .plots import feature_importance_bars, series_attribution_heatmap

#: ``member`` value of the weighted ensemble's rows.
ENSEMBLE = "ensemble"
COLUMNS = ("unique_id", "member", "step", "lag", "feature", "attribution")
ATTRIBUTIONS_FILE = "attributions.parquet"
SUMMARY_FILE = "summary.json"
FEATURES_FILE = "feature_importance.png"
HEATMAP_PREFIX = "heatmap_"


#: Name of the mask channel (1 real step, 0 left padding), the last input feature.
MASK = "mask"


def feature_names(covariates: Sequence[str]) -> list[str]:
    """Input feature names in model order: ``"y"`` (standardised change of y), the covariates
    (past by name, then ``futr:<name>``, ``cal:<kind>_sin/_cos``, ``static:<name>``), then the
    mask channel ``"mask"`` (``"(mask)"`` when a covariate is called ``mask``)."""
    names = ["y", *[str(c) for c in covariates]]
    return [*names, MASK if MASK not in names else f"({MASK})"]


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


def _inputs(
    ensemble: Ensemble, data: pd.DataFrame | str | Path, series: Sequence[Any] | None, **covariates: Any
) -> tuple[list[str], dict[int, np.ndarray]]:
    """Series keys and each window's member inputs ``[N, window, F]``, as ``predict`` builds them
    (``covariates``: ``futr_df`` and ``static_df``, as for ``predict``)."""
    inputs = ensemble.inputs(data, series, **covariates)
    return list(inputs.uids), inputs.windows


def _predicted_classes(
    ensemble: Ensemble,
    inputs: dict[int, np.ndarray],
    step: int,
    weights: np.ndarray,
    device,
    dtype,
) -> np.ndarray:
    """Each series' most probable direction at ``step`` under the weighted ensemble (no dropout)."""
    probs = 0.0
    for member, w in zip(_deep_members(ensemble), weights, strict=True):
        net = prepare_model(member.model, device, dtype)
        x = torch.as_tensor(inputs[member.window]).to(next(net.parameters()))
        with torch.no_grad():
            p = torch.softmax(net(x)[1][:, step - 1], dim=-1).cpu().numpy()
        probs = probs + w * p
    return np.asarray(probs).argmax(axis=-1).astype(np.int64)


def _tidy(uids: Sequence[str], member: str, step: int, attr: np.ndarray, names) -> pd.DataFrame:
    """``[N, T, F]`` (time in input order) -> tidy rows, lag 1 (most recent) first."""
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


def _completeness_rows(uids, member, architecture, window, weight, result: Attribution, attr):
    total = attr.reshape(len(uids), -1).sum(axis=1)
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


def explain_ensemble(
    ensemble: Ensemble,
    data: pd.DataFrame | str | Path,
    *,
    series: Sequence[Any] | None = None,
    step: int = 1,
    target: str = "forecast",
    baseline: str = "zeros",
    direction_class: str | int = "up",
    tolerance: float = TOLERANCE,
    n_steps: Sequence[int] = N_STEPS,
    atol: float = ATOL,
    method: str = "gausslegendre",
    internal_batch_size: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    futr_df: pd.DataFrame | str | Path | None = None,
    static_df: pd.DataFrame | str | Path | None = None,
) -> Explanation:
    """Integrated-gradients attributions of ``ensemble``'s forecast at ``step`` for each series.

    ``data``: each series' history (frame or Parquet path, as for ``predict``, with its
    ``futr_df`` and ``static_df``); features are named by ``feature_names``: ``y``, the past
    covariates, ``futr:<name>``, ``cal:<kind>_sin/_cos``, ``static:<name>``, ``mask``. ``series``:
    ids to explain (None or empty: all). ``target``, ``baseline`` and the completeness knobs
    (``tolerance``, ``n_steps``, ``atol``, ``method``) are those of
    :func:`~foretune.explain.integrated_gradients`. ``direction_class``: ``"up"`` (default),
    ``"down"``, ``"flat"``, a class index, or ``"predicted"``: each series' class with the
    highest ensemble-weighted probability, the same class for every member so that the
    weighted sum is meaningful.

    The ensemble attribution is ``sum_m w_m * attribution_m`` over the deep members, their
    weights normalised to sum to 1 (as ``predict`` mixes members; statistical members have no
    inputs to attribute and are left out), so it explains their weighted forecast (or probability)
    and is complete for it. Members' attributions are aligned by lag, the distance from the
    forecast origin (lag 1 = the most recent input): the ensemble rows span lags
    ``1..max(window)`` and a member contributes 0 beyond its own window. Returns an
    :class:`Explanation` with per-member and ensemble rows.
    """
    require_captum()
    check_request(step, target, ensemble.horizon)
    if baseline not in BASELINES:
        raise ExplainError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if target == "direction" and isinstance(direction_class, str):
        if direction_class not in (*DIRECTION_CLASSES, "predicted"):
            raise ExplainError(
                f"direction_class must be one of {[*DIRECTION_CLASSES, 'predicted']} or a class "
                f"index, got {direction_class!r}"
            )
    names = feature_names(ensemble.covariates)
    uids, inputs = _inputs(ensemble, data, series, futr_df=futr_df, static_df=static_df)
    deep = _deep_members(ensemble)
    raw = np.asarray([m.weight for m in deep], dtype=np.float64)
    if not (np.isfinite(raw).all() and raw.sum() > 0):
        raise ExplainError(f"ensemble weights must be finite with a positive sum, got {raw}")
    weights = raw / raw.sum()
    classes: str | int | np.ndarray = direction_class
    if target == "direction" and direction_class == "predicted":
        classes = _predicted_classes(ensemble, inputs, step, weights, device, dtype)

    longest = max(m.window for m in deep)
    n, n_features = len(uids), len(names)
    combined = np.zeros((n, longest, n_features))
    frames, checks = [], []
    output = np.zeros(n)
    baseline_output = np.zeros(n)
    used = np.zeros(n, dtype=np.int64)
    labels: list[str] = []
    members = []
    for member, w in zip(deep, weights, strict=True):
        label = f"{ensemble.members.index(member)}:{member.architecture}"
        x = inputs[member.window]
        assert x.shape[-1] == n_features, (x.shape, names)
        result = integrated_gradients(
            member.model,
            x,
            step=step,
            target=target,
            baseline=baseline,
            direction_class=classes,
            tolerance=tolerance,
            n_steps=n_steps,
            atol=atol,
            method=method,
            internal_batch_size=internal_batch_size,
            device=device,
            dtype=dtype,
            warn=False,
        )
        attr = result.attributions
        combined[:, longest - member.window :, :] += w * attr  # right-aligned: same lag
        output += w * result.output
        baseline_output += w * result.baseline_output
        used = np.maximum(used, result.n_steps)
        labels = result.target
        frames.append(_tidy(uids, label, step, attr, names))
        checks.append(
            _completeness_rows(uids, label, member.architecture, member.window, member.weight, result, attr)
        )
        members.append(
            {
                "member": label,
                "architecture": member.architecture,
                "window": int(member.window),
                "weight": float(member.weight),
                "normalised_weight": float(w),
            }
        )
    total = combined.reshape(n, -1).sum(axis=1)
    delta = total - (output - baseline_output)
    relative = np.abs(delta) / np.maximum(np.abs(output - baseline_output), atol)
    ens = Attribution(
        attributions=combined,
        output=output,
        baseline_output=baseline_output,
        delta=delta,
        relative_error=relative,
        n_steps=used,
        converged=relative <= tolerance,
        classes=None,
        target=labels,
    )
    frames.insert(0, _tidy(uids, ENSEMBLE, step, combined, names))
    checks.insert(0, _completeness_rows(uids, ENSEMBLE, ENSEMBLE, longest, 1.0, ens, combined))
    attributions = pd.concat(frames, ignore_index=True)
    completeness = pd.concat(checks, ignore_index=True)
    bad = completeness[~completeness["converged"]]
    if len(bad):
        worst = bad.loc[bad["relative_error"].idxmax()]
        warnings.warn(
            f"integrated gradients: {len(bad)} series/member completeness errors stay above "
            f"{tolerance:.0%} after {max(int(c) for c in n_steps)} steps (worst "
            f"{worst['relative_error']:.1%}: series {worst['unique_id']!r}, member "
            f"{worst['member']!r}); read those attributions with care",
            RuntimeWarning,
            stacklevel=2,
        )
    summary = _summary(
        uids,
        names,
        members,
        completeness,
        labels,
        step=step,
        target=target,
        target_label=_target_label(target, direction_class),
        direction_class=direction_class,
        baseline=baseline,
        tolerance=tolerance,
        n_steps=n_steps,
        atol=atol,
        method=method,
        dtype=dtype or next(deep[0].model.parameters()).dtype,
    )
    return Explanation(attributions, completeness, summary)


def _deep_members(ensemble: Ensemble) -> list:
    """The members with gradients to attribute: the networks (statistical members are fit on each
    history and have none; the attributions explain the networks' weighted forecast)."""
    deep = [m for m in ensemble.members if not m.statistical]
    if not deep:
        raise ExplainError(
            "this ensemble has only statistical members, which have no inputs to attribute; "
            "rebuild it with deep members (ensemble.statistical: [] keeps only those)"
        )
    return deep


def _target_label(target: str, direction_class: str | int) -> str:
    if target == "forecast":
        return "forecast"
    if isinstance(direction_class, str):
        return f"p_{direction_class}"  # p_up, p_down, p_flat or p_predicted
    return f"p_{DIRECTION_CLASSES[int(direction_class)]}"


def _summary(uids, names, members, completeness, labels, **settings) -> dict[str, Any]:
    import captum

    ens = completeness[completeness["member"] == ENSEMBLE]
    target = settings["target"]
    records = completeness.to_dict("records")
    return {
        "method": "integrated_gradients",
        "library": f"captum {captum.__version__}",
        "quadrature": settings["method"],
        "dtype": str(settings["dtype"]).replace("torch.", ""),
        "step": int(settings["step"]),
        "target": target,
        "target_label": settings["target_label"],
        "direction_class": settings["direction_class"] if target == "direction" else None,
        "baseline": settings["baseline"],
        "features": list(names),
        "lags": "lag 1 is the most recent input step; ensemble rows span 1..max(window), "
        "a member contributes 0 beyond its own window",
        "members": members,
        "series": list(uids),
        "targets": dict(zip(uids, labels, strict=True)),
        "completeness": {
            "tolerance": float(settings["tolerance"]),
            "atol": float(settings["atol"]),
            "n_steps_schedule": [int(c) for c in settings["n_steps"]],
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
            "rows": records,
        },
    }
