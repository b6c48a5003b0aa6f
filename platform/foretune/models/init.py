"""Weight initialisation, in one place for every architecture.

Rules:

* Layers feeding a ReLU or GELU: He / Kaiming normal, ``std = sqrt(2 / fan_in)``.
* Layers feeding tanh, sigmoid or nothing (linear outputs, residual projections):
  Xavier / Glorot uniform, ``U(-sqrt(6 / (fan_in + fan_out)), +sqrt(...))``.
* Recurrent layers (``nn.LSTM`` / ``nn.GRU``): input-to-hidden weights Xavier uniform per gate
  block (the gates are sigmoid/tanh), hidden-to-hidden weights orthogonal per gate block (keeps
  the recurrence norm-preserving at the start), biases zero except the LSTM forget gate, whose
  input bias is 1 so that the cell remembers by default (Jozefowicz et al., 2015).
* All other biases start at zero.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

Nonlinearity = Literal["relu", "gelu", "tanh", "sigmoid", "linear"]
_HE = frozenset({"relu", "gelu"})


def init_linear(layer: nn.Linear | nn.Conv1d, nonlinearity: Nonlinearity = "linear") -> None:
    """Initialise a dense or convolutional layer for the activation that follows it."""
    if nonlinearity in _HE:
        nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
    else:
        nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def init_recurrent(rnn: nn.LSTM | nn.GRU) -> None:
    """Xavier input weights, orthogonal recurrent weights (per gate), zero biases, forget bias 1."""
    gates = 4 if isinstance(rnn, nn.LSTM) else 3
    hidden = rnn.hidden_size
    for name, param in rnn.named_parameters():
        if name.startswith("weight_ih"):
            for block in param.data.chunk(gates, dim=0):
                nn.init.xavier_uniform_(block)
        elif name.startswith("weight_hh"):
            for block in param.data.chunk(gates, dim=0):
                nn.init.orthogonal_(block)
        elif name.startswith("bias"):
            nn.init.zeros_(param)
            if gates == 4 and name.startswith("bias_ih"):
                param.data[hidden : 2 * hidden] = 1.0  # PyTorch gate order: input, forget, cell, output
