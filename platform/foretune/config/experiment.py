"""``ExperimentConfig``: one experiment's sections and seed, loaded from YAML or a mapping.

    config = ExperimentConfig.from_yaml(path, {"data.horizon": 8})   # None: the packaged quickstart
    config = ExperimentConfig.from_dict(raw)                          # ConfigError naming each bad key
    raw = config.to_dict()                                            # JSON-safe, from_dict reads it back

The sections and their settings are in ``config.sections``; dotted keys in ``config.dotted``.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from foretune.errors import ConfigError
from foretune.storage.secrets import check_uri, scrub

from .sections import DataConfig, EnsembleConfig, EvaluateConfig, SearchConfig, TrainConfig, _Section


class _Loader(yaml.SafeLoader):
    """YAML 1.1's safe loader that also reads ``1e-4`` and ``3E5`` as numbers (YAML 1.2 does;
    PyYAML alone reads them as text, so ``learning_rate: 1e-4`` would be a string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """``text`` read as YAML (safe: plain data only), exponents without a dot read as floats."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)


class ExperimentConfig(_Section):
    """One experiment: data, models, search, training and ensemble settings plus the seed."""

    name: str = "foretune"
    seed: int = Field(0, ge=0)
    out: str | None = Field(None, description="run directory; None = runs/<name>-<time>")
    models: list[str] = Field(default_factory=lambda: ["mlp", "lstm"])
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)

    @field_validator("out")
    @classmethod
    def _no_credentials(cls, v: str | None) -> str | None:
        if v is not None:
            check_uri(v)  # refused, redacted, before anything is opened
        return v

    @field_validator("models")
    @classmethod
    def _distinct_models(cls, v: list[str]) -> list[str]:
        # Names are checked against the model registry by search.validate_space, before Ray
        # starts: the config sits below the models and does not import them.
        if not v:
            raise ValueError("name at least one architecture")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        if self.train.use_gpu and self.train.num_workers == 0 and self.train.gpus_per_trial == 0:
            self.train.gpus_per_trial = 1.0
        return self

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_yaml(
        cls, path: str | Path | None = None, overrides: dict[str, Any] | None = None
    ) -> ExperimentConfig:
        """Load ``path`` (None = the packaged quickstart) and apply dotted-key ``overrides``."""
        if path is None:
            text = resources.files("foretune").joinpath("configs/quickstart.yaml").read_text()
        else:
            p = Path(path)
            if not p.is_file():
                raise ConfigError(f"config file {p} does not exist")
            text = p.read_text()
        try:
            raw = load_yaml(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        for key, value in (overrides or {}).items():
            if value is not None:
                _set_dotted(raw, key, value)
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExperimentConfig:
        """Validate a plain mapping, turning pydantic's errors into one readable ``ConfigError``."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe mapping that ``from_dict`` turns back into the same config."""
        return self.model_dump(mode="json")


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    node = raw
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {key}: {part} is not a section")
    node[leaf] = value


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<config>"
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown setting (check its spelling)")
        else:
            lines.append(f"{key}={err.get('input')!r}: {err['msg']}")
    return scrub("invalid configuration: " + "; ".join(lines))  # one line; no credential echoed
