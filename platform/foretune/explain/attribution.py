"""Integrated gradients of one model's output at one horizon step, with a completeness check.

    result = integrated_gradients(model, x [N, T, F], step=1, target="forecast", baseline="zeros")
    result = integrated_gradients(model, x, IGSettings(step=1, target="direction"))
    result.attributions [N, T, F], result.relative_error [N], result.converged [N]

Works on any registered model through ``forward(x) -> (regression [N, H], logits [N, H, 3])``;
nothing here knows an architecture. captum, an optional extra (``pip install
foretune[explain]``), is imported only when attributions are computed (``require_captum``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from foretune.errors import ExplainError
from foretune.models import DIRECTION_CLASSES

from .settings import (
    BASELINES,
    INTERNAL_BATCH,
    IGSettings,
    check_request,
    resolve,
    unknown_direction_name,
)

INSTALL_HINT = "pip install foretune[explain]"


class MissingDependencyError(ExplainError, ImportError):
    """captum, the optional extra that computes the attributions, is not installed.

    Also an ``ImportError``; being an ``ExplainError`` (a ``ValueError``) makes the CLI print it
    as one line.
    """


def require_captum() -> type:
    """``captum.attr.IntegratedGradients``, or :class:`MissingDependencyError` naming the extra.

    captum is imported here only, so ``foretune.explain`` and ``foretune.models`` import
    without it.
    """
    try:
        from captum.attr import IntegratedGradients
    except ImportError as exc:
        raise MissingDependencyError(
            f"attributions need captum, an optional extra: {INSTALL_HINT} (import failed: {exc})"
        ) from exc
    return IntegratedGradients


@dataclass
class Attribution:
    """Integrated gradients of one model for ``N`` windows (NumPy, float64).

    ``attributions [N, T, F]`` (time in input order: index ``T - 1`` is lag 1), ``output`` f(x)
    and ``baseline_output`` f(b) ``[N]``, ``delta = sum(attributions) - (f(x) - f(b))``,
    ``relative_error = |delta| / max(|f(x) - f(b)|, atol)``, the ``n_steps`` each row finished
    with, ``converged`` (relative error within tolerance), the direction ``classes [N]``
    explained (None for the forecast) and ``target`` labels per row (``"forecast"`` or
    ``"p_<class>"``).
    """

    attributions: np.ndarray
    output: np.ndarray
    baseline_output: np.ndarray
    delta: np.ndarray
    relative_error: np.ndarray
    n_steps: np.ndarray
    converged: np.ndarray
    classes: np.ndarray | None
    target: list[str]

    @classmethod
    def checked(
        cls,
        attributions: np.ndarray,
        output: np.ndarray,
        baseline_output: np.ndarray,
        delta: np.ndarray,
        n_steps: np.ndarray,
        settings: IGSettings,
        classes: np.ndarray | None,
        target: list[str],
    ) -> Attribution:
        """An attribution with its relative error and ``converged`` flags computed from ``delta``."""
        relative = relative_error(delta, output, baseline_output, settings.atol)
        return cls(
            attributions=attributions,
            output=output,
            baseline_output=baseline_output,
            delta=delta,
            relative_error=relative,
            n_steps=n_steps,
            converged=relative <= settings.tolerance,
            classes=classes,
            target=target,
        )


def completeness_scale(output: np.ndarray, baseline_output: np.ndarray, atol: float) -> np.ndarray:
    """The denominator of the relative completeness error: ``max(|f(x) - f(b)|, atol)``."""
    return np.maximum(np.abs(output - baseline_output), atol)


def relative_error(
    delta: np.ndarray, output: np.ndarray, baseline_output: np.ndarray, atol: float
) -> np.ndarray:
    """``|delta| / max(|f(x) - f(b)|, atol)``, the error the completeness check bounds."""
    return np.abs(delta) / completeness_scale(output, baseline_output, atol)


def prepare_model(
    model: nn.Module,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A private, deterministic copy of ``model`` on ``device`` in ``dtype``, ready for IG.

    ``device`` / ``dtype`` None keep the model's own (its first parameter's).

    Eval mode everywhere (no dropout), except ``nn.RNNBase`` modules: train mode with their
    inter-layer dropout set to 0, because cuDNN computes an RNN backward pass only in training
    mode. An RNN module's train flag changes nothing else, so the copy computes the eval-mode
    function on every device. Parameters do not require gradients (only inputs do).
    """
    first = next(model.parameters(), None)
    if device is None:
        device = first.device if first is not None else torch.device("cpu")
    if dtype is None:
        dtype = first.dtype if first is not None else torch.float32
    clone = copy.deepcopy(model).to(device=device, dtype=dtype)
    clone.eval()
    # not torch.backends.cudnn.flags(enabled=False): it is process-wide and resets the other flags
    for module in clone.modules():
        if isinstance(module, nn.RNNBase):
            module.dropout = 0.0
            module.train()
            module.flatten_parameters()
    clone.requires_grad_(False)
    return clone


def _classes(
    direction_class: str | int | Sequence[int] | np.ndarray, probs: Tensor | None, n: int
) -> np.ndarray:
    if isinstance(direction_class, str):
        if direction_class == "predicted":
            assert probs is not None
            return probs.argmax(dim=-1).cpu().numpy().astype(np.int64)
        if direction_class not in DIRECTION_CLASSES:
            raise unknown_direction_name(direction_class)
        return np.full(n, DIRECTION_CLASSES.index(direction_class), dtype=np.int64)
    classes = np.broadcast_to(np.asarray(direction_class, dtype=np.int64), (n,)).copy()
    if classes.size and (classes.min() < 0 or classes.max() >= len(DIRECTION_CLASSES)):
        raise ExplainError(
            f"direction class indices must be in 0..{len(DIRECTION_CLASSES) - 1}, got {classes}"
        )
    return classes


def _baseline(x: Tensor, baseline: str | Tensor | np.ndarray, fixed: Sequence[int] = ()) -> Tensor:
    """The baseline of ``x``, its channels ``fixed`` set to their actual values."""
    base = _plain_baseline(x, baseline)
    fixed = list(fixed)
    if fixed:
        if min(fixed) < -x.shape[-1] or max(fixed) >= x.shape[-1]:
            raise ExplainError(f"fixed channels {fixed} are not among the inputs' {x.shape[-1]} features")
        base[..., fixed] = x[..., fixed]
    return base


def _plain_baseline(x: Tensor, baseline: str | Tensor | np.ndarray) -> Tensor:
    if isinstance(baseline, str):
        if baseline == "zeros":
            return torch.zeros_like(x)
        if baseline == "mean":
            return x.mean(dim=1, keepdim=True).expand_as(x).clone()
        raise ExplainError(f"baseline must be one of {BASELINES} or a tensor, got {baseline!r}")
    b = torch.as_tensor(baseline).to(device=x.device, dtype=x.dtype)
    try:
        return b.expand_as(x).clone()
    except RuntimeError:
        raise ExplainError(
            f"baseline of shape {tuple(b.shape)} does not broadcast to inputs {tuple(x.shape)}"
        ) from None


@dataclass(frozen=True)
class _Objective:
    """The scalar attributed per row: ``forward`` (the outputs captum differentiates), the column
    ``targets`` it picks per row, its values ``output`` f(x) and ``baseline_output`` f(b), the
    direction ``classes`` (None for the forecast) and the row ``labels``."""

    forward: Callable[[Tensor], Tensor]
    targets: Tensor
    output: np.ndarray
    baseline_output: np.ndarray
    classes: np.ndarray | None
    labels: list[str]


def integrated_gradients(
    model: nn.Module,
    x: Tensor | np.ndarray,
    settings: IGSettings | None = None,
    *,
    fixed: Sequence[int] = (),
    warn: bool = True,
    **overrides: Any,
) -> Attribution:
    """Integrated gradients (captum) of ``model``'s output at horizon ``step`` for windows ``x``.

    ``x [N, T, F]`` are model inputs (standardised features). ``settings`` (an
    :class:`IGSettings`, default its defaults) says what to attribute and how finely; keywords
    named like its fields (``step``, ``target``, ``baseline``, ``direction_class``,
    ``tolerance``, ``n_steps``, ``atol``, ``method``, ``internal_batch_size``, ``device``,
    ``dtype``) override it. ``target="forecast"`` attributes regression column ``step - 1``, in
    the standardised units the model predicts; ``"direction"`` the softmax probability of
    ``direction_class`` (a name, an index, one index per row, or ``"predicted"``: the model's own
    most probable class) at that step.

    ``baseline``: ``"zeros"`` is all zeros in the standardised input space (every feature at its
    training mean: y changing by its average change, covariates at their mean); ``"mean"`` is
    each feature's mean over the window, repeated over time; or an array of the inputs' shape.
    The channels ``fixed`` (feature indices, e.g. the mask, the last) take their actual values in
    the baseline, so they stay fixed along the path and get exactly zero attribution
    (``explain_ensemble`` fixes the channels ``settings.held`` names).

    Completeness: the attributions of a row sum to ``f(x) - f(baseline)`` exactly in the limit;
    captum's quadrature approximates it. Rows whose relative error exceeds ``tolerance`` are
    recomputed with the next of ``n_steps``; if the last is still not enough, a
    ``RuntimeWarning`` says so (``warn``). A window whose output barely moves from the baseline
    may stay flagged with a small absolute error: its attributions then largely cancel.

    ``model`` itself is not modified (a private copy is used, see :func:`prepare_model`), in
    ``dtype`` if given, else the model's own precision: float32 rounding is far below the
    quadrature error the completeness check measures.
    """
    IntegratedGradients = require_captum()
    settings = resolve(settings, overrides)
    check_request(settings.step, settings.target)
    counts = settings.step_counts()
    net, x = _prepared(model, x, settings)
    base = _baseline(x, settings.baseline, fixed)
    objective = _objective(net, x, base, settings)
    ig = IntegratedGradients(objective.forward)
    attributions, delta, used = _integrate(ig, x, base, objective, counts, settings)
    result = Attribution.checked(
        attributions,
        objective.output,
        objective.baseline_output,
        delta,
        used,
        settings,
        objective.classes,
        objective.labels,
    )
    if warn and not result.converged.all():
        warnings.warn(_unconverged_message(result, counts, settings), RuntimeWarning, stacklevel=2)
    return result


def _prepared(model: nn.Module, x: Tensor | np.ndarray, settings: IGSettings) -> tuple[nn.Module, Tensor]:
    """The model's private copy (:func:`prepare_model`) and ``x`` on its device, in its dtype."""
    net = prepare_model(model, settings.device, settings.dtype)
    first = next(net.parameters(), None)
    device = first.device if first is not None else torch.device(settings.device or "cpu")
    dtype = first.dtype if first is not None else (settings.dtype or torch.float32)
    x = torch.as_tensor(x).to(device=device, dtype=dtype)
    if x.dim() != 3:
        raise ExplainError(f"inputs must be [windows, time, features], got shape {tuple(x.shape)}")
    return net, x


def _numpy(values: Tensor) -> np.ndarray:
    return values.cpu().numpy().astype(np.float64)


def _objective(net: nn.Module, x: Tensor, base: Tensor, settings: IGSettings) -> _Objective:
    """The output at ``settings.step`` to attribute, after checking the step against the horizon."""
    index = settings.step - 1
    with torch.no_grad():
        reg, logits = net(x)
        reg_b, logits_b = net(base)
    check_request(settings.step, settings.target, reg.shape[1])
    n = x.shape[0]
    if settings.target == "forecast":

        def forecast(z: Tensor) -> Tensor:
            return net(z)[0]

        targets = torch.full((n,), index, dtype=torch.long, device=x.device)
        output, output_b = _numpy(reg[:, index]), _numpy(reg_b[:, index])
        return _Objective(forecast, targets, output, output_b, None, ["forecast"] * n)

    def probabilities(z: Tensor) -> Tensor:
        return torch.softmax(net(z)[1][:, index], dim=-1)

    probs = torch.softmax(logits[:, index], dim=-1)
    classes = _classes(settings.direction_class, probs, n)
    targets = torch.as_tensor(classes, device=x.device)
    output = _numpy(probs.gather(1, targets[:, None]).squeeze(1))
    output_b = _numpy(torch.softmax(logits_b[:, index], dim=-1).gather(1, targets[:, None]).squeeze(1))
    labels = [f"p_{DIRECTION_CLASSES[c]}" for c in classes]
    return _Objective(probabilities, targets, output, output_b, classes, labels)


def _integrate(
    ig: Any,
    x: Tensor,
    base: Tensor,
    objective: _Objective,
    counts: list[int],
    settings: IGSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attribute every row with ``counts[0]`` steps, then redo the rows whose completeness error
    exceeds the tolerance with each next count. Returns attributions, deltas and counts used."""
    n = x.shape[0]
    scale = completeness_scale(objective.output, objective.baseline_output, settings.atol)
    attributions = np.zeros(tuple(x.shape), dtype=np.float64)
    delta = np.full(n, np.nan)
    used = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    for count in counts:
        if todo.size == 0:
            break
        rows = torch.as_tensor(todo, device=x.device)
        attr, d = ig.attribute(
            x[rows],
            baselines=base[rows],
            target=objective.targets[rows],
            n_steps=count,
            method=settings.method,
            internal_batch_size=max(settings.internal_batch_size or INTERNAL_BATCH, todo.size),
            return_convergence_delta=True,
        )
        attributions[todo] = attr.detach().cpu().numpy()
        delta[todo] = d.detach().cpu().numpy()
        used[todo] = count
        todo = todo[np.abs(delta[todo]) / scale[todo] > settings.tolerance]
    return attributions, delta, used


def _unconverged_message(result: Attribution, counts: list[int], settings: IGSettings) -> str:
    return (
        f"integrated gradients: {int((~result.converged).sum())} of {len(result.converged)} windows "
        f"still have a completeness error above {settings.tolerance:.0%} after {counts[-1]} steps "
        f"(worst {np.nanmax(result.relative_error):.1%}); read their attributions with care"
    )
