"""The integrated-gradients baseline keeps the bookkeeping channels (the padding mask, the
calendar phases) at their actual values, so they get no attribution and the attributions still
add up to ``f(x) - f(baseline)`` over the series and its covariates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_explain_ensemble import _ensemble, _history

from foretune.explain import HOLDABLE, ExplainError, IGSettings, explain_ensemble, integrated_gradients
from foretune.explain.settings import held_channels
from foretune.models import build

pytestmark = [
    pytest.mark.usefixtures("torch_single_thread"),
    pytest.mark.filterwarnings("ignore::foretune.ensemble.UnseenSeriesWarning"),
]


def test_held_channels_are_the_mask_and_the_calendar_phases():
    names = ["y", "temp", "futr:promo", "cal:month_sin", "cal:month_cos", "static:size", "mask"]
    assert HOLDABLE == ("mask", "calendar")
    assert held_channels(names, HOLDABLE) == [3, 4, 6]
    assert held_channels(names, ("mask",)) == [6]
    assert held_channels(names, ()) == []
    with pytest.raises(ExplainError, match="held must name"):
        integrated_gradients(
            build("mlp", input_size=2, horizon=2, window=8), torch.zeros(1, 8, 2), held=("padding",)
        )


def test_the_padding_mask_gets_no_attribution_and_completeness_holds():
    """A short series (3 observations, windows 4 and 8): against an all-zeros mask the mask
    channel collected attribution wherever the data is; held at its actual values it gets none,
    the series' own attributions are unchanged (the members are linear) and still complete."""
    ensemble, history = _ensemble(), _history()
    short = history[(history.unique_id != "b") | (history.ds < "2021-01-04")]
    held = explain_ensemble(ensemble, short, step=1)
    plain = explain_ensemble(ensemble, short, IGSettings(step=1, held=()))
    a, b = held.attributions, plain.attributions
    mask, rest = a["feature"] == "mask", a["feature"] != "mask"
    assert (a.loc[mask, "attribution"] == 0).all()
    assert (b.loc[b["feature"] == "mask", "attribution"].abs() > 1e-3).any()  # what it was before
    np.testing.assert_allclose(a.loc[rest, "attribution"], b.loc[rest, "attribution"], rtol=1e-5, atol=1e-7)
    assert held.completeness["converged"].all() and (held.completeness["relative_error"] < 1e-4).all()
    assert held.summary["held_at_actual_values"] == ["mask"]
    assert plain.summary["held_at_actual_values"] == []


@pytest.mark.parametrize("name", ["mlp", "lstm", "tcn"])
def test_a_held_channel_is_exactly_zero_for_real_architectures(name):
    torch.manual_seed(0)
    model = build(name, input_size=3, horizon=2, window=8).eval()
    x = torch.randn(3, 8, 3, generator=torch.Generator().manual_seed(1))
    x[:, :, -1] = 1.0
    x[0, :3, -1] = 0.0  # padded steps of the first window
    result = integrated_gradients(model, x, step=2, fixed=[2], warn=False)
    assert (result.attributions[..., 2] == 0).all()
    assert np.abs(result.attributions[..., :2]).sum() > 0 and result.converged.all()
    with pytest.raises(ExplainError, match="fixed channels"):
        integrated_gradients(model, x, fixed=[3], warn=False)
