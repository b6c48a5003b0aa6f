"""Shared fixtures for the models tests: a small seasonal series and a tiny training loop.

The real training engine lives in ``foretune.train``; this loop only checks that each
architecture can learn, and stays independent of it on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn

WINDOW, HORIZON = 24, 3


@dataclass(frozen=True)
class Windows:
    """Train / held-out windows ``x [N, T, 1]``, targets ``y [N, H]`` and directions ``[N, H]``."""

    x_train: Tensor
    y_train: Tensor
    d_train: Tensor
    x_test: Tensor
    y_test: Tensor
    window: int = WINDOW
    horizon: int = HORIZON

    def naive_mse(self) -> float:
        """Held-out MSE of repeating the last observed value over the horizon."""
        return float(((self.x_test[:, -1, :1] - self.y_test) ** 2).mean())


def _windows(series: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    steps = series.unfold(0, WINDOW + HORIZON, 1)
    x, y = steps[:, :WINDOW].unsqueeze(-1), steps[:, WINDOW:]
    change = y - x[:, -1]
    direction = torch.ones_like(y, dtype=torch.long)
    direction[change < -0.05] = 0
    direction[change > 0.05] = 2
    return x, y, direction


@pytest.fixture(scope="session")
def sine_windows() -> Windows:
    """Noisy sine with period 12 steps: ~400 training and ~150 later, held-out windows."""
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(600, dtype=torch.float32)
    series = torch.sin(2 * math.pi * t / 12) + 0.1 * torch.randn(600, generator=generator)
    x, y, d = _windows(series)
    split = 420
    test = slice(split + WINDOW + HORIZON, None)  # no overlap with any training window
    return Windows(x[:split], y[:split], d[:split], x[test], y[test])


@pytest.fixture(scope="session")
def train_briefly() -> Callable[..., float]:
    """Return ``train(model, windows, steps=..., lr=...) -> held-out MSE`` (Adam, MSE + 0.1 CE)."""

    def train(
        model: nn.Module,
        data: Windows,
        steps: int = 80,
        lr: float = 3e-3,
        batch: int = 64,
    ) -> float:
        generator = torch.Generator().manual_seed(1)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(steps):
            index = torch.randint(0, len(data.x_train), (batch,), generator=generator)
            regression, logits = model(data.x_train[index])
            loss = nn.functional.mse_loss(regression, data.y_train[index])
            loss = loss + 0.1 * nn.functional.cross_entropy(
                logits.flatten(0, 1), data.d_train[index].flatten()
            )
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        model.eval()
        with torch.no_grad():
            return float(((model(data.x_test)[0] - data.y_test) ** 2).mean())

    return train
