import pytest
import torch

from foretune import models


@pytest.mark.parametrize("name", models.available())
def test_architecture_beats_naive_forecast(name, sine_windows, train_briefly):
    torch.manual_seed(0)
    model = models.build(name, input_size=1, horizon=sine_windows.horizon, window=sine_windows.window)
    mse = train_briefly(model, sine_windows)
    naive = sine_windows.naive_mse()
    assert mse < 0.25 * naive, f"{name}: held-out MSE {mse:.4f} vs naive {naive:.4f}"
