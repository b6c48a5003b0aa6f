"""One rule per argument, shared by the command line, ``Foretune`` and ``Ensemble``.

    samples = arguments.samples(value)                 # None stays None, else an int >= 1
    horizon = arguments.horizon(value, most=12)        # None: ``most``, else 1..most
    seed = arguments.seed(value)                       # None stays None, else an int >= 0
    n = arguments.count(value, "n_windows")            # an int >= 1
    parser.add_argument("--samples", type=arguments.flag(arguments.samples, "--samples"))

Each rule raises ``ConfigError`` naming the argument as its caller spells it (``samples`` in
Python, ``--samples`` on the command line) and what it accepts, so a bad value gets the same
message wherever it enters; ``flag`` turns a rule into an argparse ``type``. Integers are ints
(numpy's too) or integral floats; booleans, fractions and text are refused (text only parses on
the command line). Settings of the experiment config are checked by the config itself.
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Callable
from typing import Any

from foretune.errors import ConfigError


def integer(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int within ``[minimum, maximum]``; ``ConfigError`` naming ``name`` else."""
    if minimum is not None and maximum is not None:
        allowed = f"an integer from {minimum} to {maximum}"
    elif minimum is not None:
        allowed = f"an integer >= {minimum}"
    else:
        allowed = "an integer"
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or not math.isfinite(float(value)) or float(value) != int(value):
        raise ConfigError(f"{name} must be {allowed}, got {value!r}")
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ConfigError(f"{name} must be {allowed}, got {number}")
    return number


def count(value: Any, name: str) -> int:
    """A number of things (windows, CPUs, steps): an int >= 1."""
    return integer(value, name, minimum=1)


def samples(value: Any, name: str = "samples") -> int | None:
    """MC-dropout samples per member: None (the ensemble's default) or an int >= 1."""
    return None if value is None else count(value, name)


def seed(value: Any, name: str = "seed") -> int | None:
    """A random seed: None (the default) or an int >= 0."""
    return None if value is None else integer(value, name, minimum=0)


def horizon(value: Any, most: int, name: str = "horizon") -> int:
    """Forecast steps: None gives ``most`` (what the ensemble was trained for), else 1..most."""
    if value is None:
        return int(most)
    steps = count(value, name)
    if steps > most:
        raise ConfigError(
            f"{name}={steps} is not available: this ensemble was trained for 1..{most} steps; "
            "retrain with a longer data.horizon"
        )
    return steps


def sample_columns(value: Any, name: str = "sample_columns") -> int:
    """Sample columns of a forecast: an int >= 0."""
    return integer(value, name, minimum=0)


def flag(rule: Callable[..., Any], name: str, **kwargs: Any) -> Callable[[str], Any]:
    """``rule`` as an argparse ``type`` for the flag ``name``: the text parsed as an integer
    first, ``ConfigError`` turned into argparse's message (and exit status 2)."""

    def parse(text: str) -> Any:
        try:
            value: Any = int(text.strip())
        except ValueError:
            value = text
        try:
            return rule(value, name=name, **kwargs)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name.lstrip("-")
    return parse
