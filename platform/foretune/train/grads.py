"""Gradient utilities of the training step: a flat gradient buffer, clipping, accumulation.

``FlatGrads.make(params)`` makes every parameter's ``.grad`` a view of one flat buffer, so that
zeroing, clipping by value and the global norm are one operation each instead of one per
parameter. ``clip_gradients`` applies a spec's ``clip_value`` and ``clip_norm`` (by value first,
then by global norm, so the final norm is bounded); ``clip_grad_norm`` is the norm clip alone,
with ``nn.utils.clip_grad_norm_``'s rule. ``sync_on_last`` wraps each micro-batch's backward of a
gradient-accumulating update so that DDP all-reduces gradients once, on the update's last one.
Usage::

    grads = FlatGrads.make(params)  # None where the parameters can't share one buffer
    loss.backward(); clip_gradients(params, grads, clip_value=None, clip_norm=1.0)
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

_NO_CONTEXT = contextlib.nullcontext()  # reused: no allocation per micro-batch


class FlatGrads:
    """Every parameter's ``.grad`` as a view into one flat buffer.

    Used on a single process (DDP manages its own gradient buckets). ``intact()`` checks that
    autograd kept the views; if not, callers take the per-parameter path for that update.
    """

    def __init__(self, params: list[nn.Parameter]) -> None:
        self.params = params
        self.flat = torch.zeros(
            sum(p.numel() for p in params), dtype=params[0].dtype, device=params[0].device
        )
        offset = 0
        for p in params:
            # autograd accumulates into an existing .grad in place, so the views stay views
            p.grad = self.flat[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        self._views = [p.grad for p in params]

    @classmethod
    def make(cls, params: list[nn.Parameter]) -> FlatGrads | None:
        """A ``FlatGrads`` when every parameter shares one dense floating dtype and device."""
        if not params or any(
            p.is_sparse or p.dtype != params[0].dtype or p.device != params[0].device for p in params
        ):
            return None
        return cls(params) if params[0].is_floating_point() else None

    def intact(self) -> bool:
        """Whether every ``.grad`` is still its view (autograd replaces one it can't add to in place)."""
        return all(p.grad is v for p, v in zip(self.params, self._views, strict=True))

    def zero(self, reattach: bool = True) -> None:
        """Zero the buffer; ``reattach`` puts the views back where autograd replaced a ``.grad``."""
        if reattach:
            for p, v in zip(self.params, self._views, strict=True):
                p.grad = v
        self.flat.zero_()


def clip_grad_norm(
    params: list[nn.Parameter], max_norm: float, flat: torch.Tensor | None = None
) -> torch.Tensor:
    """Scale gradients so that their global L2 norm is at most ``max_norm``; the norm before.

    Same rule as ``nn.utils.clip_grad_norm_`` (``g *= max_norm / (norm + 1e-6)`` when
    ``norm > max_norm``). Given ``flat`` (the gradients as one buffer, ``FlatGrads.flat``) it is
    one norm and one multiply.
    """
    if flat is not None:
        grads = [flat]
        total = torch.linalg.vector_norm(flat)
    else:
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return torch.zeros(())
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    if total.device.type == "cpu":  # reading the norm costs no device sync: multiply only to clip
        if total > max_norm:  # NaN compares False: a poisoned gradient is left to the guard
            torch._foreach_mul_(grads, max_norm / (float(total) + 1e-6))
    else:  # no host sync on a GPU: always multiply, by at most 1
        torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total


def clip_gradients(
    params: list[nn.Parameter], grads: FlatGrads | None, clip_value: float | None, clip_norm: float | None
) -> None:
    """Clip by value (``clip_value``), then by global norm (``clip_norm``); falsy skips either.

    ``grads``: the parameters' intact ``FlatGrads`` (one operation each), or None (per parameter).
    """
    if clip_value:
        if grads is not None:
            grads.flat.clamp_(-clip_value, clip_value)
        else:
            nn.utils.clip_grad_value_(params, clip_value)
    if clip_norm:  # second, so that the norm of what the optimiser sees is bounded
        clip_grad_norm(params, clip_norm, grads.flat if grads is not None else None)


def sync_on_last(ddp: Any | None, last: bool) -> contextlib.AbstractContextManager:
    """The context for one micro-batch's backward: DDP's ``no_sync`` unless it is ``last``.

    Gradient accumulation: the micro-batches of one optimiser update add up their gradients
    locally and DDP all-reduces them once, after the last one. ``ddp`` None: a single process.
    """
    return ddp.no_sync() if ddp is not None and not last else _NO_CONTEXT
