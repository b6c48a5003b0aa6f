"""A forecast frame in Nixtla's column conventions (neuralforecast, statsforecast, utilsforecast).

    nf_style = to_nixtla(forecast, alias="foretune")
    # unique_id, ds, [cutoff, y,] foretune, foretune-lo-95, foretune-lo-90, ..., foretune-hi-95
    narrow = to_nixtla(forecast, level=[90])          # only the 90% interval
    native = keep_levels(forecast, [90])              # the same choice in foretune's columns

``<alias>`` is the point forecast (``mean``) and every symmetric pair of quantile columns
``(q, 1 - q)`` becomes the interval of level ``1 - 2q`` in percent: ``q05``/``q95`` ->
``<alias>-lo-90``/``<alias>-hi-90``, ``q025``/``q975`` -> ``<alias>-lo-95``. Every other column
is left out, the median included: utilsforecast counts each column that is not an id, a time, a
target, a cutoff or an interval bound as a model of its own, so with exactly one point column
``utilsforecast.evaluation.evaluate(frame, metrics, level=[90])`` and
``utilsforecast.plotting.plot_series(history, frame, level=[90])`` read the frame with no
``models=`` argument, as they read a neuralforecast forecast. Lows come by descending level,
then highs by ascending level, as statsforecast orders them; ``cutoff`` and ``y`` (a
cross-validation frame) are kept. Levels are given in percent, as in Nixtla's ``level=``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from foretune.errors import ConfigError
from foretune.metrics import interval_pairs, level_name, quantile_columns

#: The values of ``predict(format=...)``: foretune's own columns (``native``; ``foretune`` is the
#: same) or Nixtla's.
FORMATS = ("native", "foretune", "nixtla")
_KEPT = ("unique_id", "ds", "cutoff", "y")


def to_nixtla(
    frame: pd.DataFrame, alias: str = "foretune", level: Iterable[float] | None = None
) -> pd.DataFrame:
    """``frame`` (``Ensemble.predict``'s columns) renamed and cut to Nixtla's conventions;
    ``level`` (percent, e.g. ``[80, 90]``) keeps only those intervals (None: every one)."""
    missing = {"unique_id", "ds", "mean"} - set(frame.columns)
    if missing:
        raise ValueError(f"a forecast frame needs columns {sorted(missing)} to convert to Nixtla's")
    pairs = _chosen_pairs(frame.columns, level)  # widest first
    out = {name: frame[name] for name in _KEPT if name in frame.columns}
    out[alias] = frame["mean"]
    for lvl, lower, _ in pairs:
        out[f"{alias}-lo-{level_name(lvl)}"] = frame[lower]
    for lvl, _, upper in reversed(pairs):
        out[f"{alias}-hi-{level_name(lvl)}"] = frame[upper]
    return pd.DataFrame(out, index=frame.index)


def keep_levels(frame: pd.DataFrame, level: Iterable[float] | None) -> pd.DataFrame:
    """``frame`` with only the quantile columns bounding the intervals of ``level`` (percent) and
    the median; every other column is kept. None keeps everything."""
    if level is None:
        return frame
    kept = {name for _, lower, upper in _chosen_pairs(frame.columns, level) for name in (lower, upper)}
    quantiles = quantile_columns(frame.columns)
    dropped = [name for q, name in quantiles.items() if q != 0.5 and name not in kept]
    return frame.drop(columns=dropped)


def _chosen_pairs(columns: Iterable[str], level: Iterable[float] | None) -> list[tuple[float, str, str]]:
    """``interval_pairs`` of ``columns`` (widest first), only those of ``level`` when given;
    ``ConfigError`` naming the levels on offer for one that is not there."""
    pairs = interval_pairs(columns)
    if level is None:
        return pairs
    if isinstance(level, (int, float)):
        level = [level]
    by_name = {level_name(lvl): (lvl, lower, upper) for lvl, lower, upper in pairs}
    wanted = [level_name(float(lvl) / 100.0) for lvl in level]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        offered = ", ".join(by_name) or "none"
        raise ConfigError(
            f"level {', '.join(unknown)} is not among this forecast's calibrated intervals "
            f"(levels on offer, in percent: {offered}); add it to ensemble.levels and rebuild"
        )
    return sorted((by_name[name] for name in set(wanted)), reverse=True)
