"""Column names of quantiles and interval levels, shared by every writer and reader of forecast frames."""

from __future__ import annotations

import re
from collections.abc import Iterable


def central_interval(level: float) -> tuple[float, float]:
    """The quantile levels bounding a central interval: ``0.9 -> (0.05, 0.95)``.

    Rounded to 12 digits so that they match the configured quantiles as dictionary keys.
    """
    return round((1.0 - level) / 2.0, 12), round((1.0 + level) / 2.0, 12)


_QUANTILE_COL = re.compile(r"^q(\d{2,})$")


_DIGITS = 12  # quantile levels are rounded to 12 decimals, as ``central_interval`` rounds them


def quantile_name(q: float) -> str:
    """Column name of the quantile level ``q`` in (0, 1): ``q`` + its decimal digits, at least
    two: 0.05 -> ``q05``, 0.5 -> ``q50``, 0.025 -> ``q025``, 0.975 -> ``q975``, 0.005 -> ``q005``.
    """
    value = round(float(q), _DIGITS)
    if not 0.0 < value < 1.0:
        raise ValueError(f"a quantile level must lie strictly between 0 and 1, got {q}")
    digits = f"{value:.{_DIGITS}f}"[2:].rstrip("0")
    return "q" + digits.ljust(2, "0")


def quantile_level(name: str) -> float | None:
    """The quantile level a column ``name`` spells (``quantile_name``'s inverse), else None.

    Only canonical names count: ``q05`` is 0.05 and ``q005`` 0.005, while ``q5``, ``q500`` (0.5
    is ``q50``) and ``q00`` are not quantile columns.
    """
    match = _QUANTILE_COL.match(str(name))
    if not match:
        return None
    level = float("0." + match.group(1))
    if not 0.0 < level < 1.0 or quantile_name(level) != name:
        return None
    return level


def quantile_columns(columns: Iterable[str]) -> dict[float, str]:
    """The quantile columns among ``columns`` by level, ascending: ``{0.05: "q05", ...}``."""
    out = {}
    for col in columns:
        level = quantile_level(col)
        if level is not None:
            out[level] = col
    return dict(sorted(out.items()))


def interval_pairs(columns: Iterable[str]) -> list[tuple[float, str, str]]:
    """Central intervals among ``columns``: ``(level, lower, upper)`` for every pair of quantile
    columns ``(q, 1 - q)``, widest first: ``["q05", "q50", "q95", "q25", "q75"]`` ->
    ``[(0.9, "q05", "q95"), (0.5, "q25", "q75")]``."""
    quantiles = quantile_columns(columns)
    pairs = []
    for lo, col in quantiles.items():
        level = round(1.0 - 2.0 * lo, 12)
        hi = central_interval(level)[1]
        if lo < 0.5 and hi in quantiles:
            pairs.append((level, col, quantiles[hi]))
    return sorted(pairs, reverse=True)


def level_name(level: float) -> str:
    """Name of a central interval level in percent: 0.9 -> ``90``, 0.975 -> ``97.5``."""
    return f"{round(float(level) * 100, 6):g}"
