"""Batched MC-dropout draws: run one member on many windows at once and invert them to levels.

    rows = RowTransform(transform, uids)          # row i uses the statistics of series uids[i]
    draws = member_draws(model, x, samples, rows, last, horizon, path_directions=True)
    draws.levels [S, N, H], draws.probs [N, H, 3], draws.path_probs [N, H, 3] or None

The build (``window_draws``: validation and test windows) and ``Ensemble.predict``
(``predictor.draw_members``: each series' last window) both draw through here, so what is
calibrated at build time is exactly what is served.

Seeded draws (``seed=``, what ``Ensemble.predict`` uses): each row's dropout masks come from its
own torch seed, ``row_seeds(seed, stream, uids)`` (a stable hash of the seed, the member's stream
name and the row's series id), drawn by a generator of its own (``models.seeded_dropout``) in
blocks of a fixed number of rows (the last one padded), or, for a model with attention dropout,
by running the row on its own on the reseeded torch RNG; so a series' draws depend only on its
window, the model and the seed: not on which other series share the call, nor their order.
Unseeded draws (the build's windows) run in blocks of many rows on the caller's torch RNG. A
``DrawsCache`` lets forecasts of the same windows (a backtest's ensemble, its uncalibrated view,
each member alone) share a member's draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from foretune.data.transform import RowTransform
from foretune.models import Forecaster, set_mc_dropout
from foretune.models.seeded_dropout import per_row_maskable, seeded_rows

#: Windows per forward pass: bounds the memory of samples x series windows (1,000 series x 100
#: samples is 100,000 windows); fixed, so draws do not depend on the machine.
CHUNK_ROWS = 16384
#: Seeded draws' rows per forward pass (see ``seeded_rows_per_block``): at most this many series,
#: and at most this many windows (series x samples), so memory stays modest.
SEEDED_ROWS = 128
SEEDED_WINDOWS = 8192
#: The seed of the zero rows that pad the last block of seeded draws (their draws are dropped).
PAD_SEED = 0
#: Values per inversion block (2 MiB of float64): a few whole samples at a time stay in cache.
BLOCK_VALUES = 1 << 18
#: Added to each class count of the sample paths (Krichevsky-Trofimov): S paths never give a class
#: probability of exactly 0, which would make the log-loss of one surprise infinite.
SMOOTHING = 0.5


@dataclass
class Draws:
    """One member's MC-dropout forecast of ``N`` windows."""

    levels: np.ndarray  # [S, N, H] sample paths in original units
    probs: np.ndarray  # [N, H, 3] direction-head probabilities, mean over the draws
    path_probs: np.ndarray | None = None  # [N, H, 3] fraction of sample paths per class


class DrawsCache:
    """Members' draws by everything they are drawn from, to forecast the same windows again.

    A backtest forecasts each origin with the ensemble, its uncalibrated view and each member
    alone; sharing one cache (``Ensemble.draws_cache``) they draw a member once wherever its
    draws would be the same. The key covers the model (its identity), its inputs, the rows'
    statistics and last levels, ``settings`` (horizon, samples, ...) and, for random draws (MC
    dropout), the torch RNG state before them; a hit sets the RNG state the draws left, so the
    draws that follow are exactly those without the cache. Entries for other rows or last levels
    (an earlier origin) are dropped, so it holds one origin's members at most.
    """

    def __init__(self) -> None:
        self._scope = ""
        self._entries: dict[tuple[int, str], tuple[Any, Draws, torch.Tensor | None]] = {}
        self.hits = 0

    def draw(
        self,
        model: Any,
        inputs: Iterable[np.ndarray],
        rows: RowTransform,
        last: np.ndarray,
        settings: tuple,
        compute: Callable[[], Draws],
        random: bool = True,
    ) -> Draws:
        """``compute()``'s draws, or those of an earlier call with the same key (see above)."""
        stats = [
            getattr(s, f) for s in rows.view.stats.values() for f in ("mu", "sigma", "scale", "constant")
        ]
        scope = _digest([last, *stats, np.asarray(rows.kinds, dtype=str)], ())
        if scope != self._scope:
            self._scope, self._entries = scope, {}
        before = [torch.get_rng_state().numpy()] if random else []
        key = (id(model), _digest([*inputs, *before], settings))
        entry = self._entries.get(key)
        if entry is not None and entry[0] is model:
            self.hits += 1
            if entry[2] is not None:
                torch.set_rng_state(entry[2])
            return entry[1]
        draws = compute()
        self._entries[key] = (model, draws, torch.get_rng_state() if random else None)
        return draws


def _digest(arrays: Iterable[np.ndarray], settings: tuple) -> str:
    h = hashlib.blake2b(repr(settings).encode(), digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.view(np.uint8).reshape(-1) if a.dtype != object else repr(a.tolist()).encode())
    return h.hexdigest()


def row_seeds(seed: int, stream: str, uids: Sequence[str]) -> np.ndarray:
    """One torch seed per row: a stable hash (BLAKE2b, the same in every process) of ``seed``,
    ``stream`` (e.g. a member's trial id) and the row's series id; a series' second row (another
    window of it) gets the next occurrence's seed, so its masks differ from the first's."""
    seen: dict[str, int] = {}
    out = np.empty(len(uids), dtype=np.int64)
    for i, uid in enumerate(uids):
        k = seen[uid] = seen.get(uid, -1) + 1
        key = f"{int(seed)}\x1f{stream}\x1f{uid}\x1f{k}".encode()
        out[i] = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1
    return out


def mc_forward(
    model: nn.Module,
    x: np.ndarray,
    samples: int,
    chunk: int = CHUNK_ROWS,
    seeds: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` MC-dropout passes over windows ``x [N, T, F]``.

    Returns standardised paths ``[S, N, H]`` (float64) and head probabilities ``[N, H, 3]``
    averaged over the draws. A ``Forecaster``'s encoder stem (the part no dropout precedes,
    ``Forecaster.stem``) runs once per window and only the rest once per sample, on blocks of
    rows (a block's windows, each repeated ``samples`` times). Without ``seeds``: blocks of about
    ``chunk`` rows on the caller's torch RNG. With ``seeds [N]`` row ``i``'s dropout masks are
    drawn from ``seeds[i]`` alone (the caller's RNG state is left as it was): in blocks of
    ``seeded_rows_per_block(samples)`` rows, each row's masks from its own generator
    (``models.seeded_dropout``), where every dropout of the model can be drawn so; else one row
    at a time on the reseeded torch RNG.
    """
    inputs = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
    n = len(inputs)
    z, probs = None, None
    set_mc_dropout(model, True)
    try:
        with torch.inference_mode(), torch.random.fork_rng(devices=[], enabled=seeds is not None):
            for start, reg, p in _passes(model, inputs, samples, chunk, seeds):
                if z is None:
                    z = np.empty((samples, n, reg.shape[-1]))
                    probs = np.empty((n, *p.shape[2:]))
                end = start + reg.shape[1]
                z[:, start:end] = reg.numpy()
                probs[start:end] = p.double().mean(dim=0).numpy()
    finally:
        set_mc_dropout(model, False)
    if z is None:  # no windows
        return np.zeros((samples, 0, 0)), np.zeros((0, 0, 3))
    return z, probs


def seeded_rows_per_block(samples: int) -> int:
    """Rows per forward pass of seeded draws: ``SEEDED_ROWS`` at most, ``SEEDED_WINDOWS`` windows
    at most; fixed by ``samples`` alone, so every block has the same shape whatever the input."""
    return max(1, min(SEEDED_ROWS, SEEDED_WINDOWS // max(samples, 1)))


def _passes(
    model: nn.Module, inputs: torch.Tensor, samples: int, chunk: int, seeds: np.ndarray | None
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """``(start, paths [S, rows, H], probabilities [S, rows, H, 3])`` of each block of rows."""
    stem, rest = _stem_and_rest(model)
    n = len(inputs)
    if seeds is None:
        per_block = max(1, chunk // max(samples, 1))
        for start in range(0, n, per_block):
            yield start, *_sample(stem, rest, inputs[start : start + per_block], samples)
    elif not per_row_maskable(model):
        for start in range(n):
            torch.default_generator.manual_seed(int(seeds[start]))
            yield start, *_sample(stem, rest, inputs[start : start + 1], samples)
    else:
        rows = seeded_rows_per_block(samples)
        for start in range(0, n, rows):
            block, block_seeds = inputs[start : start + rows], list(seeds[start : start + rows])
            size = len(block)
            if size < rows:  # padded to the fixed shape: zero windows, a fixed seed, dropped
                block = torch.cat([block, block.new_zeros(rows - size, *block.shape[1:])])
                block_seeds += [PAD_SEED] * (rows - size)
            with seeded_rows(model, block_seeds, samples):
                reg, p = _sample(stem, rest, block, samples)
            yield start, reg[:, :size], p[:, :size]


def _sample(
    stem: Callable[[torch.Tensor], torch.Tensor], rest: Callable, block: torch.Tensor, samples: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The stem of ``block [R, ...]`` once, the rest on its ``samples`` copies (row ``s*R + j``):
    paths ``[S, R, H]`` and head probabilities ``[S, R, H, 3]``."""
    h = stem(block)
    size = len(h)
    reg, logits = rest(h.repeat(samples, *([1] * (h.dim() - 1))))
    reg = reg.float().reshape(samples, size, -1)
    p = torch.softmax(logits.float(), dim=-1).reshape(samples, size, *logits.shape[1:])
    return reg, p


def _stem_and_rest(model: nn.Module) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable]:
    """A ``Forecaster``'s deterministic stem and the rest of its forward pass; else the
    identity and the model."""
    if isinstance(model, Forecaster):
        return model.stem, model.rest
    return (lambda x: x), model


def member_draws(
    model: nn.Module,
    x: np.ndarray,
    samples: int,
    rows: RowTransform,
    last: np.ndarray,
    horizon: int | None = None,
    path_directions: bool = False,
    seeds: np.ndarray | None = None,
) -> Draws:
    """MC-dropout level paths ``[S, N, H]`` of one member for windows ``x [N, T, F]``.

    Also the mean head probabilities ``[N, H, 3]`` and, with ``path_directions``, the smoothed
    fraction of sample paths in each direction class (see ``invert_paths``). ``horizon`` keeps
    the first steps only; ``seeds``: one per row (``row_seeds``), see ``mc_forward``.
    """
    z, probs = mc_forward(model, x, samples, seeds=seeds)
    if horizon is not None:
        z, probs = z[..., :horizon], probs[:, :horizon]
    levels, path_probs = invert_paths(rows, last, z, path_directions)
    return Draws(levels, probs, path_probs)


def level_draws(levels: np.ndarray, rows: RowTransform, last: np.ndarray) -> Draws:
    """The draws of a member that forecasts level paths ``[S, N, H]`` itself (a statistical
    model): with no direction head, its head probabilities are its paths' smoothed class shares."""
    labels = rows.direction(last, rows.ratios(last, levels))
    counts = np.stack([(labels == k).sum(axis=0) for k in range(3)], axis=-1)
    probs = _smoothed(counts, len(levels))
    return Draws(levels, probs, probs)


def _smoothed(counts: np.ndarray, paths: int) -> np.ndarray:
    """Class shares of ``paths`` sample paths from their ``counts``, smoothed (``SMOOTHING``)."""
    return (counts + SMOOTHING) / (paths + 3 * SMOOTHING)


def invert_paths(
    rows: RowTransform, last: np.ndarray, z: np.ndarray, path_directions: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Level paths ``[S, N, H]`` of standardised paths ``z`` and, on request, the smoothed
    fraction of paths per direction class ``[N, H, 3]``.

    Smoothed: ``(count + 0.5) / (S + 1.5)``. Runs on blocks of whole samples of about
    ``BLOCK_VALUES`` values, so the temporaries stay in cache.
    """
    levels = np.empty_like(z)
    counts = np.zeros((*z.shape[1:], 3)) if path_directions else None
    block = max(1, BLOCK_VALUES // max(1, z[0].size))
    for start in range(0, len(z), block):
        part = slice(start, start + block)
        r = rows.changes(z[part])
        levels[part] = rows.levels(last, r)
        if counts is not None:
            labels = rows.direction(last, r)
            for k in range(3):
                counts[..., k] += (labels == k).sum(axis=0)
    if counts is None:
        return levels, None
    return levels, _smoothed(counts, len(z))
