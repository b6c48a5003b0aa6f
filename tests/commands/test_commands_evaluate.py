"""The evaluate command's own rules: what it says about means that leave series out."""

from __future__ import annotations

import pandas as pd

from foretune.commands.evaluate import _undefined_mase


def test_a_mean_that_leaves_series_out_says_how_many_and_why():
    summary = pd.DataFrame({"model": ["ensemble", "naive"], "mase": [0.9, 1.0], "mase_n_undefined": [2, 0]})
    line = _undefined_mase(summary)
    assert line is not None and "ensemble 2" in line and "naive" not in line and "constant" in line
    assert _undefined_mase(summary.assign(mase_n_undefined=0)) is None
