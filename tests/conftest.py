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
    from support import tiny_config

    return tiny_config


@pytest.fixture(scope="module")
def torch_single_thread():
    """Tiny models train faster on one intra-op thread (no OpenMP spin-waits on a busy machine);
    the setting is restored afterwards. Use with ``pytestmark = usefixtures(...)``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
