"""Attributions of a saved ensemble's forecast: every member, and the weighted ensemble, per series.

    explanation = explain_ensemble(Ensemble.load("RUN/ensemble"), history, step=1)
    explanation = explain_ensemble(ensemble, history, IGSettings(target="direction"))
    explanation.attributions   # unique_id, member, step, lag, feature, attribution
    explanation.completeness   # one row per series and member (and "ensemble")
    explanation.save("RUN/explain")   # parquet, one heat map per series, bars, summary.json

Inputs are built as ``Ensemble.predict`` builds them (``Ensemble.inputs``): every series with an
observation, a short one left-padded behind the mask channel (feature ``"mask"``,
``feature_names``); a lag in the padding has input 0 and, against the zeros baseline,
attribution 0.

The baseline keeps the bookkeeping channels (``IGSettings.held``: the mask and the ``cal:*``
calendar phases) at their actual values and moves only the series and its covariates (``y``,
past, ``futr:`` and ``static:`` columns) to the baseline's: a bookkeeping channel then gets no
attribution, and the attributions add up to ``f(x) - f(baseline)`` over the inputs a user
gave. Against an all-zeros mask the mask channel would otherwise collect attribution (it is 1
wherever the data is) that reads as signal but only says "data is present".
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from foretune.ensemble import Ensemble, Member

from .attribution import (
    Attribution,
    ExplainError,
    integrated_gradients,
    prepare_model,
    require_captum,
)
from .explanation import (
    ENSEMBLE,
    Explanation,
    build_summary,
    completeness_frame,
    tidy_attributions,
)
from .settings import (
    BASELINES,
    DIRECTION_NAMES,
    IGSettings,
    check_request,
    held_channels,
    resolve,
    unknown_direction_name,
)

#: Name of the mask channel (1 real step, 0 left padding), the last input feature.
MASK = "mask"


def feature_names(covariates: Sequence[str]) -> list[str]:
    """Input feature names in model order: ``"y"`` (standardised change of y), the covariates
    (past by name, then ``futr:<name>``, ``cal:<kind>_sin/_cos``, ``static:<name>``), then the
    mask channel ``"mask"`` (``"(mask)"`` when a covariate is called ``mask``)."""
    names = ["y", *[str(c) for c in covariates]]
    return [*names, MASK if MASK not in names else f"({MASK})"]


@dataclass(frozen=True)
class _Explained:
    """One deep member's attributions, labelled ``"<index>:<architecture>"``, with its weight
    normalised over the deep members."""

    label: str
    member: Member
    weight: float
    result: Attribution

    def record(self) -> dict[str, Any]:
        """The member's entry in the summary."""
        return {
            "member": self.label,
            "architecture": self.member.architecture,
            "window": int(self.member.window),
            "weight": float(self.member.weight),
            "normalised_weight": float(self.weight),
        }


def explain_ensemble(
    ensemble: Ensemble,
    data: pd.DataFrame | str | Path,
    settings: IGSettings | None = None,
    *,
    series: Sequence[Any] | None = None,
    futr_df: pd.DataFrame | str | Path | None = None,
    static_df: pd.DataFrame | str | Path | None = None,
    **overrides: Any,
) -> Explanation:
    """Integrated-gradients attributions of ``ensemble``'s forecast at ``step`` for each series.

    ``data``: each series' history (frame or Parquet path, as for ``predict``, with its
    ``futr_df`` and ``static_df``); features are named by ``feature_names``: ``y``, the past
    covariates, ``futr:<name>``, ``cal:<kind>_sin/_cos``, ``static:<name>``, ``mask``. ``series``:
    ids to explain (None or empty: all). ``settings`` (an :class:`IGSettings`) and keywords
    named like its fields (``step``, ``target``, ``baseline``, ``direction_class``,
    ``tolerance``, ``n_steps``, ``atol``, ``method``, ``internal_batch_size``, ``device``,
    ``dtype``) are those of :func:`~foretune.explain.integrated_gradients`; ``baseline`` is
    ``"zeros"`` or ``"mean"`` here. ``direction_class``: ``"up"`` (default),
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
    settings = resolve(settings, overrides)
    _check_request(settings, ensemble.horizon)
    names = feature_names(ensemble.covariates)
    held = held_channels(names, settings.held)
    uids, inputs = _inputs(ensemble, data, series, futr_df=futr_df, static_df=static_df)
    deep = _deep_members(ensemble)
    weights = _normalised_weights(deep)
    member_settings = _with_predicted_classes(settings, ensemble, inputs, weights)
    explained = [
        _explain_member(ensemble, member, weight, inputs[member.window], member_settings, names, held)
        for member, weight in zip(deep, weights, strict=True)
    ]
    combined = _weighted_sum(explained, settings)
    attributions, completeness = _frames(uids, names, settings.step, combined, explained)
    message = _unconverged_message(completeness, settings)
    if message is not None:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    dtype = settings.dtype or next(deep[0].model.parameters()).dtype
    records = [e.record() for e in explained]
    summary = build_summary(uids, names, records, completeness, combined.target, settings, dtype)
    return Explanation(attributions, completeness, summary)


def _check_request(settings: IGSettings, horizon: int) -> None:
    """Raise :class:`ExplainError` for a step, target, baseline or direction name not offered."""
    check_request(settings.step, settings.target, horizon)
    baseline = settings.baseline
    if not isinstance(baseline, str) or baseline not in BASELINES:
        raise ExplainError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    direction = settings.direction_class
    if settings.target == "direction" and isinstance(direction, str):
        if direction not in DIRECTION_NAMES:
            raise unknown_direction_name(direction)


def _inputs(
    ensemble: Ensemble, data: pd.DataFrame | str | Path, series: Sequence[Any] | None, **covariates: Any
) -> tuple[list[str], dict[int, np.ndarray]]:
    """Series keys and each window's member inputs ``[N, window, F]``, as ``predict`` builds them
    (``covariates``: ``futr_df`` and ``static_df``, as for ``predict``)."""
    inputs = ensemble.inputs(data, series, **covariates)
    return list(inputs.uids), inputs.windows


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


def _normalised_weights(deep: Sequence[Member]) -> np.ndarray:
    """The deep members' weights scaled to sum to 1 (:class:`ExplainError` if they cannot be)."""
    raw = np.asarray([m.weight for m in deep], dtype=np.float64)
    if not (np.isfinite(raw).all() and raw.sum() > 0):
        raise ExplainError(f"ensemble weights must be finite with a positive sum, got {raw}")
    return raw / raw.sum()


def _with_predicted_classes(
    settings: IGSettings, ensemble: Ensemble, inputs: dict[int, np.ndarray], weights: np.ndarray
) -> IGSettings:
    """The settings every member is explained with: ``direction_class="predicted"`` becomes each
    series' class under the weighted ensemble, the same for every member."""
    direction = settings.direction_class
    if settings.target != "direction" or not (isinstance(direction, str) and direction == "predicted"):
        return settings
    classes = _predicted_classes(ensemble, inputs, settings.step, weights, settings.device, settings.dtype)
    return dataclasses.replace(settings, direction_class=classes)


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


def _explain_member(
    ensemble: Ensemble,
    member: Member,
    weight: float,
    x: np.ndarray,
    settings: IGSettings,
    names: Sequence[str],
    held: Sequence[int],
) -> _Explained:
    """Integrated gradients of one deep member on its windows ``x``, the channels ``held`` at
    their actual values in the baseline."""
    assert x.shape[-1] == len(names), (x.shape, names)
    result = integrated_gradients(member.model, x, settings, fixed=held, warn=False)
    return _Explained(f"{ensemble.members.index(member)}:{member.architecture}", member, weight, result)


def _weighted_sum(explained: Sequence[_Explained], settings: IGSettings) -> Attribution:
    """The ensemble attribution ``sum_m w_m * attribution_m``, members right-aligned by lag over
    ``max(window)`` steps, with its completeness against the weighted outputs."""
    longest = max(e.member.window for e in explained)
    n, _, n_features = explained[0].result.attributions.shape
    combined = np.zeros((n, longest, n_features))
    output = np.zeros(n)
    baseline_output = np.zeros(n)
    used = np.zeros(n, dtype=np.int64)
    for e in explained:
        combined[:, longest - e.member.window :, :] += e.weight * e.result.attributions  # same lag
        output += e.weight * e.result.output
        baseline_output += e.weight * e.result.baseline_output
        used = np.maximum(used, e.result.n_steps)
    delta = combined.reshape(n, -1).sum(axis=1) - (output - baseline_output)
    labels = explained[-1].result.target
    return Attribution.checked(combined, output, baseline_output, delta, used, settings, None, labels)


def _frames(
    uids: Sequence[str],
    names: Sequence[str],
    step: int,
    combined: Attribution,
    explained: Sequence[_Explained],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy attributions and the completeness rows: the ensemble's first, then each member's."""
    longest = combined.attributions.shape[1]
    frames = [tidy_attributions(uids, ENSEMBLE, step, combined.attributions, names)]
    checks = [completeness_frame(uids, ENSEMBLE, ENSEMBLE, longest, 1.0, combined)]
    for e in explained:
        frames.append(tidy_attributions(uids, e.label, step, e.result.attributions, names))
        checks.append(
            completeness_frame(
                uids, e.label, e.member.architecture, e.member.window, e.member.weight, e.result
            )
        )
    return pd.concat(frames, ignore_index=True), pd.concat(checks, ignore_index=True)


def _unconverged_message(completeness: pd.DataFrame, settings: IGSettings) -> str | None:
    """The warning for rows whose completeness error stays above the tolerance (None if none)."""
    bad = completeness[~completeness["converged"]]
    if not len(bad):
        return None
    worst = bad.loc[bad["relative_error"].idxmax()]
    return (
        f"integrated gradients: {len(bad)} series/member completeness errors stay above "
        f"{settings.tolerance:.0%} after {max(int(c) for c in settings.n_steps)} steps (worst "
        f"{worst['relative_error']:.1%}: series {worst['unique_id']!r}, member "
        f"{worst['member']!r}); read those attributions with care"
    )
