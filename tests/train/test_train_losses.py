"""The losses: the level-path MASE loss is the MASE of the forecast levels; the per-step ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foretune import metrics as M
from foretune.data.paths import PATH_COLUMNS, level_paths
from foretune.data.transform import RowTransform
from foretune.train.losses import loss_sum, mase_loss, path_levels


def test_mase_loss_on_a_hand_worked_example():
    # one log-ratio series: last level 100, changes r = z * 0.1 + 0.01, MASE scale 5
    z = np.array([[1.0, -2.0]])
    path = level_paths(
        np.array(["log_ratio"]),
        np.array([0.1]),
        np.array([0.01]),
        np.array([100.0]),
        np.array([[112.0, 95.0]]),
        np.array([5.0]),
    )
    assert path.shape == (1, 2 + len(PATH_COLUMNS))
    r = z * 0.1 + 0.01  # 0.11, -0.19
    levels = 100.0 * np.exp(np.cumsum(r, axis=1))  # 111.63, 92.31
    expected = (abs(levels[0, 0] - 112.0) + abs(levels[0, 1] - 95.0)) / 5.0
    got = mase_loss(torch.tensor(z, dtype=torch.float32), torch.zeros(1, 2), torch.tensor(path))
    assert float(got) == pytest.approx(expected, rel=1e-5)
    assert float(got) / 2 == pytest.approx(M.mae([[112.0, 95.0]], levels) / 5.0, rel=1e-5)


@pytest.mark.parametrize(
    ("kind", "levels"),
    [("diff", lambda last, r: last + np.cumsum(r, axis=1)), ("none", lambda last, r: r)],
)
def test_other_kinds_integrate_as_their_transform(kind, levels):
    rng = np.random.default_rng(0)
    z, last = rng.normal(size=(4, 3)), rng.uniform(10, 20, 4)
    sigma, mu, scale = rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.uniform(1, 3, 4)
    future = rng.normal(15, 2, (4, 3))
    path = torch.tensor(level_paths(np.array([kind] * 4), sigma, mu, last, future, scale))
    predicted = levels(last[:, None], z * sigma[:, None] + mu[:, None])
    got = path_levels(torch.tensor(z, dtype=torch.float32), path).numpy()
    np.testing.assert_allclose(got, predicted / scale[:, None], rtol=1e-5)
    loss = float(mase_loss(torch.tensor(z, dtype=torch.float32), torch.zeros(4, 3), path))
    assert loss / 12 == pytest.approx(np.mean(np.abs(predicted - future) / scale[:, None]), rel=1e-5)


def test_an_undefined_scale_adds_nothing():
    path = level_paths(
        np.array(["diff", "log_ratio"]),
        np.ones(2),
        np.zeros(2),
        np.array([5.0, 5.0]),
        np.array([[6.0], [7.0]]),
        np.array([np.nan, 0.0]),
    )
    assert not path.any()
    z = torch.randn(2, 1, requires_grad=True)
    loss = mase_loss(z, torch.zeros(2, 1), torch.tensor(path))
    loss.backward()
    assert float(loss.detach()) == 0.0 and not z.grad.any()


def test_loss_on_real_windows_is_the_metric_of_their_forecast(prepared):
    """On the built-in data's validation windows, the loss of any prediction equals the MASE of
    the levels it inverts to (the transform's own inverse), with the training part's scales."""
    ws = prepared.val
    z = np.random.default_rng(1).normal(size=ws.y_reg.shape).astype(np.float32)
    rows = RowTransform(prepared.transform, np.asarray(prepared.series_ids, dtype=object)[ws.series])
    levels = rows.levels(ws.last, rows.changes(z))
    expected = np.mean(np.abs(levels - ws.future) / prepared.mase_scale[ws.series][:, None])
    outputs = (torch.tensor(z), torch.zeros(len(z), z.shape[1], 3))
    total = loss_sum(outputs, torch.tensor(ws.y_reg), torch.tensor(ws.y_dir), torch.tensor(ws.path))
    assert float(total) / z.size == pytest.approx(expected, rel=1e-4)
    perfect = loss_sum(
        (torch.tensor(ws.y_reg), outputs[1]),
        torch.tensor(ws.y_reg),
        torch.tensor(ws.y_dir),
        torch.tensor(ws.path),
    )
    assert float(perfect) / z.size < 1e-4  # the true changes integrate to the true levels


def test_direction_term_and_per_step_losses():
    reg, logits = torch.zeros(2, 3), torch.zeros(2, 3, 3)
    y_reg, y_dir, path = (
        torch.ones(2, 3),
        torch.ones(2, 3, dtype=torch.int64),
        torch.zeros(2, 3 + len(PATH_COLUMNS)),
    )
    assert float(loss_sum((reg, logits), y_reg, y_dir, path, "mse")) == pytest.approx(6.0)
    with_direction = loss_sum((reg, logits), y_reg, y_dir, path, "mae", direction_weight=0.5)
    assert float(with_direction) == pytest.approx(6.0 + 0.5 * 6 * np.log(3.0), rel=1e-6)
