"""Issue 8, multi-node: trials spread over nodes, a Ray Train trial spans nodes, and the ensemble
stage reads checkpoints that other nodes wrote.

One subprocess (``cluster_scenarios.py all``, shared with the fault test through
``conftest.py``) starts a ``ray.cluster_utils.Cluster`` with a 0-CPU head and three 1-CPU worker
nodes ``a``, ``b``, ``c``, runs two small sweeps against it (then the fault test's sweep), shuts it
down, moves the nodes' Ray session directories away and builds each sweep's ensemble from its
run directory alone. How a trial's node is found (Tune's per-result ``pid`` joined with the GCS
actor table) is described in that script's docstring.
"""

from __future__ import annotations

from pathlib import Path

import pytest

WORKERS = {"a", "b", "c"}


@pytest.fixture(scope="module")
def placement(cluster_result) -> dict:
    return cluster_result["placement"]


def _all_ok(board: dict) -> None:
    assert board["status"] == ["ok"] * board["rows"], list(zip(board["status"], board["reason"], strict=True))


def test_inline_trials_run_on_several_worker_nodes(placement):
    inline = placement["inline"]
    board, placed = inline["board"], inline["placements"]
    assert board["rows"] == 4 and len(set(board["trial_ids"])) == 4
    _all_ok(board)
    assert set(placed) == set(board["trial_ids"]), placed
    assert all(len(nodes) == 1 for nodes in placed.values()), placed  # one attempt each
    used = {nodes[0] for nodes in placed.values()}
    assert used <= WORKERS, placed  # nothing fits on the 0-CPU head, where the driver runs
    # 3 trials at a time, 1 CPU each, on three 1-CPU nodes: they cannot share a node
    assert len(used) >= 2, placed


def test_ray_train_trial_places_its_two_workers_on_two_nodes(placement):
    train = placement["train"]
    board = train["board"]
    assert board["rows"] == 1
    _all_ok(board)
    (trial_nodes,) = train["placements"].values()
    workers = train["workers"]
    assert len(workers) == 2, workers
    worker_nodes = {w["node"] for w in workers}
    assert len(worker_nodes) == 2 and worker_nodes <= WORKERS, workers
    # the trial's driver actor holds 0.001 CPU of its node, so no 1-CPU worker fits beside it
    assert trial_nodes[0] in WORKERS and trial_nodes[0] not in worker_nodes, (trial_nodes, workers)


def test_ensemble_is_built_from_checkpoints_other_nodes_wrote(placement):
    inline = placement["inline"]
    run_dir = Path(placement["run_dirs"]["inline"])
    ensemble = inline["ensemble"]
    assert "error" not in ensemble, ensemble["error"]
    members = ensemble["members"]
    assert members and set(members) <= set(inline["board"]["trial_ids"])
    # every member's checkpoint was written by a trial process on a worker node, into the
    # shared storage (the run directory), and read back after those nodes were gone
    for trial in members:
        assert inline["placements"][trial][0] in WORKERS
    for path in inline["board"]["checkpoints"]:
        assert Path(path).is_relative_to(run_dir / "sweep"), path
    # 8 built-in series x horizon 2, with intervals and direction probabilities
    assert ensemble["series"] == 8 and ensemble["rows"] == 16
    assert ensemble["finite_mean"]
    assert {"mean", "q05", "q95", "p_down", "p_flat", "p_up"} <= set(ensemble["columns"])


def test_ray_train_trial_reports_every_epoch_and_its_checkpoint_lands_in_the_run_directory(placement):
    train = placement["train"]
    run_dir = Path(placement["run_dirs"]["train"])
    (checkpoint,) = train["board"]["checkpoints"]
    assert Path(checkpoint).is_relative_to(run_dir), checkpoint
    assert train["model_files"] == [True]  # read in the scenario: its directory is gone now
    # every epoch reached Tune through Ray Train's TuneReportCallback (one report per epoch)
    (epochs,) = train["epochs"]
    assert epochs >= 1 and train["curve_epochs"] == list(range(epochs)), train
    assert "error" not in train["ensemble"], train["ensemble"]["error"]
