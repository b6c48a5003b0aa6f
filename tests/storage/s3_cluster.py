"""The multi-node half of the object-storage test, run in a subprocess (its own Ray cluster)::

    python s3_cluster.py RUN_URI DATA_URI WORKDIR

Starts a ``ray.cluster_utils.Cluster``: a head with 0 CPUs (the driver, Tune's controller) and
two worker nodes of 1 CPU each, every node with its own temp directory under WORKDIR, so that
nothing a trial writes on its node's disk can reach another node or the ensemble stage. It
checks that the worker nodes' processes see the AWS variables this process was started with
(Ray starts every node's processes from this one), resumes the sweep in RUN_URI on the cluster
(``foretune sweep --resume RUN_URI``), builds a series store from DATA_URI through Ray Data
(the streamed path: read tasks on the worker nodes), shuts the cluster down, deletes every node's directory
and builds the ensemble from the bucket alone (``foretune ensemble --run RUN_URI``). The last
stdout line is ``RESULT_PREFIX`` + a JSON object.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import traceback
from pathlib import Path

RESULT_PREFIX = "S3_CLUSTER_RESULT "
WORKERS = ("a", "b")
AWS_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def node_environment() -> dict[str, bool]:
    """Which AWS variables a worker process on this node has (names only, never values)."""
    return {name: bool(os.environ.get(name)) for name in AWS_VARIABLES}


def streamed(data_uri: str, directory: Path) -> dict:
    """The series store of ``data_uri`` (the streamed path: Ray Data tasks on the workers read it)."""
    from foretune.data.store import StoreSettings, build_store

    settings = StoreSettings(
        source=data_uri, covariates=(), transform="log_ratio", eps=1e-10, flat_band=0.25, horizon=2
    )
    store = build_store(settings, directory)
    return {"series": sorted(store.series_ids), "rows": int(store.lengths.sum())}


def run(run_uri: str, data_uri: str, workdir: Path) -> dict:
    import ray
    from ray.cluster_utils import Cluster

    from foretune.cli import main as cli

    dirs = {label: workdir / label for label in ("head", *WORKERS)}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False, "temp_dir": str(dirs["head"])},
    )
    out: dict = {}
    try:
        for label in WORKERS:
            cluster.add_node(num_cpus=1, resources={f"ft_node_{label}": 1.0}, temp_dir=str(dirs[label]))
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
        probe = ray.remote(num_cpus=0)(node_environment)
        out["node_env"] = {
            label: ray.get(probe.options(resources={f"ft_node_{label}": 0.01}).remote()) for label in WORKERS
        }
        out["sweep_rc"] = cli(["sweep", "--resume", run_uri])
        out["store"] = streamed(data_uri, workdir / "store")
        # what each node kept on its own disk: Tune's trial staging directories
        out["node_trials"] = {
            label: sorted(
                {
                    p.name.split("_")[2]
                    for p in dirs[label].glob("session_*/artifacts/*/sweep/working_dirs/run_trial_*")
                }
            )
            for label in WORKERS
        }
    finally:
        ray.shutdown()
        cluster.shutdown()
    for directory in dirs.values():
        shutil.rmtree(directory)
    out["ensemble_rc"] = cli(["ensemble", "--run", run_uri])
    return out


def main() -> None:
    run_uri, data_uri, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    try:
        result = run(run_uri, data_uri, workdir)
    except Exception:  # noqa: BLE001 - the test shows it
        result = {"error": traceback.format_exc()}
    sys.stderr.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
