"""What integrated gradients attribute and how finely: :class:`IGSettings`, defined once.

    settings = IGSettings(step=2, target="direction", direction_class="predicted")
    integrated_gradients(model, x, settings)          # one model
    explain_ensemble(ensemble, history, settings)     # every member and the weighted ensemble

Both functions also take the fields as keywords (``integrated_gradients(model, x, step=2)``),
which override those of ``settings``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from foretune.data.covariates import CALENDAR
from foretune.errors import ExplainError
from foretune.models import DIRECTION_CLASSES

#: Integration step counts tried in turn until the completeness error is within tolerance. Smooth
#: networks (LSTM/GRU/attention/transformer) converge at 50; piecewise-linear ReLU ones (TCN,
#: CNN-LSTM, MLP) can need more.
N_STEPS: tuple[int, ...] = (50, 100, 200, 400)
#: Largest accepted relative completeness error ``|delta| / max(|f(x) - f(b)|, ATOL)``.
TOLERANCE = 0.05
#: Floor of the denominator of the relative error (outputs are in standardised units); it only
#: guards the division.
ATOL = 1e-6
#: Most interpolated inputs captum evaluates in one forward pass (it never goes below the rows).
INTERNAL_BATCH = 2048

TARGETS = ("forecast", "direction")
BASELINES = ("zeros", "mean")
#: Bookkeeping input channels the baseline keeps at their actual values, so they get no
#: attribution: ``"mask"`` (1 where the series has data, 0 in the left padding) and
#: ``"calendar"`` (the ``cal:*`` sin/cos phases of each date, a function of ``ds`` alone).
HOLDABLE = ("mask", "calendar")
#: Accepted names of ``direction_class``: a direction, or each row's most probable one.
DIRECTION_NAMES = (*DIRECTION_CLASSES, "predicted")


@dataclass(frozen=True)
class IGSettings:
    """The request and the completeness knobs of integrated gradients.

    ``step``: the 1-based horizon step explained. ``target``: ``"forecast"`` (the standardised
    forecast) or ``"direction"`` (the probability of ``direction_class``: a name of
    :data:`DIRECTION_NAMES`, a class index, or one index per row). ``baseline``: ``"zeros"``,
    ``"mean"`` (each feature's window mean) or, for one model, an array of the inputs' shape.
    ``held``: the bookkeeping channels (:data:`HOLDABLE`) an ensemble's explanation keeps at
    their actual values in the baseline, so the attributions go to the series and its
    covariates only (default both; ``()`` attributes them against the baseline too).
    Completeness: rows whose relative error ``|delta| / max(|f(x) - f(b)|, atol)`` exceeds
    ``tolerance`` are recomputed with the next of ``n_steps``; ``method`` is captum's quadrature
    and ``internal_batch_size`` its batch (default :data:`INTERNAL_BATCH`). ``device`` and
    ``dtype`` place the private model copy (None: the model's own).
    """

    step: int = 1
    target: str = "forecast"
    baseline: str | Tensor | np.ndarray = "zeros"
    held: Sequence[str] = HOLDABLE
    direction_class: str | int | Sequence[int] | np.ndarray = "up"
    tolerance: float = TOLERANCE
    n_steps: Sequence[int] = N_STEPS
    atol: float = ATOL
    method: str = "gausslegendre"
    internal_batch_size: int | None = None
    device: torch.device | str | None = None
    dtype: torch.dtype | None = None

    def step_counts(self) -> list[int]:
        """``n_steps`` as ints, after checking them and ``tolerance`` (:class:`ExplainError`)."""
        counts = [int(n) for n in self.n_steps]
        if not counts or min(counts) < 1:
            raise ExplainError(f"n_steps must be a non-empty list of positive counts, got {self.n_steps}")
        if not self.tolerance > 0:
            raise ExplainError(f"tolerance must be > 0, got {self.tolerance}")
        unknown = [h for h in self.held if h not in HOLDABLE]
        if unknown:
            raise ExplainError(f"held must name channels among {list(HOLDABLE)}, got {unknown}")
        return counts


def resolve(settings: IGSettings | None, overrides: dict[str, Any]) -> IGSettings:
    """``settings`` (default :class:`IGSettings`) with the keyword ``overrides`` applied."""
    return dataclasses.replace(settings or IGSettings(), **overrides)


def check_request(step: int, target: str, horizon: int | None = None) -> None:
    """Raise :class:`ExplainError` for a step outside ``1..horizon`` or an unknown target."""
    if target not in TARGETS:
        raise ExplainError(f"target must be one of {TARGETS}, got {target!r}")
    if isinstance(step, bool) or int(step) != step or step < 1:
        raise ExplainError(f"step must be a positive integer (1-based horizon step), got {step!r}")
    if horizon is not None and step > horizon:
        raise ExplainError(f"step={step} is not available: the model forecasts steps 1..{horizon}")


def held_channels(names: Sequence[str], held: Sequence[str]) -> list[int]:
    """Indices among the feature ``names`` (``explain.feature_names``: the mask last) of the
    bookkeeping channels ``held`` names: ``"mask"`` and ``"calendar"`` (every ``cal:*`` one)."""
    out = []
    if "calendar" in held:
        out += [i for i, name in enumerate(names) if name.startswith(CALENDAR)]
    if "mask" in held:
        out.append(len(names) - 1)
    return out


def unknown_direction_name(direction_class: object) -> ExplainError:
    """The error for a ``direction_class`` name outside :data:`DIRECTION_NAMES`."""
    return ExplainError(
        f"direction_class must be one of {list(DIRECTION_NAMES)} or a class index, got {direction_class!r}"
    )
