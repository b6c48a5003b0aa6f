"""Dotted setting keys (``train.max_epochs``): checked, parsed from ``--set`` and applied to a config.

    check_setting("train.max_epochs")                      # ConfigError unless it is a setting
    parse_settings(["train.max_epochs=5"])                 # {"train.max_epochs": 5}
    config = experiment_config("exp.yaml", {"seed": 1})    # the YAML with the settings applied

Values from ``--set`` are read as YAML; every key is checked against ``ExperimentConfig`` before
it is applied.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from foretune.errors import ConfigError

from .experiment import ExperimentConfig, load_yaml


def check_setting(key: str) -> None:
    """Raise ``ConfigError`` naming ``key`` unless it is a setting of ``ExperimentConfig``.

    A key names a field (``seed``), a section's field (``train.max_epochs``) or an entry under
    a free-form mapping (``search.space.lstm.hidden_sizes.width``).
    """
    parts = key.split(".")
    model: type[BaseModel] = ExperimentConfig
    for i, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            where = ".".join(parts[:i])
            close = difflib.get_close_matches(part, list(fields), n=1)
            hint = (
                f"did you mean {'.'.join([*parts[:i], close[0]])!r}?"
                if close
                else f"known: {', '.join(fields)}"
            )
            raise ConfigError(f"unknown setting {key!r}: {where or 'the config'} has no {part!r}; {hint}")
        annotation = fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            continue
        if i < len(parts) - 1 and not (annotation is dict or typing.get_origin(annotation) is dict):
            raise ConfigError(
                f"unknown setting {key!r}: {'.'.join(parts[: i + 1])} is a value, not a section"
            )
        return


def parse_settings(items: Iterable[str] | None) -> dict[str, Any]:
    """``["train.max_epochs=5", "search.windows=[8,16]"]`` -> dotted keys and YAML-parsed values.

    Values are read as YAML scalars or lists (``5``, ``1e-3``, ``true``, ``null``, ``[8, 16]``,
    ``MS``); an unknown key or a missing ``=`` is a ``ConfigError``.
    """
    settings: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set needs KEY=VALUE (e.g. train.max_epochs=5), got {item!r}")
        try:
            value = load_yaml(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key}: {text!r} is not a YAML value: {exc}") from None
        check_setting(key)
        settings[key] = value
    return settings


def experiment_config(
    config: str | Path | Mapping[str, Any] | ExperimentConfig | None = None,
    *settings: Mapping[str, Any],
) -> ExperimentConfig:
    """The experiment config: ``config`` then each mapping of ``settings`` applied in turn.

    ``config`` is a YAML path, None (the packaged quickstart), a mapping of dotted keys applied
    on top of the quickstart, or an ``ExperimentConfig``. Every key is checked
    (``check_setting``); a value of None sets None (it is not skipped).
    """
    overrides: list[Mapping[str, Any]] = []
    if isinstance(config, ExperimentConfig):
        base = config
    elif isinstance(config, Mapping):
        base = ExperimentConfig.from_yaml(None)
        overrides.append(config)
    elif config is None or isinstance(config, (str, Path)):
        base = ExperimentConfig.from_yaml(config)
    else:
        raise ConfigError(
            f"config must be a YAML path or a mapping of dotted keys, not {type(config).__name__}"
        )
    raw = base.to_dict()
    for mapping in (*overrides, *settings):
        for key, value in mapping.items():
            check_setting(str(key))
            node = raw
            *parents, leaf = str(key).split(".")
            for part in parents:
                child = node.get(part)
                node[part] = child = child if isinstance(child, dict) else {}
                node = child
            node[leaf] = value
    return ExperimentConfig.from_dict(raw)
