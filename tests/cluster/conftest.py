"""One multi-node cluster for both test modules: ``cluster_scenarios.py all`` runs the placement
sweeps and then the fault sweep on a cluster that starts once (starting one costs more than a
sweep on it); each module reads its part of the result."""

from __future__ import annotations

import pytest
from cluster_scenarios import run_scenario


@pytest.fixture(scope="session")
def cluster_result() -> dict:
    result = run_scenario("all", timeout=480.0)
    assert "error" not in result, f"{result['error']}\n{result['stderr_tail']}"
    return result
