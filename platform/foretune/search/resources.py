"""Check, before any trial starts, that the running Ray cluster can ever place a trial."""

from __future__ import annotations

import ray

from foretune.config import ConfigError, ExperimentConfig


def trial_request(config: ExperimentConfig) -> dict[str, float]:
    """CPUs and GPUs one trial needs in all (its workers' when it uses Ray Train)."""
    train = config.train
    if train.num_workers >= 1:
        gpus = float(train.num_workers) if train.use_gpu else 0.0
        return {"CPU": train.num_workers * train.cpus_per_worker + 0.001, "GPU": gpus}
    return {"CPU": config.search.cpus_per_trial, "GPU": train.gpus_per_trial}


def check_resources(config: ExperimentConfig) -> None:
    """Raise ``ConfigError`` naming the key when a trial asks for more than the cluster has."""
    have = ray.cluster_resources()
    need = trial_request(config)
    cpus, gpus = have.get("CPU", 0.0), have.get("GPU", 0.0)
    if need["GPU"] > gpus:
        key = "train.use_gpu" if config.train.num_workers >= 1 else "train.gpus_per_trial"
        raise ConfigError(
            f"{key}: a trial needs {need['GPU']:g} GPU(s) but the Ray cluster has {gpus:g}; "
            "set train.use_gpu: false / train.gpus_per_trial: 0, or add GPU nodes"
        )
    if need["CPU"] > cpus + 1e-9:
        key = "train.num_workers" if config.train.num_workers >= 1 else "search.cpus_per_trial"
        raise ConfigError(
            f"{key}: a trial needs {need['CPU']:g} CPU(s) but the Ray cluster has {cpus:g}; "
            "lower train.num_workers / train.cpus_per_worker / search.cpus_per_trial"
        )
