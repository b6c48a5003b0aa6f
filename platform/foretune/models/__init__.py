"""The eight forecasting architectures as encoders ``[B, T, F] -> [B, D]`` plus one shared head.

Public API::

    available()                                   # architecture names, in ARCHITECTURES order
    build(name, input_size, horizon, window, dropout=0.1, **hyperparameters) -> Forecaster
    default_hyperparameters(name, window) -> dict  # used when no search runs
    search_space(name) -> dict[str, Dimension]     # Float/Int/Categorical/WindowFraction/Layers
    suggest_hyperparameters(trial, name, window) -> dict  # "<name>.<key>" params -> kwargs
    set_mc_dropout(model, enabled)                # eval mode, dropout on when enabled

``Forecaster(x)`` returns ``(regression [B, H], direction_logits [B, H, 3])`` (0 down, 1 flat,
2 up). Nothing here knows about Ray or about training.
"""

from importlib import import_module

from .forecaster import Forecaster, build
from .heads import DIRECTION_CLASSES, MultiTaskHead
from .layers import (
    Encoder,
    VariationalDropout,
    layers_for_receptive_field,
    receptive_field,
    set_mc_dropout,
    sinusoidal_encoding,
)
from .registry import (
    DEFAULT_DROPOUT,
    ModelSpec,
    available,
    default_hyperparameters,
    default_parameters,
    get,
    register,
    search_space,
    suggest_hyperparameters,
)
from .space import Categorical, Dimension, Float, Int, Layers, WindowFraction

#: Modules that define the built-in architectures, imported (and thereby registered) in this
#: order; ``recurrent`` registers ``lstm``, ``gru`` and ``bilstm``, each other module its namesake.
_MODULES = ("mlp", "recurrent", "cnn_lstm", "tcn", "transformer", "attention_lstm", "nbeats")
for _module in _MODULES:
    import_module(f"{__name__}.{_module}")
del _module

#: Built-in architecture names, in the order ``available()`` reports them.
ARCHITECTURES = tuple(available())

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_DROPOUT",
    "DIRECTION_CLASSES",
    "Categorical",
    "Dimension",
    "Encoder",
    "Float",
    "Forecaster",
    "Int",
    "Layers",
    "ModelSpec",
    "MultiTaskHead",
    "VariationalDropout",
    "WindowFraction",
    "available",
    "build",
    "default_hyperparameters",
    "default_parameters",
    "get",
    "layers_for_receptive_field",
    "receptive_field",
    "register",
    "search_space",
    "set_mc_dropout",
    "sinusoidal_encoding",
    "suggest_hyperparameters",
]
