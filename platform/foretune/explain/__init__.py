"""Explain: integrated-gradients attributions of a forecast to every input lag and feature.

Public API::

    integrated_gradients(model, x, step=1, target="forecast", baseline="zeros", ...) -> Attribution
    explain_ensemble(ensemble, data, series=None, step=1, target="forecast",
                     baseline="zeros", ...) -> Explanation     # also Ensemble.explain(data, ...)
    explain_command(model=DIR, data=PATH, series=None, step=1, target="forecast",
                    baseline="zeros", out=None) -> Explanation  # ``foretune explain``
    Explanation.attributions   # unique_id, member, step, lag, feature, attribution
    Explanation.completeness   # one row per series and member (and "ensemble")
    Explanation.summary        # JSON-ready dict; Explanation.save(dir) writes everything

What is attributed (``target``):
- ``"forecast"``: the regression output at horizon step ``step`` (column ``step - 1``), in the
  standardised units the model predicts (the same for every member, one shared transform).
- ``"direction"``: the softmax probability of one direction class at ``step``:
  ``direction_class="up"`` (default; also ``"down"``, ``"flat"`` or a class index), or
  ``"predicted"`` (each series' class with the highest ensemble-weighted probability, the same
  class for every member so that the weighted sum is meaningful). The class explained is in
  ``completeness.target`` and the summary.

Baselines (``baseline``): ``"zeros"`` is all zeros in the standardised input space (every
feature at its training mean: y changing by its average change, covariates at their mean);
``"mean"`` is the mean of each feature over the member's own
window, repeated over time. A tensor of the input's shape may be passed to
``integrated_gradients`` as well.

Completeness: integrated gradients satisfies ``sum(attributions) = f(x) - f(baseline)``
exactly in the limit; captum's Gauss-Legendre quadrature approximates it. Each series is first
attributed with ``n_steps[0]`` (50) points; series whose relative error
``|sum(attr) - (f(x) - f(b))| / max(|f(x) - f(b)|, atol)`` exceeds ``tolerance`` (5%) are redone
with the next count (100, 200, 400). The final error and count are reported per series and
member; if the last count is still not enough, a ``RuntimeWarning`` says so (no error). The
``atol`` floor (1e-6) only guards the division. Smooth networks (LSTM/GRU/attention/transformer)
converge at 50 steps; piecewise-linear ReLU ones (TCN, CNN-LSTM, MLP) can need more, and a window
whose output barely moves from the baseline (``|f(x) - f(b)|`` of a few hundredths) may stay
flagged after 400 steps with a small absolute error: the attributions then largely cancel.

Ensemble attribution: ``sum_m w_m * attribution_m`` with the weights normalised to sum to 1
(as ``Ensemble.predict`` mixes members), so it explains the ensemble's weighted forecast (or
probability) and is complete for it. Members may have different windows: attributions are
aligned by lag, the distance from the forecast origin (lag 1 = the most recent input step,
lag ``window`` = the oldest); a member whose window is shorter than a lag contributes 0 there.
The ensemble rows therefore span lags ``1..max(window)``.

Files (``Explanation.save(dir)``, ``foretune explain --out``; default ``<model>/../explain/``):
``attributions.parquet`` (the tidy frame), ``heatmap_<series>.png`` (signed ensemble attribution,
lag x feature, one per series), ``feature_importance.png`` (mean |attribution| over series,
summed over lags, per feature; ``evaluate.plots.attribution_bars``) and ``summary.json``
(settings, members and weights, completeness per row, file names). The ensemble rows
(``member == "ensemble"``) can be passed to ``evaluate.report.write_report(attributions=...)``.

Numerics and devices: attribution runs on a private copy of each model (the caller's model is
never modified), in eval mode, in the model's own precision (float32; pass ``dtype=torch.float64``
for more digits: float64 convolutions are much slower on CPU, and float32 rounding is far below
the quadrature error the completeness check measures). Recurrent layers: cuDNN computes an RNN's
backward pass only in training mode, so on every device the copy's ``nn.LSTM``/``nn.GRU``
modules are switched to train mode with their own inter-layer dropout set to 0, while every
dropout module stays in eval mode. That is numerically the eval-mode network (an RNN module's
train flag does nothing else), needs no global cuDNN switch (``torch.backends.cudnn.flags`` is
process-wide and resets the other cuDNN flags), and the same code path runs, and is tested, on CPU.

Dependencies: captum is an optional extra (``pip install foretune[explain]``); it is imported
only when attributions are computed, so this package and ``foretune.models`` import without it.
"""

from .attribution import (
    ATOL,
    N_STEPS,
    TOLERANCE,
    Attribution,
    ExplainError,
    MissingDependencyError,
    integrated_gradients,
    prepare_model,
    require_captum,
)
from .command import default_out_dir, explain_command
from .ensemble import Explanation, explain_ensemble, feature_names

__all__ = [
    "ATOL",
    "N_STEPS",
    "TOLERANCE",
    "Attribution",
    "ExplainError",
    "Explanation",
    "MissingDependencyError",
    "default_out_dir",
    "explain_command",
    "explain_ensemble",
    "feature_names",
    "integrated_gradients",
    "prepare_model",
    "require_captum",
]
