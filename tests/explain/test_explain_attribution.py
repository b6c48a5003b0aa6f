"""Integrated gradients on single models: completeness for every architecture, adaptive
step counts, baselines, direction targets, the recurrent/cuDNN handling, a known answer, and
the optional captum dependency."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from foretune.explain import (
    ExplainError,
    IGSettings,
    MissingDependencyError,
    integrated_gradients,
    prepare_model,
)
from foretune.models import ARCHITECTURES, available, build

WINDOW, FEATURES, HORIZON = 12, 2, 3


pytestmark = pytest.mark.usefixtures("torch_single_thread")


def _model(name: str, seed: int = 0) -> nn.Module:
    """A small model with non-zero biases (zero biases make ReLU nets linear along the path)."""
    torch.manual_seed(seed)
    model = build(name, input_size=FEATURES, horizon=HORIZON, window=WINDOW)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("bias"):
                p.normal_(0.0, 0.2)
    return model.eval()


def _inputs(n: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, WINDOW, FEATURES, generator=torch.Generator().manual_seed(seed))


def test_every_registered_architecture_is_explained_below():
    assert available() == list(ARCHITECTURES) and len(ARCHITECTURES) == 9  # the eight and nbeats


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("baseline", ["zeros", "mean"])
def test_completeness_within_tolerance_for_every_architecture(name, baseline):
    model = _model(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = _inputs()
    result = integrated_gradients(model, x, step=2, baseline=baseline, warn=False)
    assert result.attributions.shape == (4, WINDOW, FEATURES)
    assert np.isfinite(result.attributions).all()
    # completeness, recomputed by hand: delta = sum of attributions - (f(x) - f(baseline))
    with torch.no_grad():
        reg = model(x)[0][:, 1].numpy()
    np.testing.assert_allclose(result.output, reg, rtol=1e-5, atol=1e-6)
    moved = result.output - result.baseline_output
    total = result.attributions.reshape(4, -1).sum(1)
    np.testing.assert_allclose(total - moved, result.delta, atol=1e-5)
    # within 5% of f(x) - f(b). Where the output barely moves from the baseline (|f(x) - f(b)|
    # < 0.05 standard deviations) a relative error is dominated by cancellation: such a row may
    # stay flagged "not converged" after 400 steps (piecewise-linear ReLU nets), but its
    # absolute error must be small
    small = np.abs(moved) < 0.05
    ok = result.converged | (small & (np.abs(result.delta) <= 0.005))
    assert ok.all(), (moved, result.relative_error)
    assert result.converged.sum() >= 3
    assert (result.relative_error[result.converged] <= 0.05).all()
    # the caller's model is untouched: same weights, still in eval mode
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize(
    ("name", "direction_class"),
    [("lstm", "predicted"), ("gru", "up"), ("attention_lstm", "predicted"), ("bilstm", "up")],
)
def test_recurrent_models_backpropagate_direction_probabilities(name, direction_class):
    model = _model(name, seed=3)
    x = _inputs(5, seed=4)
    result = integrated_gradients(model, x, step=3, target="direction", direction_class=direction_class)
    assert result.converged.all(), result.relative_error
    assert np.abs(result.attributions).sum() > 0
    with torch.no_grad():
        probs = torch.softmax(model(x)[1][:, 2], -1).numpy()
    expected = np.full(5, 2) if direction_class == "up" else probs.argmax(-1)
    np.testing.assert_array_equal(result.classes, expected)
    np.testing.assert_allclose(result.output, probs[np.arange(5), expected], rtol=1e-5)
    assert all(t.startswith("p_") for t in result.target)


class _TwoLayerLSTM(nn.Module):
    """A multi-layer nn.LSTM with its own inter-layer dropout (not used by foretune's models)."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(FEATURES, 8, num_layers=2, dropout=0.5, batch_first=True)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(8, HORIZON * 4)

    def forward(self, x):
        h = self.out(self.drop(self.rnn(x)[0][:, -1]))
        return h[:, :HORIZON], h[:, HORIZON:].unflatten(-1, (HORIZON, 3))


def test_prepared_copy_keeps_rnns_in_train_mode_without_dropout():
    """The cuDNN path (RNN backward needs train mode) is taken on every device and is exact."""
    torch.manual_seed(0)
    model = _TwoLayerLSTM().eval()
    net = prepare_model(model, dtype=torch.float64)
    assert net is not model and model.rnn.dropout == 0.5 and not model.training
    assert net.rnn.training and net.rnn.dropout == 0.0
    assert not net.drop.training and not net.out.training
    assert all(p.dtype == torch.float64 and not p.requires_grad for p in net.parameters())
    assert all(p.dtype == torch.float32 and p.requires_grad for p in model.parameters())
    x = _inputs()
    with torch.no_grad():
        expected = model(x)[0].double().numpy()
        np.testing.assert_allclose(net(x.double())[0].numpy(), expected, rtol=1e-5, atol=1e-6)
    first = integrated_gradients(model, x)
    second = integrated_gradients(model, x)
    np.testing.assert_array_equal(first.attributions, second.attributions)  # no dropout
    assert first.converged.all()


class _Kink(nn.Module):
    """``relu(sum(x) - c)`` at every step: a kink on the path that quadrature resolves slowly."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        value = torch.relu(x.sum((1, 2)) - self.c)[:, None].repeat(1, HORIZON)
        return value, torch.zeros(x.shape[0], HORIZON, 3, dtype=x.dtype)


def test_step_count_is_raised_until_completeness_holds():
    x = torch.full((1, 4, 2), 1 / 8)  # sum 1: the kink sits at alpha = c on the path
    loose = integrated_gradients(_Kink(0.3), x, tolerance=0.05)
    assert loose.n_steps.tolist() == [50] and loose.converged.all()
    tight = integrated_gradients(_Kink(0.3), x, tolerance=0.01)
    assert tight.n_steps.tolist() == [100]
    assert tight.relative_error[0] <= 0.01 < loose.relative_error[0]
    with pytest.warns(RuntimeWarning, match="completeness error above"):
        hopeless = integrated_gradients(_Kink(0.7), x, tolerance=1e-3)
    assert hopeless.n_steps.tolist() == [400] and not hopeless.converged.any()
    custom = integrated_gradients(_Kink(0.3), x, tolerance=0.01, n_steps=(20, 300))
    assert custom.n_steps.tolist() == [300]


def test_mean_baseline_is_the_window_mean_of_each_feature():
    torch.manual_seed(0)
    weights = torch.randn(HORIZON, WINDOW, FEATURES)

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(weights.clone())

        def forward(self, x):
            reg = torch.einsum("btf,htf->bh", x, self.w)
            return reg, torch.zeros(x.shape[0], HORIZON, 3, dtype=x.dtype)

    x = _inputs(3).double()
    kw = {"step": 3, "dtype": torch.float64}
    mean = integrated_gradients(Linear(), x, baseline="mean", **kw)
    expected = weights[2].double() * (x - x.mean(dim=1, keepdim=True))
    np.testing.assert_allclose(mean.attributions, expected.numpy(), rtol=1e-9, atol=1e-12)
    assert mean.relative_error.max() < 1e-8
    zeros = integrated_gradients(Linear(), x, baseline="zeros", **kw)
    np.testing.assert_allclose(zeros.attributions, (weights[2] * x).numpy(), rtol=1e-9, atol=1e-12)
    custom = integrated_gradients(Linear(), x, baseline=x.mean(dim=1, keepdim=True), **kw)
    np.testing.assert_allclose(custom.attributions, mean.attributions, atol=1e-12)


def test_only_lag_three_of_feature_zero_matters():
    """Trained on y = 2 * x[lag 3, feature 0] + noise (feature 1 is noise): that cell wins."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, WINDOW, FEATURES, generator=g)
    y = 2.0 * x[:, -3, 0] + 0.05 * torch.randn(512, generator=g)
    torch.manual_seed(0)
    model = build("mlp", input_size=FEATURES, horizon=HORIZON, window=WINDOW, dropout=0.0, hidden_sizes=[16])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):
        loss = nn.functional.mse_loss(model(x)[0], y[:, None].expand(-1, HORIZON))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    test = torch.randn(32, WINDOW, FEATURES, generator=g)
    result = integrated_gradients(model.eval(), test, step=1)
    assert result.converged.all()
    importance = np.abs(result.attributions).mean(0)  # [T, F]
    t, f = np.unravel_index(importance.argmax(), importance.shape)
    assert (WINDOW - t, f) == (3, 0)  # lag = WINDOW - index
    others = np.delete(importance.ravel(), importance.argmax())
    assert importance.max() > 5 * others.max()


def test_settings_object_equals_keywords_and_keywords_override_it():
    model = _model("tcn")
    x = _inputs(3)
    settings = IGSettings(step=2, target="direction", direction_class="predicted", n_steps=(8, 16))
    by_object = integrated_gradients(model, x, settings, warn=False)
    by_keywords = integrated_gradients(
        model, x, step=2, target="direction", direction_class="predicted", n_steps=(8, 16), warn=False
    )
    np.testing.assert_array_equal(by_object.attributions, by_keywords.attributions)
    assert by_object.target == by_keywords.target
    overridden = integrated_gradients(model, x, settings, target="forecast", warn=False)
    assert overridden.target == ["forecast"] * 3
    with pytest.raises(ExplainError, match="n_steps"):
        integrated_gradients(model, x, n_steps=())
    with pytest.raises(ExplainError, match="tolerance"):
        integrated_gradients(model, x, tolerance=0)
    with pytest.raises(TypeError):
        integrated_gradients(model, x, steps=4)  # not a setting


def test_bad_requests_raise_clear_errors():
    model = _model("mlp")
    x = _inputs(2)
    with pytest.raises(ExplainError, match="step=4"):
        integrated_gradients(model, x, step=4)
    with pytest.raises(ExplainError, match="step must be"):
        integrated_gradients(model, x, step=0)
    with pytest.raises(ExplainError, match="target"):
        integrated_gradients(model, x, target="level")
    with pytest.raises(ExplainError, match="baseline"):
        integrated_gradients(model, x, baseline="median")
    with pytest.raises(ExplainError, match="direction_class"):
        integrated_gradients(model, x, target="direction", direction_class="sideways")
    with pytest.raises(ExplainError, match=r"\[windows, time, features\]"):
        integrated_gradients(model, x[0])
    assert issubclass(ExplainError, ValueError)  # the CLI prints it as one line


def test_missing_captum_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "captum", None)
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    with pytest.raises(MissingDependencyError, match=r"pip install foretune\[explain\]") as info:
        integrated_gradients(_model("mlp"), _inputs(1))
    assert isinstance(info.value, ImportError)
    # the command line says so in one line (exit code 2), before loading anything
    from foretune.cli import main

    assert main(["explain", "--model", "no-such-dir", "--data", "no-such.parquet"]) == 2
    assert "pip install foretune[explain]" in capsys.readouterr().err


def test_models_and_explain_import_without_captum():
    code = (
        "import sys; import foretune.models, foretune.explain, foretune.ensemble;"
        "assert 'captum' not in sys.modules, 'captum imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    # and the models package never refers to it
    import foretune.models as models_pkg

    for path in Path(models_pkg.__file__).parent.glob("*.py"):
        assert "captum" not in path.read_text(), path


def test_float32_inputs_and_numpy_inputs_are_accepted():
    model = _model("gru")
    x = _inputs(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = integrated_gradients(model, x.numpy())
    b = integrated_gradients(model, x)
    np.testing.assert_allclose(a.attributions, b.attributions)
