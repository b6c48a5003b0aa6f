"""Search-space dimensions as plain data, and the one generic walker that asks a trial for them.

Each architecture module declares ``SPACE = {"hyperparameter": Dimension, ...}`` next to its
encoder class; :func:`suggest_space` turns any such mapping into ``trial.suggest_*`` calls. The
dimensions are frozen dataclasses, so a space can be printed, compared and serialised.

Encoding of list-valued hyperparameters (per-layer sizes such as ``[64, 32]``): Optuna's
categorical choices must be scalars, so :class:`Layers` samples three ordinal scalars,
``<key>.width`` (first layer size), ``<key>.depth`` (number of layers) and ``<key>.taper``
(ratio between consecutive layers, asked only when depth > 1), and decodes them as
``size_l = max(min_size, round(width * taper**l))``. ``width=64, depth=2, taper=0.5`` is
``[64, 32]``. Scalars keep the order information that TPE exploits (a string choice such as
``"64-32"`` would hide that 64 is between 32 and 128), and the space stays small.

Window-relative sizes use :class:`WindowFraction`: an integer in
``[ceil(low * window), floor(high * window)]`` (at least 1), asked as an integer so the trial
records the actual value (e.g. a receptive field of 18 steps).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # optuna is only needed by whoever passes a trial in
    from optuna.trial import BaseTrial

_SCALAR_TYPES = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class Float:
    """A float in ``[low, high]``, optionally sampled on a log scale."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"Float: low {self.low} > high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"Float: log scale needs low > 0, got {self.low}")

    def suggest(self, trial: BaseTrial, name: str, window: int) -> float:
        """Ask ``trial`` for this value under ``name``."""
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def encode(self, name: str, value: Any, window: int) -> dict[str, Any]:
        """The parameters that ``suggest`` would have to return to give ``value`` (clipped)."""
        return {name: float(min(max(value, self.low), self.high))}


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]`` with ``step`` (log scale requires step 1, as in Optuna)."""

    low: int
    high: int
    log: bool = False
    step: int = 1

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"Int: low {self.low} > high {self.high}")
        if self.log and (self.low <= 0 or self.step != 1):
            raise ValueError("Int: log scale needs low > 0 and step 1")

    def suggest(self, trial: BaseTrial, name: str, window: int) -> int:
        """Ask ``trial`` for this value under ``name``."""
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def encode(self, name: str, value: Any, window: int) -> dict[str, Any]:
        """The parameters that ``suggest`` would have to return to give ``value`` (clipped; a
        per-layer sequence, which this scalar dimension cannot give, by its first entry)."""
        value = value[0] if isinstance(value, (list, tuple)) else value
        on_grid = self.low + round((int(value) - self.low) / self.step) * self.step
        return {name: int(min(max(on_grid, self.low), self.high))}


@dataclass(frozen=True)
class Categorical:
    """One of ``choices``; each must be None, bool, int, float or str (Optuna's rule)."""

    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.choices:
            raise ValueError("Categorical: needs at least one choice")
        bad = [c for c in self.choices if not isinstance(c, _SCALAR_TYPES)]
        if bad:
            raise ValueError(f"Categorical: choices must be None/bool/int/float/str, got {bad}")

    def suggest(self, trial: BaseTrial, name: str, window: int) -> Any:
        """Ask ``trial`` for this value under ``name``."""
        return trial.suggest_categorical(name, self.choices)

    def encode(self, name: str, value: Any, window: int) -> dict[str, Any]:
        """``value`` when it is a choice, else nothing (the sampler picks)."""
        return {name: value} if value in self.choices else {}


@dataclass(frozen=True)
class WindowFraction:
    """An integer between ``low`` and ``high`` times the input window (at least 1)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high:
            raise ValueError(f"WindowFraction: need 0 < low <= high, got {self.low}, {self.high}")

    def bounds(self, window: int) -> tuple[int, int]:
        """The integer range this fraction means for ``window`` steps."""
        # Rounding first keeps 0.3 * 10 == 3 rather than 3.0000000000000004 -> 4.
        low = max(1, math.ceil(round(self.low * window, 9)))
        high = max(low, math.floor(round(self.high * window, 9)))
        return low, high

    def suggest(self, trial: BaseTrial, name: str, window: int) -> int:
        """Ask ``trial`` for this value under ``name``."""
        low, high = self.bounds(window)
        return trial.suggest_int(name, low, high)

    def encode(self, name: str, value: Any, window: int) -> dict[str, Any]:
        """``value`` within this window's bounds; None (derive it from the window): the widest."""
        low, high = self.bounds(window)
        return {name: high if value is None else int(min(max(value, low), high))}


@dataclass(frozen=True)
class Layers:
    """Per-layer sizes encoded as ``width``, ``depth`` and ``taper`` (see module docstring)."""

    width: Int
    depth: Int
    taper: Float = Float(0.25, 1.0)
    min_size: int = 4

    @staticmethod
    def decode(width: int, depth: int, taper: float = 1.0, min_size: int = 4) -> list[int]:
        """``[max(min_size, round(width * taper**l)) for l in range(depth)]``."""
        return [max(min_size, round(width * taper**layer)) for layer in range(depth)]

    def encode(self, name: str, value: Any, window: int) -> dict[str, Any]:
        """``name.width``, ``name.depth`` and ``name.taper`` of the sizes ``value`` (clipped)."""
        sizes = [int(v) for v in value]
        out = {**self.width.encode(f"{name}.width", sizes[0], window)}
        out.update(self.depth.encode(f"{name}.depth", len(sizes), window))
        if out[f"{name}.depth"] > 1:
            ratio = sizes[1] / sizes[0] if len(sizes) > 1 else 1.0
            out.update(self.taper.encode(f"{name}.taper", ratio, window))
        return out

    def suggest(self, trial: BaseTrial, name: str, window: int) -> list[int]:
        """Ask for ``name.width``, ``name.depth`` (and ``name.taper`` if depth > 1); decode."""
        width = self.width.suggest(trial, f"{name}.width", window)
        depth = self.depth.suggest(trial, f"{name}.depth", window)
        taper = self.taper.suggest(trial, f"{name}.taper", window) if depth > 1 else 1.0
        return self.decode(width, depth, taper, self.min_size)


Dimension = Float | Int | Categorical | WindowFraction | Layers

#: Hyperparameters every architecture accepts; merged into each model's space by the registry.
SHARED_SPACE: dict[str, Dimension] = {"dropout": Float(0.0, 0.3)}


def encode_values(
    space: Mapping[str, Dimension], values: Mapping[str, Any], prefix: str, window: int
) -> dict[str, Any]:
    """The ``"<prefix>.<key>"`` parameters a trial would return for the decoded ``values``
    (``suggest_space``'s inverse); keys of ``values`` without a dimension are left out."""
    out: dict[str, Any] = {}
    for key, dimension in space.items():
        if key in values:
            out.update(dimension.encode(f"{prefix}.{key}", values[key], window))
    return out


def suggest_space(
    trial: BaseTrial, space: Mapping[str, Dimension], prefix: str, window: int
) -> dict[str, Any]:
    """Ask ``trial`` for each dimension as ``"<prefix>.<key>"``; return decoded kwargs."""
    return {key: dim.suggest(trial, f"{prefix}.{key}", window) for key, dim in space.items()}
