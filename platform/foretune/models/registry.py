"""Name -> (encoder class, search space). Architectures register themselves on import.

Adding an architecture: write ``models/<name>.py`` with an :class:`~.layers.Encoder` subclass
decorated ``@register("<name>", space=SPACE)`` and add ``"<name>"`` to ``_MODULES`` in
``models/__init__.py`` (which imports them in that order; :func:`available` keeps it).

Defaults come from the encoder's keyword-only constructor arguments (one source of truth), plus
the shared ``dropout``. Spaces are the model's ``SPACE`` merged over :data:`.space.SHARED_SPACE`.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .layers import Encoder
from .space import SHARED_SPACE, Dimension, encode_values, suggest_space

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

#: Default of the shared ``dropout`` hyperparameter.
DEFAULT_DROPOUT = 0.1
_POSITIONAL = ("input_size", "window", "dropout")

E = TypeVar("E", bound=type[Encoder])


@dataclass(frozen=True)
class ModelSpec:
    """A registered architecture: its name, encoder class and own search space."""

    name: str
    encoder: type[Encoder]
    space: Mapping[str, Dimension] = field(default_factory=dict)

    @property
    def hyperparameter_names(self) -> tuple[str, ...]:
        """Names ``build`` accepts for this architecture (``dropout`` first)."""
        return ("dropout", *_keyword_defaults(self.encoder))

    def defaults(self) -> dict[str, Any]:
        """Default hyperparameters (tuples become lists, so they read like config values)."""
        values = {"dropout": DEFAULT_DROPOUT, **_keyword_defaults(self.encoder)}
        return {k: list(v) if isinstance(v, tuple) else copy.deepcopy(v) for k, v in values.items()}


_REGISTRY: dict[str, ModelSpec] = {}


def _keyword_defaults(encoder: type[Encoder]) -> dict[str, Any]:
    params = inspect.signature(encoder.__init__).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _origin(encoder: type) -> tuple[str, str]:
    # Re-importing a module (e.g. importlib.reload) re-registers the same class: allowed.
    return encoder.__module__, encoder.__qualname__


def register(name: str, *, space: Mapping[str, Dimension]) -> Callable[[E], E]:
    """Class decorator: register an encoder under ``name`` with its search ``space``."""

    def decorator(encoder: E) -> E:
        if not (isinstance(encoder, type) and issubclass(encoder, Encoder)):
            raise TypeError(f"{name}: {encoder!r} is not an Encoder subclass")
        params = list(inspect.signature(encoder.__init__).parameters)[1:4]
        if tuple(params) != _POSITIONAL:
            raise TypeError(f"{name}: encoder must take {_POSITIONAL} first, got {params}")
        keywords = _keyword_defaults(encoder)
        missing = [k for k, v in keywords.items() if v is inspect.Parameter.empty]
        unknown = sorted(set(space) - set(keywords) - {"dropout"})
        if missing or unknown:
            raise TypeError(
                f"{name}: hyperparameters without default {missing}, space keys not "
                f"accepted by the encoder {unknown}"
            )
        existing = _REGISTRY.get(name)
        if existing is not None and _origin(existing.encoder) != _origin(encoder):
            raise ValueError(f"architecture {name!r} is already registered to {existing.encoder}")
        _REGISTRY[name] = ModelSpec(name, encoder, dict(space))
        return encoder

    return decorator


def available() -> list[str]:
    """Registered architecture names, in registration order."""
    return list(_REGISTRY)


def get(name: str) -> ModelSpec:
    """The :class:`ModelSpec` for ``name``; unknown -> ``ValueError`` listing the names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; available: {', '.join(_REGISTRY)}") from None


def search_space(name: str) -> dict[str, Dimension]:
    """The full search space of ``name``: shared dimensions (dropout) and the model's own."""
    return {**SHARED_SPACE, **get(name).space}


def default_hyperparameters(name: str, window: int) -> dict[str, Any]:
    """Hyperparameters used when no search runs; ``build(name, ..., window=window, **them)`` works.

    ``window`` is accepted for window-relative defaults; encoders that need one resolve it
    themselves from the ``window`` they are built with (e.g. TCN's receptive field).
    """
    return get(name).defaults()


def suggest_hyperparameters(trial: BaseTrial, name: str, window: int) -> dict[str, Any]:
    """Ask ``trial`` for ``name``'s hyperparameters as ``"<name>.<key>"``; return build kwargs.

    Prefixing keeps each architecture's parameters conditional on it having been chosen, and
    never in clash with another architecture's. The result is decoded and un-prefixed (e.g.
    ``{"dropout": 0.2, "hidden_sizes": [64, 32], "layer_norm": False}``) and includes ``dropout``.
    """
    return suggest_space(trial, search_space(name), name, window)


def default_parameters(name: str, window: int) -> dict[str, Any]:
    """``name``'s default hyperparameters as the ``"<name>.<key>"`` parameters of a trial
    (what ``suggest_hyperparameters`` would decode back to them, within the space's ranges)."""
    return encode_values(search_space(name), default_hyperparameters(name, window), name, window)
