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
from foretune.data import WindowSet
from foretune.models.statistical import forecast_histories, normal_paths
from foretune.timings import stage

from .draws import Draws, RowTransform, level_draws, member_draws
from .member import Member
from .predictor import member_seed
from .refit import concat_windows
from .windows import BuildWindows

#: A statistical member's means and spreads ``[N, H]`` by trial id and part (``val``, ``test``).
Forecasts = dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]


def window_forecasts(members: list[Member], windows: BuildWindows, parts: tuple[str, ...]) -> Forecasts:
    """Each statistical member's means and spreads ``[N, H]`` on the windows of ``parts``
    (``val``, ``test``), by trial id and part, all models in one pass (``forecast_histories``).

    A member with a state for a series applies it (``refit_on_all_data``: the evaluated
    ensemble's); otherwise it is fit once per series, on its earliest window's history (a series
    without a window: on its whole history, which the run kept) and applied at the later ones.
    Either way, each member's ``model`` then holds every series' state (for the artifact).
    """
    statistical = [m for m in members if m.statistical]
    if not statistical:
        return {}
    assert windows.seasons is not None and windows.panel is not None
    reference = windows.reference
    sets = [getattr(reference, part) for part in parts]
    both = concat_windows(*sets)
    histories, series, seasons = _histories(windows, both)
    bounds = np.cumsum([0, *(len(ws) for ws in sets)])
    models = [m.model for m in statistical]
    fresh = sum(not m.states for m in models)
    verb = f"fitting {fresh} of them, " if fresh else "applying their fitted states "
    print(
        f"statistical candidates {', '.join(m.name for m in models)}: {verb}on {len(both):,} window "
        f"histories of {len(reference.series_ids):,} series",
        flush=True,
    )
    with stage("statistical"):
        fitted = forecast_histories(models, histories, seasons, reference.horizon, series)
    out: Forecasts = {}
    for member, result in zip(statistical, fitted, strict=True):
        member.model = member.model.with_states(result.states)
        out[str(member.info["trial_id"])] = {
            part: (result.mean[a:b], result.sigma[a:b])
            for part, a, b in zip(parts, bounds[:-1], bounds[1:], strict=True)
        }
    return out


def _histories(windows: BuildWindows, part: WindowSet) -> tuple[list[np.ndarray], list[str], np.ndarray]:
    """The histories of ``part``'s windows, then the whole history of each series without a
    window there (fit only, so that every series gets a state): histories, series ids, seasons."""
    assert windows.panel is not None and windows.seasons is not None
    ids = np.asarray(windows.reference.series_ids, dtype=object)
    alone = np.setdiff1d(np.arange(len(ids)), part.series)
    panel = windows.panel
    whole = [panel.y[panel.offsets[i] : panel.offsets[i + 1]] for i in alone]
    keep = [i for i, y in zip(alone, whole, strict=True) if len(y)]
    histories = windows.histories(part) + [y for y in whole if len(y)]
    index = np.concatenate([part.series, np.asarray(keep, dtype=np.int64)])
    return histories, [str(u) for u in ids[index]], windows.seasons[index]


def window_draws(
    members: list[Member],
    windows: BuildWindows,
    part: str,
    samples: int,
    seed: int,
    forecasts: Forecasts,
) -> list[Draws]:
    """Every member's ``samples`` draws on the ``part`` (``val`` or ``test``) windows: MC dropout,
    or paths of a statistical member's ``forecasts``; seeded by ``seed`` (``member_seed``)."""
    reference = windows.reference
    ws = getattr(reference, part)
    if len(ws) == 0:  # e.g. data.test_windows: 0
        empty = np.zeros((len(ws), reference.horizon, 3))
        return [Draws(np.zeros((samples, *ws.future.shape)), empty, empty) for _ in members]
    rows = RowTransform(reference.transform, np.asarray(reference.series_ids, dtype=object)[ws.series])
    out = []
    with torch.random.fork_rng(devices=[]):
        for member in progress(members, desc=f"draws ({part})", unit="member"):
            if member.statistical:
                mean, sigma = forecasts[str(member.info["trial_id"])][part]
                out.append(level_draws(normal_paths(mean, sigma, samples), rows, ws.last))
                continue
            torch.manual_seed(member_seed(seed, member))  # as ``Ensemble.predict`` draws it
            with stage("draws"):
                x = getattr(windows.datasets[member.window], part).x
                out.append(member_draws(member.model, x, samples, rows, ws.last, path_directions=True))
    return out
