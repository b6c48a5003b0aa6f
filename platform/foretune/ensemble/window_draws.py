"""The members' sample paths on the build's validation and test windows.

    forecasts = window_forecasts(members, windows, ("val", "test"))   # statistical members, once
    draws = window_draws(members, windows, "val", samples, seed, forecasts)   # one Draws per member

A deep member draws MC-dropout paths of its window length's inputs; a statistical member's paths
are drawn from its forecasts, fit on each window's history. The validation draws weigh the
candidates; the test draws calibrate and score the kept members.
"""

from __future__ import annotations

import numpy as np
import torch

from foretune.console import progress
from foretune.models.statistical import normal_paths, statistical_forecasts
from foretune.timings import stage

from .draws import Draws, RowTransform, level_draws, member_draws
from .member import Member
from .refit import concat_windows
from .windows import BuildWindows

#: A statistical member's means and spreads ``[N, H]`` by trial id and part (``val``, ``test``).
Forecasts = dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]


def window_forecasts(members: list[Member], windows: BuildWindows, parts: tuple[str, ...]) -> Forecasts:
    """Each statistical member's means and spreads ``[N, H]`` on the windows of ``parts``
    (``val``, ``test``), by trial id and part: fit once per series on its earliest window's
    history and applied at the later ones, all models in one pass (``statistical_forecasts``)."""
    statistical = [m for m in members if m.statistical]
    if not statistical:
        return {}
    assert windows.seasons is not None
    reference = windows.reference
    sets = [getattr(reference, part) for part in parts]
    both = concat_windows(*sets)
    histories = windows.histories(both)
    bounds = np.cumsum([0, *(len(ws) for ws in sets)])
    names = [m.model.name for m in statistical]
    print(f"statistical candidates: fitting {', '.join(names)} on {len(both):,} window histories", flush=True)
    with stage("statistical"):
        fitted = statistical_forecasts(
            names, histories, windows.seasons[both.series], reference.horizon, both.series
        )
    return {
        str(member.info["trial_id"]): {
            part: (mean[a:b], sigma[a:b]) for part, a, b in zip(parts, bounds[:-1], bounds[1:], strict=True)
        }
        for member, (mean, sigma) in zip(statistical, (fitted[n] for n in names), strict=True)
    }


def window_draws(
    members: list[Member],
    windows: BuildWindows,
    part: str,
    samples: int,
    seed: int,
    forecasts: Forecasts,
) -> list[Draws]:
    """Every member's ``samples`` draws on the ``part`` (``val`` or ``test``) windows: MC dropout,
    or paths of a statistical member's ``forecasts``; seeded by ``seed``."""
    reference = windows.reference
    ws = getattr(reference, part)
    if len(ws) == 0:  # e.g. data.test_windows: 0
        empty = np.zeros((len(ws), reference.horizon, 3))
        return [Draws(np.zeros((samples, *ws.future.shape)), empty, empty) for _ in members]
    rows = RowTransform(reference.transform, np.asarray(reference.series_ids, dtype=object)[ws.series])
    out = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for member in progress(members, desc=f"draws ({part})", unit="member"):
            if member.statistical:
                mean, sigma = forecasts[str(member.info["trial_id"])][part]
                out.append(level_draws(normal_paths(mean, sigma, samples), rows, ws.last))
                continue
            with stage("draws"):
                x = getattr(windows.datasets[member.window], part).x
                out.append(member_draws(member.model, x, samples, rows, ws.last, path_directions=True))
    return out
