"""A real ensemble artifact built in-process in about a second, without Ray or training.

    path = save_tiny_artifact(tmp_path / "ensemble")   # untrained mlp + transformer members
    history = builtin_history()                        # the built-in quarterly panel

The members are freshly initialised networks (their seeds fixed), with the transform fit on the
built-in data as a sweep fits it: enough for tests about loading, refusing and reproducibility,
which do not need a good forecast. ``transformer`` brings attention dropout, ``lstm`` the
variational dropout between recurrent layers, ``mlp`` plain dropout.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from foretune.config import ExperimentConfig
from foretune.data import builtin_dataset_path, validate
from foretune.data.transform import RatioTransform
from foretune.data.windows import prepare
from foretune.ensemble import Ensemble
from foretune.ensemble.member import Member
from foretune.ensemble.settings import EnsembleSettings
from foretune.train import TrainSpec
from foretune.train.spec import build_model

HORIZON = 4
WINDOW = 8
MEMBERS = {
    "mlp": {"hidden_sizes": [16]},
    "lstm": {"hidden_sizes": [8, 8]},
    "transformer": {"d_model": 8, "nhead": 2, "num_layers": 1, "dim_feedforward": 16},
}


def builtin_history() -> pd.DataFrame:
    """The built-in panel: 8 quarterly US macro series, long format."""
    return pd.read_parquet(builtin_dataset_path())


def tiny_ensemble(
    samples: int = 8, architectures: tuple[str, ...] = ("mlp", "lstm", "transformer")
) -> Ensemble:
    """An ensemble of untrained members over the built-in data (see the module docstring)."""
    config = ExperimentConfig.from_dict(
        {"seed": 0, "data": {"horizon": HORIZON}, "ensemble": {"samples": samples}}
    )
    series = validate(builtin_history())
    data = prepare(series, window=WINDOW, horizon=HORIZON, transform=RatioTransform("auto"))
    members = []
    for i, name in enumerate(architectures):
        spec = TrainSpec(name, dict(MEMBERS[name]), window=WINDOW, horizon=HORIZON, seed=i, max_epochs=1)
        model = build_model(spec, data.n_features)
        info = {"trial_id": f"tiny_{i}"}
        members.append(Member(model, name, WINDOW, 1.0 / len(architectures), spec, data.n_features, info))
    manifest = {
        "input_schema": {"required": ["unique_id", "ds", "y"], "covariates": [], "inputs": {}},
        "freqs": {k: str(v) for k, v in series.freqs.items()},
        "horizon": HORIZON,
        "transform": data.transform.kind,
    }
    settings = EnsembleSettings.from_config(config)
    return Ensemble(members, data.transform, settings, manifest, config=config.to_dict())


def save_tiny_artifact(path: Path, **kwargs) -> Path:
    """``tiny_ensemble(**kwargs)`` saved at ``path``; returns ``path``."""
    tiny_ensemble(**kwargs).save(path)
    return Path(path)
