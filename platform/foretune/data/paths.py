"""Each window's level path in MASE units: what the loss on the forecast's level path needs.

``level_paths(horizon, kinds, stats, last, future, scale)`` gives one row ``[H + 5]`` per window:
the actual future levels divided by the series' MASE scale (``H`` columns), then ``last / scale``
(the origin's level), ``sigma`` and ``mu`` (the standardisation of its changes), the code of its
kind (its index in ``transform.KINDS``) and ``1 / scale``. From these, predicted standardised
changes integrate to predicted levels in the same units (``train.losses``):

- ``log_ratio``: ``last * exp(cumsum(z * sigma + mu)) / scale``;
- ``diff``: ``(last + cumsum(z * sigma + mu)) / scale``;
- ``none``: ``(z * sigma + mu) / scale`` (the change is the level).

so the mean absolute difference is the MASE of the forecast, with the scale of the series'
training part. A series whose scale is undefined (NaN: a constant training part) gets a row of
zeros: its windows add nothing to that loss. ``PATH_COLUMNS`` names the columns after the
``H`` targets.
"""

from __future__ import annotations

import numpy as np

from .transform import KINDS

#: The columns of a level path after its ``horizon`` scaled targets.
PATH_COLUMNS = ("origin", "sigma", "mu", "kind", "inverse_scale")


def level_paths(
    kinds: np.ndarray,
    sigma: np.ndarray,
    mu: np.ndarray,
    last: np.ndarray,
    future: np.ndarray,
    scale: np.ndarray,
) -> np.ndarray:
    """``[N, H + 5]`` float32 rows of windows with per-window ``kinds`` (strings), standardisation
    ``sigma``/``mu``, origin level ``last``, actual levels ``future [N, H]`` and MASE ``scale``."""
    scale = np.asarray(scale, dtype=np.float64)
    defined = np.isfinite(scale) & (scale > 0)
    inverse = np.where(defined, 1.0 / np.where(defined, scale, 1.0), 0.0)
    code = np.select([np.asarray(kinds) == k for k in KINDS], list(range(len(KINDS))), 0)
    columns = [
        np.asarray(future, dtype=np.float64) * inverse[:, None],
        (np.asarray(last, dtype=np.float64) * inverse)[:, None],
        np.where(defined, sigma, 0.0)[:, None],
        np.where(defined, mu, 0.0)[:, None],
        code[:, None].astype(np.float64),
        inverse[:, None],
    ]
    out = np.concatenate(columns, axis=1)
    out[~defined] = 0.0
    return np.nan_to_num(out, nan=0.0).astype(np.float32)
