"""Shared fixtures: one real local Ray instance per test session, small real configs."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

#: Tests under these folders carry these markers (besides any a test sets itself).
FOLDER_MARKERS = {"cluster": ("cluster", "slow"), "storage": ("s3", "slow")}
#: Fixtures that start a Ray sweep: a test using one is slow.
SLOW_FIXTURES = {"tiny_ensemble_run", "ray_session"}


def pytest_collection_modifyitems(config, items):
    """Mark the tiers: ``cluster`` and ``s3`` by folder, ``slow`` for those and for any test
    that needs a Ray instance (so ``-m "not slow"`` runs in about a minute)."""
    for item in items:
        folder = item.path.parent.name
        for name in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(name)
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("slow")


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray instance with 2 CPUs, shared by every test that needs Ray."""
    import ray

    from foretune.runtime import ensure_ray

    ensure_ray(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_ensemble_run(ray_session, tmp_path_factory):
    """``(run_dir, artifact)`` of one tiny sweep and its ensemble (horizon 4, 3 epochs, 8 samples,
    quantiles 5-25-50-75-95, no statistical members), shared by the tests that read a finished
    run. They may add their own outputs beside it (``evaluation/``, ``explain/``) but must not
    change what is there."""
    from support import tiny_run

    return tiny_run(
        tmp_path_factory,
        **{
            "data.horizon": 4,
            "train.max_epochs": 3,
            "ensemble.samples": 8,
            "ensemble.quantiles": [0.05, 0.25, 0.5, 0.75, 0.95],
            # deep members only, so its readers (explain, evaluate) know what they get; the
            # statistical members are tested on this run in tests/ensemble/test_ensemble_statistical.py
            "ensemble.statistical": [],
            "evaluate.windows": 2,  # the readers test a hold-out of two windows
        },
    )


@pytest.fixture
def small_config():
    """A factory for a tiny but real experiment on the built-in quarterly data."""
    from support import tiny_config

    return tiny_config


@pytest.fixture(scope="session", autouse=True)
def torch_single_thread():
    """Every test runs torch in this process on one intra-op thread; the setting is restored
    at the end of the session. Tiny models train much faster so: with two threads on a busy
    two-core machine, OpenMP's spin-waits made the 80 steps of test_models_learning's LSTM take
    66-90 s instead of 0.4-0.9 s (same loss to 4 digits). No test's result depends on the
    thread count (float summation order aside); Ray's trial processes set their own. Modules
    that name it in ``usefixtures`` predate it being automatic."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
