"""Building blocks shared by the architectures, MC-dropout switching, and the shared formulas.

Everything here works on sequences laid out ``[batch, time, features]``. No BatchNorm anywhere:
with dropout left on for MC sampling, batch statistics would leak across samples; LayerNorm is
used where normalisation is wanted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm as apply_weight_norm

from .init import Nonlinearity, init_linear, init_recurrent

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
}


class Encoder(nn.Module):
    """Base class of every architecture: maps ``x [B, T, F]`` to features ``[B, out_features]``.

    Subclasses take ``(input_size, window, dropout)`` positionally and their searchable
    hyperparameters as keyword-only arguments with defaults (the registry reads them from the
    signature, so the signature is the one source of defaults).

    ``forward(x) == trunk(stem(x))``: ``stem`` is the start of the network that no dropout
    precedes, the same in every MC-dropout pass, so MC draws compute it once per window and
    repeat only ``trunk`` per sample. By default the stem is the input itself.
    """

    out_features: int

    def stem(self, x: Tensor) -> Tensor:
        """The deterministic start of ``forward`` (default: ``x`` itself)."""
        return x

    def trunk(self, h: Tensor) -> Tensor:
        """The rest of ``forward`` after ``stem`` (default: all of it)."""
        return self(h)


class RecurrentEncoder(Encoder):
    """An encoder over a :class:`StackedRecurrent` ``self.rnn``, whose first layer (no dropout
    before it) is the stem; ``finish(outputs, last)`` makes the features (default: ``last``)."""

    rnn: StackedRecurrent

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(self.stem(x))

    def stem(self, x: Tensor) -> Tensor:
        return self.rnn.first(x)

    def trunk(self, h: Tensor) -> Tensor:
        return self.finish(*self.rnn.rest(h))

    def finish(self, outputs: Tensor, last: Tensor) -> Tensor:
        return last


class VariationalDropout(nn.Dropout):
    """Dropout with one mask per sequence and feature, shared by every time step.

    ``x [B, T, F]`` is multiplied by ``mask [B, 1, F] / (1 - p)``, ``mask ~ Bernoulli(1 - p)``
    (Gal & Ghahramani, 2016, applied between recurrent layers). Being an ``nn.Dropout``, it is
    switched by ``train()``/``eval()`` and by :func:`set_mc_dropout` like any other dropout.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p >= 1.0:
            return torch.zeros_like(x)
        keep = 1.0 - self.p
        mask = x.new_empty(x.shape[0], 1, x.shape[-1]).bernoulli_(keep).div_(keep)
        return x * mask


# Modules whose train() flag means "sample dropout": the dropout layers, plus nn.MultiheadAttention
# (attention dropout is functional, gated by its own flag) and nn.TransformerEncoderLayer (in eval
# mode it may take a fused "fast path" that skips dropout entirely).
_STOCHASTIC = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.MultiheadAttention,
    nn.TransformerEncoderLayer,
)


def set_mc_dropout(model: nn.Module, enabled: bool) -> nn.Module:
    """Put ``model`` in eval mode; if ``enabled``, turn every dropout back on (MC dropout).

    Safe because no module here has other train-mode behaviour (no BatchNorm). Returns ``model``.
    """
    model.eval()
    if enabled:
        for module in model.modules():
            if isinstance(module, _STOCHASTIC):
                module.train()
    return model


def check_sizes(name: str, sizes: Sequence[int]) -> list[int]:
    """Validate a per-layer size list (non-empty, positive ints) and return it as a list."""
    sizes = [int(s) for s in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"{name} must be a non-empty list of positive sizes, got {sizes}")
    return sizes


class StackedRecurrent(nn.Module):
    """Stacked ``nn.LSTM``/``nn.GRU`` layers, one module per layer, so layers can differ in size.

    Between layers: variational dropout on the sequence (same mask at every step) and, optionally,
    LayerNorm over features. Each layer runs PyTorch's fused kernel (cuDNN / MKL-DNN), so there is
    no Python loop over time. Returns ``(outputs [B, T, D], last [B, D])`` where ``last`` is the
    final state: for a bidirectional stack, the forward direction at step T-1 concatenated with
    the backward direction at step 0 (each direction's state after reading the whole window).
    """

    def __init__(
        self,
        cell: Literal["lstm", "gru"],
        input_size: int,
        hidden_sizes: Sequence[int],
        *,
        dropout: float,
        layer_norm: bool = False,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        directions = 2 if bidirectional else 1
        self.bidirectional = bidirectional
        self.dropouts = nn.ModuleList()
        self.layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        features = input_size
        for index, hidden in enumerate(check_sizes("hidden_sizes", hidden_sizes)):
            self.dropouts.append(VariationalDropout(dropout) if index else nn.Identity())
            rnn = rnn_class(features, hidden, batch_first=True, bidirectional=bidirectional)
            init_recurrent(rnn)
            self.layers.append(rnn)
            features = hidden * directions
            self.norms.append(nn.LayerNorm(features) if layer_norm else nn.Identity())
        self.out_features = features

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.rest(self.first(x))

    def first(self, x: Tensor) -> Tensor:
        """The first layer's outputs ``[B, T, D1]`` (no dropout precedes it)."""
        return self.norms[0](self.layers[0](self.dropouts[0](x))[0])

    def rest(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The later layers on the first one's outputs: every step's outputs and the final state."""
        for dropout, rnn, norm in zip(self.dropouts[1:], self.layers[1:], self.norms[1:], strict=True):
            x = norm(rnn(dropout(x))[0])
        if not self.bidirectional:
            return x, x[:, -1]
        hidden = self.layers[-1].hidden_size
        return x, torch.cat([x[:, -1, :hidden], x[:, 0, hidden:]], dim=-1)


class SequenceConv(nn.Module):
    """1-D convolution over time on ``[B, T, C]`` that keeps the length T.

    ``causal=True`` pads ``(k-1)*d`` steps on the left only, so output t sees inputs
    ``t-(k-1)*d .. t``; otherwise the padding is split ("same"). ``weight_norm=True`` wraps the
    convolution in ``torch.nn.utils.parametrizations.weight_norm`` after initialisation.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        dilation: int = 1,
        causal: bool = True,
        weight_norm: bool = False,
        nonlinearity: Nonlinearity = "relu",
    ) -> None:
        super().__init__()
        if kernel_size < 1 or dilation < 1:
            raise ValueError(f"kernel_size and dilation must be >= 1, got {kernel_size}, {dilation}")
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)
        init_linear(conv, nonlinearity)
        self.conv = apply_weight_norm(conv) if weight_norm else conv
        pad = (kernel_size - 1) * dilation
        self.padding = (pad, 0) if causal else (pad // 2, pad - pad // 2)

    def forward(self, x: Tensor) -> Tensor:
        x = nn.functional.pad(x.transpose(1, 2), self.padding)
        return self.conv(x).transpose(1, 2)


def receptive_field(kernel_size: int, num_layers: int) -> int:
    """Receptive field of ``num_layers`` causal convolutions with dilations ``2**l``.

    ``RF = sum_l (k-1) * 2**l + 1 = (k-1) * (2**L - 1) + 1`` (e.g. k=3, L=4 -> 31).
    """
    return (kernel_size - 1) * (2**num_layers - 1) + 1


def layers_for_receptive_field(kernel_size: int, target: int) -> int:
    """Smallest number of layers (at least 1) whose receptive field reaches ``target`` steps."""
    if target <= 1:
        return 1
    if kernel_size < 2:
        raise ValueError(f"kernel_size {kernel_size} cannot reach a receptive field of {target}")
    layers = 1
    while receptive_field(kernel_size, layers) < target:
        layers += 1
    return layers


def sinusoidal_encoding(length: int, d_model: int) -> Tensor:
    """Fixed positional encoding ``[length, d_model]`` (Vaswani et al., 2017).

    ``PE(pos, 2i) = sin(pos / 10000**(2i/d_model))``,
    ``PE(pos, 2i+1) = cos(pos / 10000**(2i/d_model))``;
    computed in float64 and returned as float32. An odd ``d_model`` ends with a sine column.
    """
    position = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = position / torch.pow(10000.0, two_i / d_model)
    encoding = torch.zeros(length, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angle)
    encoding[:, 1::2] = torch.cos(angle)[:, : d_model // 2]
    return encoding.float()
