"""Integrated gradients of one model's output at one horizon step, with a completeness check.

    result = integrated_gradients(model, x [N, T, F], step=1, target="forecast", baseline="zeros")
    result.attributions [N, T, F], result.relative_error [N], result.converged [N]

Works on any registered model through ``forward(x) -> (regression [N, H], logits [N, H, 3])``;
nothing here knows an architecture. captum, an optional extra (``pip install
foretune[explain]``), is imported only when attributions are computed (``require_captum``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

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
            raise ExplainError(
                f"direction_class must be one of {[*DIRECTION_CLASSES, 'predicted']} or a class "
                f"index, got {direction_class!r}"
            )
        return np.full(n, DIRECTION_CLASSES.index(direction_class), dtype=np.int64)
    classes = np.broadcast_to(np.asarray(direction_class, dtype=np.int64), (n,)).copy()
    if classes.size and (classes.min() < 0 or classes.max() >= len(DIRECTION_CLASSES)):
        raise ExplainError(
            f"direction class indices must be in 0..{len(DIRECTION_CLASSES) - 1}, got {classes}"
        )
    return classes


def _baseline(x: Tensor, baseline: str | Tensor | np.ndarray) -> Tensor:
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


def check_request(step: int, target: str, horizon: int | None = None) -> None:
    """Raise :class:`ExplainError` for a step outside ``1..horizon`` or an unknown target."""
    if target not in TARGETS:
        raise ExplainError(f"target must be one of {TARGETS}, got {target!r}")
    if isinstance(step, bool) or int(step) != step or step < 1:
        raise ExplainError(f"step must be a positive integer (1-based horizon step), got {step!r}")
    if horizon is not None and step > horizon:
        raise ExplainError(f"step={step} is not available: the model forecasts steps 1..{horizon}")


def integrated_gradients(
    model: nn.Module,
    x: Tensor | np.ndarray,
    *,
    step: int = 1,
    target: str = "forecast",
    baseline: str | Tensor | np.ndarray = "zeros",
    direction_class: str | int | Sequence[int] | np.ndarray = "up",
    tolerance: float = TOLERANCE,
    n_steps: Sequence[int] = N_STEPS,
    atol: float = ATOL,
    method: str = "gausslegendre",
    internal_batch_size: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    warn: bool = True,
) -> Attribution:
    """Integrated gradients (captum) of ``model``'s output at horizon ``step`` for windows ``x``.

    ``x [N, T, F]`` are model inputs (standardised features). ``target="forecast"`` attributes
    regression column ``step - 1``, in the standardised units the model predicts;
    ``"direction"`` the softmax probability of ``direction_class`` (a name, an index, one index
    per row, or ``"predicted"``: the model's own most probable class) at that step.

    ``baseline``: ``"zeros"`` is all zeros in the standardised input space (every feature at its
    training mean: y changing by its average change, covariates at their mean); ``"mean"`` is
    each feature's mean over the window, repeated over time; or an array of the inputs' shape.

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
    check_request(step, target)
    counts = [int(n) for n in n_steps]
    if not counts or min(counts) < 1:
        raise ExplainError(f"n_steps must be a non-empty list of positive counts, got {n_steps}")
    if not tolerance > 0:
        raise ExplainError(f"tolerance must be > 0, got {tolerance}")
    net = prepare_model(model, device, dtype)
    first = next(net.parameters(), None)
    device = first.device if first is not None else torch.device(device or "cpu")
    dtype = first.dtype if first is not None else (dtype or torch.float32)
    x = torch.as_tensor(x).to(device=device, dtype=dtype)
    if x.dim() != 3:
        raise ExplainError(f"inputs must be [windows, time, features], got shape {tuple(x.shape)}")
    n = x.shape[0]
    base = _baseline(x, baseline)
    index = step - 1

    with torch.no_grad():
        reg, logits = net(x)
        reg_b, logits_b = net(base)
    horizon = reg.shape[1]
    check_request(step, target, horizon)
    if target == "forecast":
        classes = None
        labels = ["forecast"] * n
        targets = torch.full((n,), index, dtype=torch.long, device=device)
        out, out_b = reg[:, index], reg_b[:, index]

        def forward(z: Tensor) -> Tensor:
            return net(z)[0]

    else:
        probs = torch.softmax(logits[:, index], dim=-1)
        classes = _classes(direction_class, probs, n)
        labels = [f"p_{DIRECTION_CLASSES[c]}" for c in classes]
        targets = torch.as_tensor(classes, device=device)
        out = probs.gather(1, targets[:, None]).squeeze(1)
        out_b = torch.softmax(logits_b[:, index], dim=-1).gather(1, targets[:, None]).squeeze(1)

        def forward(z: Tensor) -> Tensor:
            return torch.softmax(net(z)[1][:, index], dim=-1)

    output = out.cpu().numpy().astype(np.float64)
    baseline_output = out_b.cpu().numpy().astype(np.float64)
    scale = np.maximum(np.abs(output - baseline_output), atol)
    attributions = np.zeros(tuple(x.shape), dtype=np.float64)
    delta = np.full(n, np.nan)
    used = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    ig = IntegratedGradients(forward)
    for count in counts:
        if todo.size == 0:
            break
        rows = torch.as_tensor(todo, device=device)
        batch = max(internal_batch_size or INTERNAL_BATCH, todo.size)
        attr, d = ig.attribute(
            x[rows],
            baselines=base[rows],
            target=targets[rows],
            n_steps=count,
            method=method,
            internal_batch_size=batch,
            return_convergence_delta=True,
        )
        attributions[todo] = attr.detach().cpu().numpy()
        delta[todo] = d.detach().cpu().numpy()
        used[todo] = count
        todo = todo[np.abs(delta[todo]) / scale[todo] > tolerance]
    relative = np.abs(delta) / scale
    converged = relative <= tolerance
    if warn and not converged.all():
        warnings.warn(
            f"integrated gradients: {int((~converged).sum())} of {n} windows still have a "
            f"completeness error above {tolerance:.0%} after {counts[-1]} steps (worst "
            f"{np.nanmax(relative):.1%}); read their attributions with care",
            RuntimeWarning,
            stacklevel=2,
        )
    return Attribution(
        attributions=attributions,
        output=output,
        baseline_output=baseline_output,
        delta=delta,
        relative_error=relative,
        n_steps=used,
        converged=converged,
        classes=classes,
        target=labels,
    )
