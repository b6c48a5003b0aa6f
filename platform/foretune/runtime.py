"""Connect to Ray: the cluster a job was submitted to, or an embedded local instance.

Inside ``ray job submit`` (``RAY_ADDRESS`` set, or a running ``ray start`` cluster) we connect and
never start a second cluster. Otherwise a local instance starts with its dashboard off and
everything bound to loopback. The trials' own output reaches this console only when foretune is
verbose (``foretune.console``).
"""

from __future__ import annotations

import logging
import os

import ray

from foretune import console


def ensure_ray(num_cpus: int | None = None, address: str | None = None) -> None:
    """Initialise Ray once per process; connect when an address is given or set."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    quiet_logs()
    if address:
        # A cluster keeps its own authentication settings (token auth where it is configured).
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=console.is_verbose())
        return
    # The embedded instance listens on loopback only and lives as long as this process, so it
    # runs without Ray's token authentication (no token file to set up for a first run).
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        address="local",  # a fresh instance, even if a `ray start` cluster runs on this machine
        num_cpus=num_cpus,
        include_dashboard=False,
        dashboard_host="127.0.0.1",
        _node_ip_address="127.0.0.1",
        logging_level=logging.WARNING,
        log_to_driver=console.is_verbose(),
    )


def quiet_logs() -> None:
    """Keep the console to foretune's own progress lines (Tune's tables and hints off)."""
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Ray Data's per-operator progress lines (streamed data): foretune prints its own summary.
    # Imported first: Ray Data configures its logger when it is imported.
    import ray.data  # noqa: F401

    logging.getLogger("ray.data").setLevel(logging.WARNING)
