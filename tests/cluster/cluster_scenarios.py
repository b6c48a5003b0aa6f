"""Multi-node scenarios for foretune on Ray's own test cluster (``ray.cluster_utils.Cluster``).

The tests run each scenario in a subprocess (``run_scenario``), so its cluster is isolated from
the pytest process's session-wide local Ray::

    python cluster_scenarios.py SCENARIO WORKDIR     # SCENARIO: placement | fault | all

and read the JSON object on the last stdout line that starts with ``RESULT_PREFIX``. The
subprocess gets ``RAY_TMPDIR`` = a short private directory under /tmp, so the cluster's sockets
(AF_UNIX paths < 107 bytes), logs and its ``ray_current_cluster`` address file stay out of the
shared ``/tmp/ray`` where other people's Ray instances live. The ``Cluster`` is shut down before
the result is printed; if the script dies instead, the reaper processes Ray spawns with each node
(``shutdown_at_exit=True``) kill what it started.

Cluster shape: a head node with 0 CPUs (the driver, Tune's controller and the Optuna searcher run
there; no trial fits on it) and worker nodes of 1 CPU each. Each worker node carries a custom
resource ``ft_node_<label>`` naming it (visible in ``ray.nodes()``).

Where a trial ran: Tune writes ``pid`` into every result row (``result.json``); ``hostname`` and
``node_ip`` are the same for every node of a one-machine cluster, so they cannot tell nodes
apart. The GCS actor table (``Cluster.global_state.actor_table``, the data that
``ray.util.state.list_actors`` serves through the dashboard, which these clusters do not start,
to save start-up time and the shared dashboard port) records for every actor, dead or alive,
the node Ray placed it on and its worker process's pid. Pids are unique among the live
processes of one machine, so ``pid -> actor -> node id -> label`` is Ray's own record of the
placement, read without any change to foretune. Node ids map to labels through the ``Node``
objects the script itself started (a dead node's resources are no longer reported).

Scenarios:
- ``placement`` (issue 8, parts 1-3): on head + 3 one-CPU nodes, (1) a sweep of 4 inline trials,
  3 at a time, and (2) a sweep of one Ray Train trial with 2 workers of 1 CPU; then the cluster
  is shut down and the Ray session directories (the nodes' local disks) are moved away, and
  (3) the ensemble of each sweep is built from the run directory alone and predicts the
  built-in data.
- ``fault`` (part 4): a sweep of 5 inline trials with ``search.max_failures: 2``; the main thread
  SIGKILLs the node of the first trial seen mid-training (``remove_node(allow_graceful=False)``)
  and adds a replacement node, while the sweep runs in a thread (``Cluster.add_node`` installs
  signal handlers, which only the main thread may do).
- ``all`` (what the tests run): both on one cluster, so that it starts once: the two placement
  sweeps, then the fault sweep (it kills a node, so it comes last), then the shutdown and the
  ensembles. Its result is ``{"placement": ..., "fault": ...}``, each as the scenario alone
  returns it. Placements stay per sweep: a trial's pid is looked up among all actors the
  cluster ever ran, and pids of dead actors are not reused within a run of a few minutes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

RESULT_PREFIX = "CLUSTER_RESULT "
HERE = Path(__file__).resolve().parent
HEAD = "head"
# Ray Tune's function-trainable actor class, and Ray Train V2's worker actor class.
TRIAL_ACTOR = "ImplicitFunc"
TRAIN_WORKER_ACTOR = "RayTrainWorker"
# Detect a killed node in ~4-5 s instead of the default 3 s x 5, still tolerant of a busy machine
# (a health check only fails on an error or after the 10 s health-check timeout).
SYSTEM_CONFIG = {"health_check_period_ms": 1000, "health_check_failure_threshold": 4}


# -- the caller's side (pytest process): only the standard library ------------------------------
def run_scenario(name: str, timeout: float = 300.0) -> dict:
    """Run scenario ``name`` in a subprocess with a private short ``RAY_TMPDIR``; its result."""
    tmp = Path(tempfile.mkdtemp(prefix="ftc-", dir="/tmp"))
    env = {
        **os.environ,
        "RAY_TMPDIR": str(tmp),
        "RAY_AUTH_MODE": "disabled",
        "RAY_TRAIN_V2_ENABLED": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("RAY_ADDRESS", None)
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, str(HERE / "cluster_scenarios.py"), name, str(tmp / "work")],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGTERM)  # Ray's SIGTERM handler shuts the cluster's nodes down
        try:
            out, err = child.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()  # the nodes' reaper processes then end the rest
            out, err = child.communicate()
        raise AssertionError(
            f"scenario {name} ran past {timeout:.0f} s; logs under {tmp}\n{err[-4000:]}"
        ) from None
    lines = [line for line in out.splitlines() if line.startswith(RESULT_PREFIX)]
    if child.returncode != 0 or not lines:
        raise AssertionError(
            f"scenario {name} exited {child.returncode} without a result; logs under {tmp}\n"
            f"stdout: {out[-3000:]}\nstderr: {err[-6000:]}"
        )
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    result["wall_s"] = round(time.monotonic() - started, 1)
    result["stderr_tail"] = err[-6000:]
    if "error" not in result:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        result["logs"] = str(tmp)
    return result


# -- the scenario's side (subprocess) -----------------------------------------------------------
def experiment(**overrides) -> dict:
    """A tiny real experiment on the built-in data (the size the tests in tests/search use)."""
    config = {
        "seed": 0,
        "models": ["mlp"],
        "data": {"horizon": 2},
        "train": {"max_epochs": 3, "patience": 3},
        "search": {
            "trials": 4,
            "windows": [8],
            "scheduler": "none",
            "max_concurrent": 3,
            "sampler": "random",
            "max_failures": 0,
        },
        # deep members only: the placement tests follow each member's checkpoint across nodes
        "ensemble": {"top_k": 2, "samples": 8, "statistical": []},
    }
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node[part]
        node[leaf] = value
    return config


class LabelledCluster:
    """A head node with 0 CPUs and labelled 1-CPU worker nodes; the driver is connected."""

    def __init__(self, labels: list[str]):
        import ray
        from ray.cluster_utils import Cluster

        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 0, "include_dashboard": False, "_system_config": SYSTEM_CONFIG},
        )
        self.labels = {self.cluster.head_node.node_id: HEAD}  # node id -> label, dead ones too
        self.nodes = {}  # label -> live Node
        for label in labels:
            self.add(label)
        self.cluster.wait_for_nodes()
        ray.init(address=self.cluster.address, logging_level=logging.WARNING, log_to_driver=False)

    def add(self, label: str) -> None:
        node = self.cluster.add_node(num_cpus=1, resources={f"ft_node_{label}": 1.0})
        self.labels[node.node_id] = label
        self.nodes[label] = node

    def kill(self, label: str) -> None:
        """SIGKILL every process of the node (raylet, object store, its workers)."""
        self.cluster.remove_node(self.nodes.pop(label), allow_graceful=False)

    def alive(self) -> list[str]:
        import ray

        return sorted(self.labels.get(n["NodeID"], "?") for n in ray.nodes() if n["Alive"])

    def actors(self, class_name: str) -> list[dict]:
        """Every actor of ``class_name`` (alive or dead): pid, node label, state."""
        out = []
        for info in self.cluster.global_state.actor_table(None).values():
            if info.get("ActorClassName", "").split(".")[-1] != class_name:
                continue
            node = self.labels.get(info["Address"]["NodeID"], "?")
            out.append({"pid": int(info.get("Pid") or 0), "node": node, "state": info["State"]})
        return out

    def placements(self, run_dir: Path) -> dict[str, list[str]]:
        """trial id -> labels of the nodes its reporting processes ran on, in order."""
        node_of = {a["pid"]: a["node"] for a in self.actors(TRIAL_ACTOR)}
        out: dict[str, list[str]] = {}
        for rows in results(run_dir).values():
            trial = str(rows[0]["trial_id"])
            pids = list(dict.fromkeys(row["pid"] for row in rows))
            out[trial] = [node_of.get(pid, f"unknown-pid-{pid}") for pid in pids]
        return out

    def shutdown(self) -> None:
        import ray

        ray.shutdown()
        self.cluster.shutdown()


def results(run_dir: Path, live: bool = False) -> dict[str, list[dict]]:
    """trial directory name -> its result rows (in ``run_dir``, once the sweep has ended).

    ``live``: while a sweep runs, Tune's driver appends each result to ``result.json`` in its
    staging directory (under the Ray session directory) and copies that to ``run_dir/sweep``
    only now and then, so the staging copy is the current one; whichever copy has more rows
    wins. Staging paths do not name the run directory, so an earlier sweep of the same session
    shows up too; ``training_victim`` skips it: its trials have finished and their actors are dead.
    """
    staging = Path(os.environ.get("RAY_TMPDIR", "/tmp"), "ray").glob(
        "session_*/artifacts/*/sweep/driver_artifacts/*/result.json"
    )
    out: dict[str, list[dict]] = {}
    for path in [*(staging if live else []), *(run_dir / "sweep").glob("*/result.json")]:
        try:
            rows = [json.loads(s) for s in path.read_text().splitlines() if s.strip()]
        except (OSError, ValueError):  # being written: the next poll reads it whole
            continue
        if rows and len(rows) > len(out.get(path.parent.name, [])):
            out[path.parent.name] = rows
    return out


def board_summary(board) -> dict:
    return {
        "rows": len(board),
        "trial_ids": [str(t) for t in board["trial_id"]],
        "status": [str(s) for s in board["status"]],
        "reason": [str(r) for r in board["reason"].fillna("")],
        "checkpoints": [str(c) if isinstance(c, str) else None for c in board["checkpoint_path"]],
    }


def timed(fn, *args):
    started = time.monotonic()
    value = fn(*args)
    return value, round(time.monotonic() - started, 1)


def ensemble_from_run_dir(run_dir: Path, config) -> dict:
    """Build the ensemble of a finished sweep and forecast the built-in data with it."""
    from foretune.data import builtin_dataset_path, read_frame
    from foretune.ensemble import Ensemble, build_ensemble

    started = time.monotonic()
    try:
        artifact = build_ensemble(run_dir, config)
        ensemble = Ensemble.load(artifact)
        forecast = ensemble.predict(read_frame(builtin_dataset_path()))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "members": [m.info["trial_id"] for m in ensemble.members],
        "rows": len(forecast),
        "series": int(forecast["unique_id"].nunique()),
        "columns": list(forecast.columns),
        "finite_mean": bool(forecast["mean"].notna().all()),
        "seconds": round(time.monotonic() - started, 1),
    }


def placement_sweeps(cluster: LabelledCluster, workdir: Path) -> dict:
    """Parts 1-2 of issue 8 on a live cluster: inline trials, then a 2-worker Ray Train trial."""
    import pandas as pd

    from foretune.config import ExperimentConfig
    from foretune.search import run_sweep

    out: dict = {"nodes": sorted(cluster.nodes)}
    inline = ExperimentConfig.from_dict(experiment())
    board, seconds = timed(run_sweep, inline, workdir / "inline")
    out["inline"] = {
        "board": board_summary(board.leaderboard),
        "sweep_s": seconds,
        "placements": cluster.placements(workdir / "inline"),
    }

    train = ExperimentConfig.from_dict(
        experiment(
            **{
                "search.trials": 1,
                "search.max_concurrent": 1,
                "train.num_workers": 2,
                "train.cpus_per_worker": 1.0,
            }
        )
    )
    board, seconds = timed(run_sweep, train, workdir / "train")
    curves = pd.read_parquet(workdir / "train" / "curves.parquet")
    out["train"] = {
        "board": board_summary(board.leaderboard),
        "epochs": [int(e) for e in board.leaderboard["epochs"]],
        "curve_epochs": sorted(int(e) for e in curves["epoch"]),
        "model_files": [Path(c, "model.pt").is_file() for c in board.leaderboard["checkpoint_path"]],
        "sweep_s": seconds,
        "placements": cluster.placements(workdir / "train"),
        "workers": cluster.actors(TRAIN_WORKER_ACTOR),
    }
    out["configs"] = {"inline": inline, "train": train}
    return out


def placement_ensembles(out: dict, workdir: Path) -> dict:
    """Part 3, once the cluster is shut down: the nodes are gone, and so are their local disks
    (the Ray session directories): what the ensemble stage reads must be in the shared storage,
    i.e. the run directory."""
    ray_dir = Path(os.environ["RAY_TMPDIR"], "ray")
    ray_dir.rename(ray_dir.with_name("ray-nodes-gone"))
    configs = out.pop("configs")
    for name in ("inline", "train"):
        out[name]["ensemble"] = ensemble_from_run_dir(workdir / name, configs[name])
    out["run_dirs"] = {name: str(workdir / name) for name in ("inline", "train")}
    return out


def scenario_placement(workdir: Path) -> dict:
    """Parts 1-3 of issue 8 on one cluster: inline trials, a 2-worker Ray Train trial, ensembles."""
    cluster = LabelledCluster(["a", "b", "c"])
    try:
        out = placement_sweeps(cluster, workdir)
    finally:
        cluster.shutdown()
    return placement_ensembles(out, workdir)


class Sweep(threading.Thread):
    """``run_sweep`` in a thread (Tune skips its signal handlers off the main thread)."""

    def __init__(self, config, run_dir: Path):
        super().__init__(daemon=True)
        self.config, self.run_dir = config, run_dir
        self.board, self.error, self.seconds = None, None, None

    def run(self) -> None:
        from foretune.search import run_sweep

        started = time.monotonic()
        try:
            self.board = run_sweep(self.config, self.run_dir).leaderboard
        except Exception:  # noqa: BLE001 - reported to the test
            self.error = traceback.format_exc()
        self.seconds = round(time.monotonic() - started, 1)


def training_victim(cluster: LabelledCluster, run_dir: Path):
    """(node label, last result row) of a trial mid-training on a worker node, or None."""
    live = {a["pid"]: a["node"] for a in cluster.actors(TRIAL_ACTOR) if a["state"] == "ALIVE"}
    for rows in results(run_dir, live=True).values():
        last = rows[-1]
        if "status" in last:  # only the final report carries a status: the trial has finished
            continue
        node = live.get(last["pid"])
        if node in cluster.nodes:
            return node, last
    return None


def fault_sweep(cluster: LabelledCluster, workdir: Path) -> dict:
    """Part 4 on a live cluster: SIGKILL a worker node while a trial trains on it, add ``r``."""
    from foretune.config import ExperimentConfig

    trials = 5
    config = ExperimentConfig.from_dict(
        # 12 epochs (~0.2 s each here) leave a window in which a trial is seen mid-training
        experiment(
            **{
                "search.trials": trials,
                "search.max_failures": 2,
                "train.max_epochs": 12,
                "train.patience": 12,
            }
        )
    )
    run_dir = workdir / "fault"
    out: dict = {"trials": trials, "kill": {}}
    sweep = Sweep(config, run_dir)
    sweep.start()
    deadline = time.monotonic() + 150
    found = None
    while found is None and sweep.is_alive() and time.monotonic() < deadline:
        found = training_victim(cluster, run_dir)
        time.sleep(0.05)
    if found is None:
        out["kill"]["error"] = "no trial was seen training on a worker node"
    else:
        node, last = found
        killed_pids = [
            a["pid"] for a in cluster.actors(TRIAL_ACTOR) if a["state"] == "ALIVE" and a["node"] == node
        ]
        cluster.kill(node)
        out["kill"] = {
            "node": node,
            "trial": str(last["trial_id"]),
            "after_epoch": last.get("epoch"),
            "pids": killed_pids,
        }
        cluster.add("r")  # capacity stays at 3 CPUs
        out["kill"]["replacement"] = "r"
    sweep.join(timeout=200)
    if sweep.is_alive():
        raise RuntimeError("the sweep did not finish within 200 s of the node kill")
    if sweep.error:
        raise RuntimeError(sweep.error)
    out["board"] = board_summary(sweep.board)
    out["sweep_s"] = sweep.seconds
    out["placements"] = cluster.placements(run_dir)
    out["alive_nodes"] = cluster.alive()
    return out


def fault_records(out: dict, workdir: Path) -> dict:
    """What Tune recorded of the fault sweep's failures (read once the cluster is down)."""
    from ray.tune import ExperimentAnalysis

    run_dir = workdir / "fault"
    analysis = ExperimentAnalysis(str(run_dir / "sweep"))
    out["failures"] = {str(t.trial_id): int(t.run_metadata.num_failures) for t in analysis.trials}
    out["error_files"] = {
        p.parent.name.split("_")[2]: p.read_text()[-1500:] for p in (run_dir / "sweep").glob("*/error.txt")
    }
    return out


def scenario_fault(workdir: Path) -> dict:
    """Part 4: SIGKILL a worker node while a trial trains on it; the trial is retried elsewhere."""
    cluster = LabelledCluster(["a", "b", "c"])
    try:
        out = fault_sweep(cluster, workdir)
    finally:
        cluster.shutdown()
    return fault_records(out, workdir)


def scenario_all(workdir: Path) -> dict:
    """Placement, then fault, on one cluster that starts once."""
    cluster = LabelledCluster(["a", "b", "c"])
    try:
        placement = placement_sweeps(cluster, workdir)
        fault = fault_sweep(cluster, workdir)
    finally:
        cluster.shutdown()
    return {"placement": placement_ensembles(placement, workdir), "fault": fault_records(fault, workdir)}


SCENARIOS = {"placement": scenario_placement, "fault": scenario_fault, "all": scenario_all}


def main() -> None:
    scenario, workdir = sys.argv[1], Path(sys.argv[2])
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        result = SCENARIOS[scenario](workdir)
    except Exception:  # noqa: BLE001 - the test shows it
        result = {"error": traceback.format_exc()}
    result["total_s"] = round(time.monotonic() - started, 1)
    sys.stderr.flush()
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
