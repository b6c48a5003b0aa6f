"""Fixtures for the training-loop tests: real quarterly data, prepared once, and one thread.

Every test here runs torch with one intra-op thread: results must not depend on the number of
threads (summation order), and two threads on a loaded two-core machine are much slower.
"""

from __future__ import annotations

import pytest
import torch

WINDOW, HORIZON = 8, 4


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def prepared():
    """``PreparedData`` of the built-in data (8 quarterly series), window 8, horizon 4."""
    from foretune.data import RatioTransform, prepare, read_frame, validate

    series = validate(read_frame(None), min_length=WINDOW + HORIZON + 1)
    return prepare(series, window=WINDOW, horizon=HORIZON, transform=RatioTransform("log_ratio"))


@pytest.fixture
def spec_of():
    """``spec_of(architecture="mlp", **loop_settings)``: a small ``TrainSpec`` for ``prepared``."""
    from foretune import models
    from foretune.train import TrainSpec

    def make(architecture: str = "mlp", hyperparameters: dict | None = None, **settings):
        base = {"max_epochs": 3, "patience": 10, "batch_size": 64, "seed": 0}
        base.update(settings)
        hp = models.default_hyperparameters(architecture, WINDOW)
        hp.update(hyperparameters or {})
        return TrainSpec(
            architecture=architecture, hyperparameters=hp, window=WINDOW, horizon=HORIZON, **base
        )

    return make


class Recorder:
    """A ``report`` callback that keeps every ``(metrics, payload)``, less the wall-clock
    timings (``*_seconds``), which differ between otherwise identical runs."""

    def __init__(self) -> None:
        self.reports: list[tuple[dict, dict | None]] = []

    def __call__(self, metrics: dict, payload: dict | None) -> None:
        kept = {k: v for k, v in metrics.items() if not k.endswith("_seconds")}
        self.reports.append((kept, payload))

    @property
    def epochs(self) -> list[dict]:
        return [m for m, _ in self.reports if "status" not in m]

    @property
    def final(self) -> tuple[dict, dict | None]:
        return self.reports[-1]


@pytest.fixture
def recorder():
    return Recorder
