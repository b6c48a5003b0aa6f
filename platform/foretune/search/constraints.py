"""Let users pin or narrow any search parameter from YAML (``search.space``).

``search.space`` maps a parameter name, exactly as the trial names it (``learning_rate``,
``window``, ``architecture``, ``lstm.hidden_sizes.width``, ``tcn.kernel_size``, ``dropout`` is
``<arch>.dropout``), or a ``train`` setting (``direction_weight``, ``optimizer``, ...), to:

- a scalar: the parameter is pinned to that value and no longer searched;
- ``[low, high]`` (two numbers) for a numeric parameter: its range is narrowed;
- a list for a categorical parameter (or more than two numbers): the choices;
- ``{low, high, log}``: an explicit numeric range.

``ConstrainedTrial`` wraps an Optuna trial and applies these rules inside each ``suggest_*`` call,
so the model's own space declarations stay untouched and the space stays define-by-run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optuna


class ConstrainedTrial:
    """An Optuna trial whose ``suggest_*`` calls honour the user's pins and narrowed ranges."""

    def __init__(self, trial: optuna.trial.BaseTrial, overrides: Mapping[str, Any]) -> None:
        self._trial = trial
        self._overrides = overrides
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        self.asked.append(name)
        rule = self._overrides.get(name)
        if rule is None:
            return self._trial.suggest_float(name, low, high, log=log, step=step)
        return self._numeric(name, rule, log, self._trial.suggest_float, float)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        self.asked.append(name)
        rule = self._overrides.get(name)
        if rule is None:
            return self._trial.suggest_int(name, low, high, step=step, log=log)
        return self._numeric(name, rule, log, self._trial.suggest_int, int)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        self.asked.append(name)
        rule = self._overrides.get(name)
        if rule is None:
            return self._trial.suggest_categorical(name, list(choices))
        if _is_list(rule):
            return self._trial.suggest_categorical(name, list(rule))
        return rule

    def suggest_value(self, name: str) -> Any:
        """A parameter that exists only because the user listed it (e.g. a ``train`` setting)."""
        self.asked.append(name)
        rule = self._overrides[name]
        if isinstance(rule, Mapping):
            return self._trial.suggest_float(
                name, rule["low"], rule["high"], log=bool(rule.get("log", False))
            )
        if _is_list(rule):
            return self._trial.suggest_categorical(name, list(rule))
        return rule

    def _numeric(self, name, rule, log, suggest, cast):
        if isinstance(rule, Mapping):
            low, high = rule["low"], rule["high"]
            return suggest(name, cast(low), cast(high), log=bool(rule.get("log", log)))
        if _is_list(rule):
            if len(rule) == 2 and all(isinstance(v, (int, float)) for v in rule):
                low, high = sorted(rule)
                return suggest(name, cast(low), cast(high), log=log and low > 0)
            return self._trial.suggest_categorical(name, [cast(v) for v in rule])
        return cast(rule)


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))
