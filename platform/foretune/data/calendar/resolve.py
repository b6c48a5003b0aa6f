"""A validated panel's frequencies: the rule ``validate`` resolves each series' frequency by.

    freqs, regular = panel_freqs(keys, ticks, spans, axis, given_freq(config_freq, axis))
    freq = series_freq(uid, ticks, axis, panel)   # one series by the same rule
    freq = own_freq(uid, ticks, axis)             # one series alone, without a panel

``data.freq`` (checked by ``given_freq``) is every series' frequency. Else a series of 3+
observations gets its own: regular (``regular_freq``, tried first against the panel's most common
frequencies so far), else the coarsest grid that holds its stamps with gaps (``gapped_freq``); a
series of 1-2 observations takes the panel's most common one. ``DataError`` names the series and
says to set ``data.freq`` when nothing fits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from pandas.tseries.frequencies import to_offset

from foretune.errors import DataError

from .axis import TimeAxis, grid_limit, placed
from .infer import Freq, common_freq, try_infer_freq


def given_freq(freq: Freq | None, axis: TimeAxis) -> Freq | None:
    """``data.freq`` checked against the kind of ``ds``: an int step or a pandas alias (None
    stays None); ``DataError`` naming what to give instead."""
    if freq is None:
        return None
    if isinstance(freq, str) and freq.strip().isdigit():
        freq = int(freq)
    if isinstance(freq, (bool, np.bool_)):
        raise DataError(f"data.freq must be a pandas frequency alias or an integer step, got {freq!r}")
    if isinstance(freq, (int, np.integer)):
        if not axis.integer:
            raise DataError(
                f"data.freq={freq} is an integer step but ds holds dates; give a pandas alias "
                "such as 'D', 'MS' or '30min'"
            )
        if freq <= 0:
            raise DataError(f"data.freq must be a positive integer step, got {freq}")
        return int(freq)
    if axis.integer:
        raise DataError(
            f"data.freq={freq!r} is a date frequency but ds holds integer steps; give an int step"
        )
    try:
        offset = to_offset(freq)
    except (ValueError, TypeError):
        raise DataError(
            f"data.freq={freq!r} is not a pandas frequency alias (e.g. 'D', 'MS', '30min')"
        ) from None
    if offset.n <= 0:
        raise DataError(f"data.freq must step forward, got {freq!r}")
    return str(freq)


def regular_freq(ticks: np.ndarray, axis: TimeAxis, candidates: Sequence[Freq] = ()) -> Freq | None:
    """The frequency of a regularly spaced series (3+ observations), else None: the first
    candidate if it follows it exactly, else ``infer_freq`` (skipped, as slow, when the series
    sits on the candidate's grid with gaps)."""
    if candidates:
        grid = axis.grid(ticks[0], ticks[-1], candidates[0], grid_limit(len(ticks)))
        pos = placed(grid, ticks)
        if pos is not None:
            return candidates[0] if len(grid) == len(ticks) else None
    return try_infer_freq(axis.index(ticks))


def _local_freq(axis: TimeAxis, ticks: np.ndarray) -> Freq | None:
    """``infer_freq`` of three neighbouring stamps, memoised on the axis."""
    key = tuple(int(t) for t in ticks)
    if key not in axis.local_freqs:
        axis.local_freqs[key] = try_infer_freq(axis.index(ticks))
    return axis.local_freqs[key]


def _coarsest_grid(ticks: np.ndarray, axis: TimeAxis, options: Sequence[Freq]) -> Freq | None:
    """Of ``options``, the frequency with the fewest grid stamps that holds every tick with at
    least half of the steps between neighbours single steps; None when none does."""
    best: tuple[int, Freq] | None = None
    for option in options:
        grid = axis.grid(ticks[0], ticks[-1], option, grid_limit(len(ticks)))
        pos = placed(grid, ticks)
        if pos is not None and (np.diff(pos) == 1).mean() >= 0.5 and (best is None or len(grid) < best[0]):
            best = (len(grid), option)
    return None if best is None else best[1]


def gapped_freq(uid: str, ticks: np.ndarray, axis: TimeAxis, candidates: Sequence[Freq]) -> Freq:
    """The frequency of a series of 3+ observations that is not regularly spaced (gaps).

    The coarsest grid that holds every stamp, with at least half of the steps between neighbours,
    wins: the gcd of the steps for integer ``ds``; else among the ``candidates`` (the panel's
    common frequencies) and those of the series' own runs of three. ``DataError`` when none fits.
    """
    steps = np.diff(ticks)
    if axis.integer:
        step = int(np.gcd.reduce(steps))
        if (steps == step).mean() >= 0.5 and (ticks[-1] - ticks[0]) // step < grid_limit(len(ticks)):
            return step
    else:
        options = list(dict.fromkeys(candidates))
        for i in np.unique(np.linspace(0, len(ticks) - 3, min(len(ticks) - 2, 12)).astype(int)):
            local = _local_freq(axis, ticks[i : i + 3])
            if local is not None and local not in options:
                options.append(local)
        best = _coarsest_grid(ticks, axis, options)
        if best is not None:
            return best
    change = int(np.flatnonzero(steps != steps[0])[0]) + 1 if (steps != steps[0]).any() else 1
    raise DataError(
        f"series {uid!r} is irregularly spaced: no regular frequency fits its time stamps (they "
        f"start {', '.join(axis.stamp(t) for t in ticks[:3])}; the step first changes at "
        f"{axis.stamp(ticks[change])}); set data.freq to the frequency the data should follow "
        "(missing time stamps then follow data.fill), or resample the series"
    )


def _short_freq(uid: str, ticks: np.ndarray, axis: TimeAxis, panel: Freq | None) -> Freq:
    """The frequency of a series of 1-2 observations: the panel's, else (int ds) its own step."""
    if panel is not None and (
        len(ticks) == 1
        or placed(axis.grid(ticks[0], ticks[-1], panel, grid_limit(len(ticks))), ticks) is not None
    ):
        return panel
    if axis.integer and len(ticks) == 2:
        return int(ticks[1] - ticks[0])
    why = (
        f"its time stamps do not fit the panel's most common frequency {panel!r}"
        if panel is not None
        else "no other series shows the panel's frequency"
    )
    raise DataError(
        f"series {uid!r} has {len(ticks)} observation(s), too few to infer its frequency, and {why}; "
        "set data.freq (a pandas alias such as 'MS' or an integer step)"
    )


def series_freq(uid: str, ticks: np.ndarray, axis: TimeAxis, panel: Freq | None = None) -> Freq:
    """One series' frequency by ``panel_freqs``' rule, ``panel`` standing for the panel's most
    common frequency (None: unknown); ``DataError`` when none fits."""
    if len(ticks) > 2:
        candidates = [] if panel is None else [panel]
        return regular_freq(ticks, axis, candidates) or gapped_freq(uid, ticks, axis, candidates)
    return _short_freq(uid, ticks, axis, panel)


def panel_freqs(
    keys: list[str], ticks: np.ndarray, spans: list[tuple[int, int]], axis: TimeAxis, given: Freq | None
) -> tuple[dict[str, Freq], set[str]]:
    """Each series' frequency and the keys of the series known to be regular (no gaps).

    Series ``keys[i]`` has the (sorted) ``ticks[spans[i][0]:spans[i][1]]``. ``given`` (checked
    ``data.freq``) is every series' frequency; else a series of 3+ observations gets its own
    (regular, else ``gapped_freq``), tried first against the panel's most common ones so far,
    and a series of 1-2 observations the panel's most common one (``DataError`` if none fits).
    """
    if given is not None:
        return dict.fromkeys(keys, given), set()
    found: dict[str, Freq] = {}
    regular = set()
    seen: Counter[Freq] = Counter()
    for key, (s, e) in zip(keys, spans, strict=True):
        if e - s > 2:
            candidates = [f for f, _ in seen.most_common(3)]
            freq = regular_freq(ticks[s:e], axis, candidates)
            if freq is None:
                freq = gapped_freq(key, ticks[s:e], axis, candidates)
            else:
                regular.add(key)
            found[key] = freq
            seen[freq] += 1
    panel = common_freq(found.values())
    freqs = {}
    for key, (s, e) in zip(keys, spans, strict=True):
        freqs[key] = found[key] if key in found else _short_freq(key, ticks[s:e], axis, panel)
    return freqs, regular


def own_freq(uid: str, ticks: np.ndarray, axis: TimeAxis) -> Freq:
    """One series' frequency from its own stamps alone (no panel to fall back on): regular (2+
    observations), else ``gapped_freq`` (3+); ``DataError`` when it cannot be inferred."""
    freq = regular_freq(ticks, axis) if len(ticks) > 1 else None
    if freq is None and len(ticks) > 2:
        freq = gapped_freq(uid, ticks, axis, [])
    if freq is None:
        raise DataError(
            f"series {uid!r}: cannot infer its frequency from {len(ticks)} time stamp(s) "
            f"starting {axis.stamp(ticks[0])}; set data.freq (a pandas alias or an integer step)"
        )
    return freq
