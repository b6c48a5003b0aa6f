"""Trial resources: what one trial asks of Ray, and a check that the cluster can ever give it.

Tune would otherwise queue an impossible trial forever (``PENDING``, with a hint in the logs).
``check_resources`` compares one trial's needs with the *connected* cluster's totals and its
largest node (a Ray Train worker or an inline trial must fit on one node):
``num_workers x cpus_per_worker`` CPUs and one GPU per worker for a ``TorchTrainer`` trial,
``search.cpus_per_trial`` CPUs and ``train.gpus_per_trial`` GPUs for an inline one; with streamed
data, ``data.stream_cpus`` more for Ray Data's tasks. An
autoscaling cluster is judged by the nodes it has now.
"""

from __future__ import annotations

from foretune.config import ConfigError, ExperimentConfig

#: CPU a Ray Train trial's own driver takes in Tune (``search.sweep._trial_resources``).
DRIVER_CPU = 0.001


def trial_request(config: ExperimentConfig) -> dict[str, float]:
    """CPUs and GPUs one trial needs in all (its workers' when it uses Ray Train)."""
    train = config.train
    if train.num_workers >= 1:
        gpus = float(train.num_workers) if train.use_gpu else 0.0
        return {"CPU": train.num_workers * train.cpus_per_worker + DRIVER_CPU, "GPU": gpus}
    return {"CPU": config.search.cpus_per_trial, "GPU": train.gpus_per_trial}


def process_request(config: ExperimentConfig) -> dict[str, float]:
    """CPUs and GPUs of one training process: an inline trial, or one Ray Train worker (what a
    single-process retraining of a trial's model, e.g. a refit, asks)."""
    train = config.train
    if train.num_workers >= 1:
        return {"CPU": train.cpus_per_worker, "GPU": 1.0 if train.use_gpu else 0.0}
    return trial_request(config)


def check_resources(config: ExperimentConfig, streaming: bool = False) -> None:
    """Raise ``ConfigError`` naming the ``train.*`` keys the running cluster cannot satisfy."""
    import ray

    if not ray.is_initialized():
        raise RuntimeError("check_resources needs a connected Ray (foretune.runtime.ensure_ray)")
    total = ray.cluster_resources()
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive", True)]
    cpus, gpus = float(total.get("CPU", 0.0)), float(total.get("GPU", 0.0))
    node_cpus = max((float(n.get("CPU", 0.0)) for n in nodes), default=cpus)
    node_gpus = max((float(n.get("GPU", 0.0)) for n in nodes), default=gpus)
    train = config.train
    problems = []
    if train.num_workers >= 1:
        n, per_cpu = train.num_workers, train.cpus_per_worker
        if train.use_gpu and n > gpus:
            problems.append(f"train.num_workers={n} with train.use_gpu=true needs {n} GPU(s), one per worker")
        if n * per_cpu + DRIVER_CPU > cpus:
            problems.append(
                f"train.num_workers={n} x train.cpus_per_worker={per_cpu:g} needs {n * per_cpu:g} CPU(s)"
            )
        if per_cpu > node_cpus:
            problems.append(f"train.cpus_per_worker={per_cpu:g} is more than any one node has")
    else:
        if train.gpus_per_trial > node_gpus:
            key = "train.use_gpu=true" if train.use_gpu else "train.gpus_per_trial"
            problems.append(
                f"{key} needs {train.gpus_per_trial:g} GPU(s) per trial "
                f"(train.gpus_per_trial={train.gpus_per_trial:g})"
            )
        if config.search.cpus_per_trial > node_cpus:
            problems.append(
                f"search.cpus_per_trial={config.search.cpus_per_trial:g} is more than any one node has"
            )
    data_cpus, trial_cpus = config.data.stream_cpus, trial_request(config)["CPU"]
    if streaming and trial_cpus + data_cpus > cpus:
        problems.append(
            f"streamed data needs data.stream_cpus={data_cpus:g} CPU(s) free beside a trial's {trial_cpus:g}"
        )
    if problems:
        raise ConfigError(
            "the Ray cluster can never run this configuration: "
            + "; ".join(problems)
            + f". The cluster has {cpus:g} CPU(s) and {gpus:g} GPU(s) (largest node: "
            f"{node_cpus:g} CPU(s), {node_gpus:g} GPU(s)); lower the request or add nodes"
        )
