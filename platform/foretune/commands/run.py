"""``foretune run``, ``sweep`` and ``ensemble``: the end-to-end job and its two halves.

    run_dir = default_run_dir(config)          # config.out or runs/<name>-<time>
    sweep(config, run_dir)                     # Tune + Optuna; prints the leaderboard (and the
                                               # data's ignored columns, before it starts)
    ensemble(run_dir, config)                  # builds RUN/ensemble from the leaderboard
    run(config, run_dir)                       # both, the report on the held-out tail, then
                                               # the served ensemble refit on all data; writes
                                               # RUN/timings.json (seconds per stage)

``resumed_config(run_dir)`` is the config an interrupted run was started with.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from foretune.commands.evaluate import run_report
from foretune.config import ExperimentConfig
from foretune.data.columns import ignored_columns, ignored_text
from foretune.data.io import read_columns
from foretune.ensemble import Ensemble, build_ensemble, refit_on_all_data
from foretune.errors import ConfigError, ForetuneError
from foretune.rundir import RunDir
from foretune.search import run_sweep
from foretune.storage import resolve
from foretune.timings import Timings, stage
from foretune.train.record import TrialStatus

SUMMARY_COLUMNS = [
    "trial_id",
    "architecture",
    "window",
    "status",
    "val_loss",
    "val_mase",
    "val_smape",
    "train_seconds",
]


#: Where runs go when neither ``--out`` nor ``config.out`` names one: a directory or a URI
#: (``cluster.yaml`` sets it to the bucket on every node); ``runs`` when unset.
RUNS_ENV = "FORETUNE_RUNS"


def default_run_dir(config: ExperimentConfig) -> Path:
    """``config.out`` (a path or a URI such as ``s3://bucket/prefix/exp1``) or
    ``<FORETUNE_RUNS or runs>/<name>-<timestamp>`` (``runs`` under the current directory)."""
    if config.out:
        return resolve(config.out)
    root = os.environ.get(RUNS_ENV) or "runs"
    return resolve(f"{root.rstrip('/')}/{config.name}-{time.strftime('%Y%m%d-%H%M%S')}")


def sweep(config: ExperimentConfig, run_dir: Path, num_cpus: int | None = None, resume: bool = False):
    """Run (or resume) the search and print the leaderboard."""
    verb = "resuming" if resume else "sweeping"
    ignored = ignored_text(_ignored_columns(config))
    print(
        f"foretune: {verb} {config.search.trials} trial(s) over {config.models}; run directory {run_dir}"
        + (f"; {ignored}" if ignored else ""),
        flush=True,
    )
    with interruptible() as interrupted, stage("sweep"):
        result = run_sweep(config, run_dir, resume=resume, num_cpus=num_cpus)
        if interrupted():  # Ctrl+C: the trials were stopped and Tune saved its state
            raise KeyboardInterrupt(f"the sweep was stopped; continue it with `--resume {run_dir}`")
    print_leaderboard(result.leaderboard)
    return result


def _ignored_columns(config: ExperimentConfig) -> list[tuple[str, str]]:
    """The data's columns the run ignores (``data.columns``); none when the data cannot be read
    here (the sweep then says why)."""
    data = config.data
    try:
        static = list(read_columns(data.static_path).columns) if data.static_path else []
        return ignored_columns(read_columns(data.path), data, [c for c in static if c != "unique_id"])
    except ForetuneError:
        return []


def ensemble(run_dir: Path, config: ExperimentConfig | None = None) -> Path:
    """Build the ensemble artifact of a finished sweep and print where it is."""
    with stage("ensemble"):
        path = build_ensemble(run_dir, config)
        weights = Ensemble.load(path).weights
    print("ensemble members (weight): " + ", ".join(f"{k} {v:.3f}" for k, v in weights.items()))
    print(f"ensemble artifact: {path}", flush=True)
    return path


def run(
    config: ExperimentConfig,
    run_dir: Path | None = None,
    *,
    num_cpus: int | None = None,
    resume: bool = False,
) -> Path:
    """Sweep, build the ensemble, write ``run_dir/report/report.html`` and serve; return the
    served artifact (see ``report_and_serve``). The stages' seconds go to ``RUN/timings.json``."""
    run_dir = run_dir or default_run_dir(config)
    with timed(run_dir):
        sweep(config, run_dir, num_cpus=num_cpus, resume=resume)
        artifact = ensemble(run_dir, config)
        return report_and_serve(config, run_dir, artifact)


@contextmanager
def timed(run_dir: Path) -> Iterator[Timings]:
    """Record the seconds of the stages run inside (``foretune.timings.stage``) and write them to
    ``RUN/timings.json`` (those finished, if one fails, where the run directory exists: a run
    refused before it wrote anything leaves nothing); when all finish, print one line of them."""
    timings = Timings()
    try:
        with timings.recording():
            yield timings
    finally:
        run = RunDir(run_dir)
        if timings.seconds and run.root.exists():
            timings.save(run.timings)
    print(f"foretune: {timings.summary()} (seconds per stage: {RunDir(run_dir).timings})", flush=True)


def report_and_serve(config: ExperimentConfig, run_dir: Path, artifact: Path) -> Path:
    """Score ``artifact`` on the run's held-out tail (``run_report``), then, with
    ``evaluate.refit_full``, serve its members refit on all the data; return the served artifact.

    The scored ensemble then moves to ``RUN/report/ensemble`` and ``RUN/ensemble`` is the refit
    one. Streamed runs get neither (their data does not fit in memory)."""
    run = RunDir(run_dir)
    if run.streamed:
        print(
            "foretune: the data streamed (larger than memory), so the backtest report is "
            "skipped; run `foretune evaluate` on a sample of the series",
            flush=True,
        )
        return artifact
    with stage("report"):
        run_report(run_dir, artifact)
    with stage("refit_full"):
        evaluated = Ensemble.load(artifact)
        served = served_ensemble(config, run_dir, evaluated)
        if served is None:
            return artifact
        evaluated.save(run.evaluated_ensemble)  # the same files (checksums), local or in a bucket
        path = served.save(run.ensemble)
    print(
        f"foretune: served ensemble {path}: the report's members refit on all the data, held-out "
        f"tail included (evaluate.refit_full); the scored one is {run.evaluated_ensemble}",
        flush=True,
    )
    return path


def served_ensemble(config: ExperimentConfig, run_dir: Path, evaluated: Ensemble) -> Ensemble | None:
    """What the run serves instead of the ``evaluated`` ensemble: its members refit on all the
    data (``evaluate.refit_full``, where the run held a tail out); None: ``evaluated`` itself."""
    if not (config.evaluate.refit_full and config.evaluate.windows):
        return None
    return refit_on_all_data(run_dir, evaluated, config)


def print_leaderboard(board: pd.DataFrame, rows: int = 20) -> None:
    view = board[[c for c in SUMMARY_COLUMNS if c in board]].head(rows)
    with pd.option_context(
        "display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4f}".format
    ):
        print("\nleaderboard (best first):")
        print(view.to_string(index=False))
    counts = board["status"].value_counts().to_dict()
    print("trials by status: " + ", ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
    if not (board["status"] == TrialStatus.OK).any():
        reasons = board["reason"].replace("", None).dropna()
        common = reasons.mode().iloc[0] if not reasons.empty else "unknown"
        print(f"foretune: no trial finished successfully; most common reason: {common}", flush=True)


def resumed_config(run_dir: Path) -> ExperimentConfig:
    """The config an interrupted run was started with (its flags were applied then)."""
    saved = RunDir(run_dir).config
    if not saved.is_file():
        raise ConfigError(f"cannot resume {run_dir}: it has no config.json (not a foretune run)")
    return ExperimentConfig.from_dict(json.loads(saved.read_text()))


# -- Ctrl+C during the sweep -------------------------------------------------------------------
@contextmanager
def interruptible() -> Iterator[Callable[[], bool]]:
    """Let Ctrl+C stop the sweep and then raise, instead of being swallowed by Ray Tune.

    Tune catches SIGINT itself: it stops the trials and returns as if the sweep had finished
    (an ensemble would be built from the partial sweep), and it leaves its handler installed,
    so later Ctrl+C presses in a notebook would do nothing. Here Tune's SIGINT handler is off
    (``TUNE_DISABLE_SIGINT_HANDLER``); the first Ctrl+C asks a running sweep to stop through the
    handler Tune keeps on SIGUSR1, and the caller raises ``KeyboardInterrupt`` once it has
    (the yielded function says whether that happened). With no sweep running yet, or at a second
    Ctrl+C, ``KeyboardInterrupt`` is raised at once. Both handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGUSR1"):
        yield lambda: False
        return
    before_int = signal.getsignal(signal.SIGINT)
    before_usr1 = signal.getsignal(signal.SIGUSR1)
    before_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    stopping = threading.Event()

    def on_interrupt(signum: int, frame: Any) -> None:
        tune_stop = signal.getsignal(signal.SIGUSR1)
        if stopping.is_set() or not callable(tune_stop) or tune_stop is before_usr1:
            raise KeyboardInterrupt
        stopping.set()
        tune_stop(signal.SIGUSR1, frame)  # Tune finishes its step, saves its state, stops trials

    signal.signal(signal.SIGINT, on_interrupt)
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    try:
        yield stopping.is_set
    finally:
        signal.signal(signal.SIGINT, before_int)
        signal.signal(signal.SIGUSR1, before_usr1)
        if before_env is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = before_env
