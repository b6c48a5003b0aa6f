"""From members to a forecast frame: every member's draws, then quantiles, directions and columns.

    draws = draw_members(ensemble, windows, rows, last, horizon, samples, seed, histories)  # per member
    frame = forecast_frame(ensemble, inputs, mixture, modelled, horizon, sample_columns)

``Ensemble.forecast`` mixes the draws (``mixture.mix``); ``Ensemble.predict`` turns the mixture
into the forecast frame, whose columns its docstring lists. How the columns are made:

Fallback: a series with one observation has no change to learn from; it is forecast flat at its
last value (``mean``, ``q50``), its quantiles are those of the other series relative to their
level (per step and quantile, the median over the modelled, non-constant series of
``(q - q50) / |last|``, times its ``|last|``; zero width when there is none), ``p_flat`` is 1 and
``fallback`` is True. A series constant in training is forecast flat by its statistics; its
direction is that of its deterministic path (``p_flat`` 1 when flat) and its calibrated band stays
the raw, zero-width one (its MASE scale is undefined).

Calibration (when the artifact has one): each central interval of a level ``L`` in ``levels`` is
widened or narrowed by its conformal adjustment (per step, times the series' MASE scale) and its
two quantile columns take the calibrated bounds, so ``q05``/``q95`` are the calibrated 90%
interval. All quantile columns are then sorted across levels, so they never cross; ``mean``,
``std_mc`` and ``q50`` stay those of the raw mixture. ``Ensemble.without_calibration()`` gives the
raw one.

Direction: ``p_down, p_flat, p_up`` from the members' heads, weighted, from the share of sample
paths in each class, or their average (``settings.direction_source``). ``sample_columns=k`` adds
``sample_0 .. sample_{k-1}``, unweighted draws of the mixture (for a fallback series, its
quantiles read at ``(i + 0.5) / k``). Randomness is seeded (``seed``, default the build's, and
each member's trial id: ``member_seed``) in a forked torch RNG, so a forecast is reproducible, a
member alone draws what it draws in the ensemble, and the caller's torch RNG is left alone. A
forecast that is not finite is never returned: ``DataError`` names the series instead.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from foretune.console import progress
from foretune.data import DataError, future_dates
from foretune.errors import ConfigError
from foretune.metrics import central_interval, quantile_name
from foretune.models.statistical import forecast_histories, normal_paths
from foretune.timings import stage

from .conformal import interval_quantiles
from .draws import Draws, DrawsCache, RowTransform, level_draws, member_draws, row_seeds
from .inputs import ModelInputs
from .member import Member
from .mixture import Mixture, resample

if TYPE_CHECKING:
    from .model import Ensemble

#: The direction columns, in the order of the probabilities' last axis.
DIRECTIONS = ("p_down", "p_flat", "p_up")


# -- members' draws --------------------------------------------------------------------------------
@dataclass
class Histories:
    """What the statistical members forecast from: each row's ``levels``, its ``seasons`` and its
    ``series`` id (whose fitted state a member applies; None: fit each); ``refit``: fit anew."""

    levels: list[np.ndarray]
    seasons: np.ndarray
    series: list[str] | None = None
    refit: bool = False


def member_seed(seed: int, member: Member) -> int:
    """The torch seed of ``member``'s MC-dropout draws: ``seed`` and the member's trial id, so
    its draws do not depend on the members drawn before it (a member alone draws as it does in
    the ensemble)."""
    name = str(member.info.get("trial_id", f"{member.architecture}:{member.window}"))
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode())) % (1 << 63)


def draw_members(
    ensemble: Ensemble,
    inputs: dict[int, np.ndarray],
    rows: RowTransform,
    last: np.ndarray,
    horizon: int,
    samples: int,
    seed: int,
    histories: Histories | None,
) -> list[Draws]:
    """Every member's ``samples`` draws of the rows: MC dropout on its window of ``inputs`` (seeded
    by ``member_seed`` in a forked torch RNG), or a statistical member's paths from ``histories``;
    through ``ensemble.draws_cache`` when it has one."""
    need_paths = ensemble.settings.direction_source != "head"
    statistical = _StatisticalPaths(ensemble.members, histories, horizon, samples)
    draws = []
    with torch.random.fork_rng(devices=[]):
        for member in progress(ensemble.members, desc="MC draws", unit="member"):
            if member.statistical:
                with stage("statistical"):
                    draws.append(statistical.draws(ensemble.draws_cache, member, rows, last))
                continue
            torch.manual_seed(member_seed(seed, member))
            with stage("draws"):
                x = inputs[member.window]
                seeds = row_seeds(seed, member.stream, rows.uids)  # a series' draws: its own
                draws.append(
                    _cached(
                        ensemble.draws_cache,
                        member,
                        [x, seeds],
                        rows,
                        last,
                        (horizon, samples, need_paths),
                        lambda m=member.model, x=x, seeds=seeds: member_draws(
                            m, x, samples, rows, last, horizon, path_directions=need_paths, seeds=seeds
                        ),
                        random=False,
                    )
                )
    return draws


class _StatisticalPaths:
    """The statistical members' draws; all of them forecast in one pass, at the first one needed."""

    def __init__(
        self, members: list[Member], histories: Histories | None, horizon: int, samples: int
    ) -> None:
        self.models = [m.model for m in members if m.statistical]
        self.histories, self.horizon, self.samples = histories, horizon, samples

    def draws(self, cache: DrawsCache | None, member: Member, rows: RowTransform, last: np.ndarray) -> Draws:
        """``member``'s draws (no randomness: its paths are its forecast's normal quantiles)."""
        h = self.histories
        if h is None:
            raise ConfigError(f"member {member.architecture} forecasts from histories; pass them")
        key = [*h.levels, h.seasons, np.asarray(h.series if h.series is not None else [], dtype=str)]
        settings = (self.horizon, self.samples, h.refit)
        return _cached(
            cache, member, key, rows, last, settings, lambda: self._draws(member, rows, last), False
        )

    def _draws(self, member: Member, rows: RowTransform, last: np.ndarray) -> Draws:
        h = self.histories
        assert h is not None
        fitted = forecast_histories(self.models, h.levels, h.seasons, self.horizon, h.series, h.refit)
        result = fitted[[m is member.model for m in self.models].index(True)]
        return level_draws(normal_paths(result.mean, result.sigma, self.samples), rows, last)


def _cached(
    cache: DrawsCache | None,
    member: Member,
    inputs: list[np.ndarray],
    rows: RowTransform,
    last: np.ndarray,
    settings: tuple,
    compute: Callable[[], Draws],
    random: bool = True,
) -> Draws:
    """``compute()``, through ``cache`` when there is one."""
    if cache is None:
        return compute()
    return cache.draw(member.model, inputs, rows, last, settings, compute, random)


# -- the forecast frame ----------------------------------------------------------------------------
@dataclass
class _Columns:
    """The forecast's values of ``N`` series by ``H`` steps, filled in place step by step."""

    mean: np.ndarray  # [N, H]
    std: np.ndarray  # [N, H]
    table: dict[float, np.ndarray]  # quantile level -> [N, H]
    probs: np.ndarray  # [N, H, 3] direction probabilities
    drawn: np.ndarray  # [k, N, H] sample columns

    @classmethod
    def empty(cls, n: int, horizon: int, keys: list[float], sample_columns: int) -> _Columns:
        """NaN values (zero direction probabilities) to fill."""
        return cls(
            np.full((n, horizon), np.nan),
            np.full((n, horizon), np.nan),
            {q: np.full((n, horizon), np.nan) for q in keys},
            np.zeros((n, horizon, 3)),
            np.full((int(sample_columns), n, horizon), np.nan),
        )

    def arrays(self) -> list[np.ndarray]:
        """Every value, the series on the first axis (for ``_check_finite``)."""
        return [self.mean, self.std, *self.table.values(), self.probs, np.moveaxis(self.drawn, 0, 1)]


def forecast_frame(
    ensemble: Ensemble,
    inputs: ModelInputs,
    mixture: Mixture | None,
    modelled: np.ndarray,
    horizon: int,
    sample_columns: int,
) -> pd.DataFrame:
    """The forecast frame of every series: the mixture's rows ``modelled``, the rest fallbacks
    (see the module docstring)."""
    n = len(inputs.uids)
    keys = sorted(set(ensemble.settings.quantile_levels) | set(interval_quantiles(ensemble.levels)))
    values = _Columns.empty(n, horizon, keys, sample_columns)
    if mixture is not None:
        _fill_modelled(ensemble, values, inputs, mixture, modelled)
    constant = np.flatnonzero(inputs.constant & ~inputs.fallback)
    if len(constant):
        values.probs[constant] = _deterministic_directions(inputs, constant, horizon)
    fallback = np.flatnonzero(inputs.fallback)
    if len(fallback):
        _fill_fallback(inputs.last, fallback, np.setdiff1d(modelled, constant), values)
    _check_finite(inputs, np.arange(n), values.arrays())
    frame = _frame(inputs, values, horizon)
    assert len(frame) == n * horizon
    return frame


def _fill_modelled(
    ensemble: Ensemble, values: _Columns, inputs: ModelInputs, mixture: Mixture, modelled: np.ndarray
) -> None:
    """The rows ``modelled`` from the mixture: its mean and spread, the quantile table, the
    directions and the sample columns; ``DataError`` if one is not finite."""
    scale = None if inputs.scale is None else inputs.scale[modelled]
    own = quantile_table(ensemble, mixture, scale)
    values.mean[modelled], values.std[modelled] = mixture.mean, mixture.std
    for q in values.table:
        values.table[q][modelled] = own[q]
    values.probs[modelled] = mixture.direction(ensemble.settings.direction_source)
    if len(values.drawn):
        values.drawn[:, modelled] = resample(mixture.paths, mixture.path_weights, len(values.drawn))
    # before the fallbacks pool them
    _check_finite(inputs, modelled, [values.mean, values.std, *values.table.values(), values.probs])


def _frame(inputs: ModelInputs, values: _Columns, horizon: int) -> pd.DataFrame:
    """The columns ``unique_id, ds, mean, q.., p_down, p_flat, p_up, std_mc, fallback, sample_..``."""
    columns: dict[str, Any] = {
        "unique_id": inputs.ids.repeat(horizon).reset_index(drop=True),
        "ds": _future_index(inputs.last_ds, inputs.freqs, horizon),
        "mean": values.mean.ravel(),
    }
    for q, table in values.table.items():
        columns[quantile_name(q)] = table.ravel()
    for k, name in enumerate(DIRECTIONS):
        columns[name] = values.probs[..., k].ravel()
    columns["std_mc"] = values.std.ravel()
    columns["fallback"] = np.repeat(inputs.fallback, horizon)
    for i, drawn in enumerate(values.drawn):
        columns[f"sample_{i}"] = drawn.ravel()
    return pd.DataFrame(columns)


def quantile_table(ensemble: Ensemble, mixture: Mixture, scale: np.ndarray | None) -> dict[float, np.ndarray]:
    """Quantile table ``[N, H]`` per level: the raw mixture quantiles, the calibrated bounds
    (``Ensemble.intervals``) in their places, then a monotone rearrangement across levels so no
    two columns cross."""
    table = dict(mixture.quantiles)
    for level, pair in ensemble.intervals(mixture, scale).items():
        for q, bound in zip(central_interval(level), pair, strict=True):
            table[q] = bound
    keys = sorted(table)
    ordered = np.sort(np.stack([table[k] for k in keys]), axis=0)
    return dict(zip(keys, ordered, strict=True))


def _deterministic_directions(inputs: ModelInputs, rows: np.ndarray, horizon: int) -> np.ndarray:
    """One-hot directions ``[R, H, 3]`` of series whose statistics make their path deterministic
    (constant in training: every sample path is the same, flat for a constant level)."""
    transform = RowTransform(inputs.transform, [inputs.uids[i] for i in rows])
    last = inputs.last[rows]
    r = transform.changes(np.zeros((1, len(rows), horizon)))
    return np.eye(3)[transform.direction(last, r)[0]]


def _fill_fallback(last: np.ndarray, rows: np.ndarray, pool: np.ndarray, values: _Columns) -> None:
    """Fill the forecast of the one-observation series ``rows`` in place: flat at ``last``, with
    the quantiles of the series ``pool`` relative to their level (see the module docstring)."""
    pool = pool[np.isfinite(last[pool]) & (last[pool] != 0)]
    size = np.abs(last[pool])[:, None]
    table = values.table
    centre = table[0.5][pool]

    def relative(array: np.ndarray) -> np.ndarray:
        """Per step: the median over ``pool`` of ``array / |last|`` (0 without a pool)."""
        return np.median(array / size, axis=0) if len(pool) else np.zeros(array.shape[-1])

    here = last[rows][:, None]
    values.mean[rows] = here
    values.std[rows] = relative(values.std[pool]) * np.abs(here)
    for q in table:
        table[q][rows] = here + relative(table[q][pool] - centre) * np.abs(here)
    values.probs[rows] = (0.0, 1.0, 0.0)
    levels = np.array(sorted(table))
    drawn = values.drawn
    for i in range(len(drawn)):  # the quantile function read at (i + 0.5) / k, linearly
        p = (i + 0.5) / len(drawn)
        j = int(np.clip(np.searchsorted(levels, p), 1, len(levels) - 1))
        w = float(np.clip((p - levels[j - 1]) / (levels[j] - levels[j - 1]), 0.0, 1.0))
        drawn[i, rows] = (1 - w) * table[levels[j - 1]][rows] + w * table[levels[j]][rows]


def _check_finite(inputs: ModelInputs, rows: np.ndarray, arrays: list[np.ndarray]) -> None:
    """``DataError`` naming the series among ``rows`` with a value that is not finite in one of
    ``arrays`` (each with the series on its first axis)."""
    bad = np.zeros(len(rows), dtype=bool)
    for values in arrays:
        bad |= ~np.isfinite(values[rows].reshape(len(rows), -1)).all(axis=1)
    if bad.any():
        where = rows[bad]
        raise DataError(
            f"the forecast of {len(where)} series is not finite (NaN or infinite): "
            f"{inputs.names(where)}; check their history for extreme values, huge jumps or levels "
            "near zero that overflow the transform when the forecast is turned back into levels, "
            "and rescale or fix those values"
        )


def _future_index(last_ds: list[Any], freqs: list[Any], horizon: int) -> pd.Index:
    """Concatenated future time stamps of every series (computed once per distinct start)."""
    cache: dict[tuple[Any, Any], int] = {}
    distinct: list[pd.Index] = []
    which = np.empty(len(last_ds), dtype=np.int64)
    for i, (ds, freq) in enumerate(zip(last_ds, freqs, strict=True)):
        key = (ds, freq)
        if key not in cache:
            cache[key] = len(distinct)
            distinct.append(future_dates(ds, freq, horizon))
        which[i] = cache[key]
    steps = np.arange(horizon)
    if len(distinct) == 1:
        return distinct[0].take(np.tile(steps, len(last_ds)))
    stacked = distinct[0].append(distinct[1:])
    return stacked.take((which[:, None] * horizon + steps).ravel())


class Clock:
    """Seconds per named stage of one forecast: ``lap(name)`` adds the time since the last lap."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        """Add the seconds since the last lap (or the start) to stage ``name``."""
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now
