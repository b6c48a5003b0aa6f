"""Explain: integrated-gradients attributions of a forecast to every input lag and feature.

    explanation = explain_ensemble(ensemble, history, step=1, target="forecast", baseline="zeros")
    explanation.attributions   # unique_id, member, step, lag, feature, attribution
    explanation.completeness   # per series and member: how closely the attributions add up
    explanation.save(out_dir)  # attributions.parquet, heatmap_<series>.png, summary.json, ...
    integrated_gradients(model, x, step=1, ...)   # one model, prepared windows
    settings = IGSettings(step=2, target="direction")  # the same request for either function

``target`` is ``"forecast"`` (the standardised forecast at ``step``) or ``"direction"`` (a
direction class's probability). The baseline (all zeros in the standardised inputs, or each
feature's window mean) keeps the bookkeeping channels, the padding mask and the calendar phases
(``IGSettings.held``), at their actual values, so attributions go to the series and its
covariates only. captum is an optional extra: ``pip install foretune[explain]``.
"""

from .attribution import (
    Attribution,
    ExplainError,
    MissingDependencyError,
    integrated_gradients,
    prepare_model,
    require_captum,
)
from .ensemble import explain_ensemble, feature_names
from .explanation import Explanation
from .settings import ATOL, HOLDABLE, N_STEPS, TOLERANCE, IGSettings

__all__ = [
    "ATOL",
    "HOLDABLE",
    "N_STEPS",
    "TOLERANCE",
    "Attribution",
    "ExplainError",
    "Explanation",
    "IGSettings",
    "MissingDependencyError",
    "explain_ensemble",
    "feature_names",
    "integrated_gradients",
    "prepare_model",
    "require_captum",
]
