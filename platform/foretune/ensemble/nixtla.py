"""A forecast frame in Nixtla's column conventions (neuralforecast, statsforecast, utilsforecast).

    nf_style = to_nixtla(forecast, alias="foretune")
    # unique_id, ds, [cutoff, y,] foretune, foretune-median, foretune-lo-95, ..., foretune-hi-95

``<alias>`` is the point forecast (``mean``), ``<alias>-median`` the ``q50`` column, and every
symmetric pair of quantile columns ``(q, 1 - q)`` becomes the interval of level ``1 - 2q`` in
percent: ``q05``/``q95`` -> ``<alias>-lo-90``/``<alias>-hi-90``, ``q025``/``q975`` ->
``<alias>-lo-95``. So ``utilsforecast.evaluation.evaluate(frame, metrics, level=[90])`` and
``utilsforecast.plotting.plot_series(forecasts_df=frame, level=[90])`` read it as they read a
neuralforecast forecast. Lows come by descending level, then highs by ascending level, as
statsforecast orders them. A quantile without its mirror (e.g. 0.3 without 0.7), the direction
probabilities, ``std_mc``, ``fallback`` and ``sample_*`` have no Nixtla counterpart and are left
out; ``cutoff`` and ``y`` (a cross-validation frame) are kept.
"""

from __future__ import annotations

import pandas as pd

from foretune.metrics import interval_pairs, level_name, quantile_columns

#: The values of ``Ensemble.predict(format=...)``.
FORMATS = ("foretune", "nixtla")
_KEPT = ("unique_id", "ds", "cutoff", "y")


def to_nixtla(frame: pd.DataFrame, alias: str = "foretune") -> pd.DataFrame:
    """``frame`` (``Ensemble.predict``'s columns) renamed and cut to Nixtla's conventions."""
    missing = {"unique_id", "ds", "mean"} - set(frame.columns)
    if missing:
        raise ValueError(f"a forecast frame needs columns {sorted(missing)} to convert to Nixtla's")
    pairs = interval_pairs(frame.columns)  # widest first
    out = {name: frame[name] for name in _KEPT if name in frame.columns}
    out[alias] = frame["mean"]
    median = quantile_columns(frame.columns).get(0.5)
    if median is not None:
        out[f"{alias}-median"] = frame[median]
    for level, lower, _ in pairs:
        out[f"{alias}-lo-{level_name(level)}"] = frame[lower]
    for level, _, upper in reversed(pairs):
        out[f"{alias}-hi-{level_name(level)}"] = frame[upper]
    return pd.DataFrame(out, index=frame.index)
