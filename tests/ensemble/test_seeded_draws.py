"""Seeded MC draws (``mc_forward(..., seeds=)``) in blocks of many rows: a row's draws are the
same alone, among other rows, at another position, in another block or the padded last one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foretune import models
from foretune.ensemble import draws
from foretune.ensemble.draws import mc_forward, row_seeds
from foretune.models.seeded_dropout import seeded_rows

SAMPLES = 4
ROWS = 13


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 5 rows, so 13 rows make 3 blocks, the last one padded."""
    monkeypatch.setattr(draws, "SEEDED_ROWS", 5)


def windows(name: str, rows: int = ROWS) -> tuple[torch.nn.Module, np.ndarray, np.ndarray]:
    torch.manual_seed(0)
    model = models.build(name, input_size=2, horizon=3, window=8, dropout=0.3, input_levels=True)
    x = np.random.default_rng(1).normal(size=(rows, 8, 2)).astype(np.float32)
    x[..., -1] = 1.0  # the padding mask: every step real
    return model, x, row_seeds(3, "member", [f"s{i}" for i in range(rows)])


@pytest.mark.parametrize("name", ["mlp", "nbeats", "tcn", "gru", "lstm", "cnn_lstm", "transformer"])
def test_a_rows_draws_ignore_the_rows_beside_it_and_its_position(name, small_blocks):
    model, x, seeds = windows(name)
    z, probs = mc_forward(model, x, SAMPLES, seeds=seeds)
    assert z.shape == (SAMPLES, ROWS, 3) and probs.shape == (ROWS, 3, 3)
    assert np.all(z.std(axis=0) > 0)  # dropout is on per sample
    for rows in ([6], [12, 0, 6], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10, 11, 12]):
        part, part_probs = mc_forward(model, x[rows], SAMPLES, seeds=seeds[rows])
        np.testing.assert_array_equal(part, z[:, rows])
        np.testing.assert_array_equal(part_probs, probs[rows])


@pytest.mark.parametrize("name", ["mlp", "gru", "transformer"])
def test_seeded_draws_use_the_seeds_not_the_callers_rng(name):
    model, x, seeds = windows(name)
    torch.manual_seed(1)
    state = torch.get_rng_state()
    first, _ = mc_forward(model, x, SAMPLES, seeds=seeds)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(2)
    again, _ = mc_forward(model, x, SAMPLES, seeds=seeds)
    np.testing.assert_array_equal(again, first)
    other, _ = mc_forward(model, x, SAMPLES, seeds=seeds + 1)
    assert not np.any(np.all(other == first, axis=0))  # every row: other seeds, other draws


@pytest.mark.parametrize("name", ["mlp", "tcn", "gru"])
def test_batched_draws_are_the_networks_own_passes_with_the_rows_masks(name, small_blocks):
    """Blocks change where the masks come from, not what the network computes: a row's draws
    are the model's plain passes over its window, its masks fixed to the row's generator's."""
    model, x, seeds = windows(name, rows=3)
    z, _ = mc_forward(model, x, SAMPLES, seeds=seeds)
    models.set_mc_dropout(model, True)
    with torch.no_grad(), seeded_rows(model, [int(seeds[1])], SAMPLES):
        reg, _ = model(torch.as_tensor(x[1:2]).repeat(SAMPLES, 1, 1))
    models.set_mc_dropout(model, False)
    np.testing.assert_allclose(z[:, 1], reg.numpy(), rtol=1e-5, atol=1e-6)


def test_a_block_has_a_fixed_number_of_rows_whatever_the_input():
    assert draws.seeded_rows_per_block(50) == draws.SEEDED_ROWS
    assert draws.seeded_rows_per_block(1000) == draws.SEEDED_WINDOWS // 1000
    assert draws.seeded_rows_per_block(10**6) == 1
