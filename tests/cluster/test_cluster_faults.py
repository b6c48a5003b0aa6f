"""Issue 8, multi-node faults: a worker node dies in the middle of a sweep.

``cluster_scenarios.py all`` (shared with the placement test through ``conftest.py``), after the
placement sweeps, runs a sweep of 5 inline trials (``search.max_failures: 2``) on a 0-CPU head and
three 1-CPU worker nodes, SIGKILLs the node of the first trial it sees
mid-training (``Cluster.remove_node(node, allow_graceful=False)``), then adds a replacement node
``r``. Tune sees the trial's actor die with its node, counts one failure, writes it to the
trial's ``error.txt`` and restarts the trial on another node; the trial then finishes, so its
last result (and the leaderboard row) is ``ok``. foretune's trials do not resume from a
mid-training checkpoint, so the retry trains from epoch 0.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def fault(cluster_result) -> dict:
    return cluster_result["fault"]


def test_trial_on_a_killed_node_is_retried_elsewhere_and_the_sweep_completes(fault):
    kill, board, placed = fault["kill"], fault["board"], fault["placements"]
    assert "error" not in kill, kill["error"]
    node, trial = kill["node"], kill["trial"]
    assert node in {"a", "b", "c"} and isinstance(kill["after_epoch"], int), kill

    # every requested trial is on the leaderboard exactly once, and every one finished
    n = fault["trials"]
    assert board["rows"] == n and len(set(board["trial_ids"])) == n, board["trial_ids"]
    assert set(board["trial_ids"]) == set(fault["failures"]) == set(placed)
    assert board["status"] == ["ok"] * n, list(zip(board["status"], board["reason"], strict=True))
    assert all(board["checkpoints"]), board["checkpoints"]

    # the killed trial: first attempt on the killed node, retried and finished on another one
    assert placed[trial][0] == node, placed
    assert len(placed[trial]) >= 2 and placed[trial][-1] != node, placed
    assert fault["failures"][trial] >= 1, fault["failures"]
    assert max(fault["failures"].values()) <= 2, fault["failures"]  # within max_failures
    assert trial in fault["error_files"], fault["error_files"]
    assert "died" in fault["error_files"][trial] or "unavailable" in fault["error_files"][trial]
    # every failure Tune counted has its error file (no silent retries)
    failed = {t for t, count in fault["failures"].items() if count}
    assert failed == set(fault["error_files"]), (fault["failures"], fault["error_files"])

    # the killed node stays dead; its replacement joined and the others kept running
    assert node not in fault["alive_nodes"] and "r" in fault["alive_nodes"], fault["alive_nodes"]
