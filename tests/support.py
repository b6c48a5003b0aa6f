"""Helpers shared by test modules (importable: pyproject puts tests/ on the path)."""

from __future__ import annotations

from typing import Any

from foretune.config import ExperimentConfig

TINY = {
    "seed": 0,
    "models": ["mlp", "lstm"],
    "data": {"horizon": 4},
    "train": {"max_epochs": 4, "patience": 3},
    "search": {"trials": 2, "windows": [8], "scheduler": "none", "max_concurrent": 2},
    "ensemble": {"top_k": 2, "samples": 16},
}


def tiny_config(**overrides: Any) -> ExperimentConfig:
    """A tiny but real experiment on the built-in data; ``overrides`` use dotted keys."""
    raw: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY.items()}
    for key, value in overrides.items():
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return ExperimentConfig.from_dict(raw)


def tiny_run(tmp_path_factory, **overrides: Any):
    """Sweep and build the ensemble of ``tiny_config(**overrides)``: (run_dir, artifact)."""
    from foretune.ensemble import build_ensemble
    from foretune.search import run_sweep

    config = tiny_config(**overrides)
    run_dir = tmp_path_factory.mktemp("run")
    run_sweep(config, run_dir)
    return run_dir, build_ensemble(run_dir, config)
