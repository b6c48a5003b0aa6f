"""Shared fixtures: one real local Ray instance per test session, small real configs."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray instance with 2 CPUs, shared by every test that needs Ray."""
    import ray

    from foretune.runtime import ensure_ray

    ensure_ray(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture
def small_config():
    """A factory for a tiny but real experiment on the built-in quarterly data."""
    from foretune.config import ExperimentConfig

    def make(**overrides):
        base = {
            "seed": 0,
            "models": ["mlp", "lstm"],
            "data": {"horizon": 4},
            "train": {"max_epochs": 4, "patience": 3},
            "search": {"trials": 2, "windows": [8], "scheduler": "none", "max_concurrent": 2},
            "ensemble": {"top_k": 2, "samples": 16},
        }
        for key, value in overrides.items():
            node = base
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return ExperimentConfig.from_dict(base)

    return make
