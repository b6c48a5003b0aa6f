"""Sweep overhead: a foretune sweep vs the same configurations in a plain in-process Optuna loop.

    python benchmarks/sweep_overhead.py [--trials 16] [--epochs 8] [--json PATH]

Runs, in one process and on the same data: (1) ``run_sweep`` (Ray Tune + OptunaSearch, inline
trials, FIFO scheduler so every trial trains the same epoch count), (2) an in-process Optuna loop
over the same define-by-run space and sampler seed calling the same ``fit``, and (3) one trial
trained through Ray Train's ``TorchTrainer`` vs one inline trial, to show what the default path
saves. Reports wall-clock ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import optuna

from foretune.config import ExperimentConfig
from foretune.data.experiment import load_series, prepare_all
from foretune.runtime import ensure_ray
from foretune.search import run_sweep
from foretune.search.space import DefineByRun, decode
from foretune.train import fit


def config(trials: int, epochs: int, **train) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "seed": 0,
            "models": ["mlp", "lstm"],
            "data": {"horizon": 4},
            "train": {"max_epochs": epochs, "patience": epochs + 1, **train},
            "search": {
                "trials": trials,
                "windows": [12],
                "scheduler": "none",
                "sampler": "random",
                "max_concurrent": 2,
            },
        }
    )


def in_process_loop(cfg: ExperimentConfig) -> tuple[float, float]:
    datasets = prepare_all(cfg, load_series(cfg))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=cfg.seed))
    space = DefineByRun(cfg)
    started, train_seconds = time.perf_counter(), 0.0
    for _ in range(cfg.search.trials):
        trial = study.ask()
        space(trial)
        spec = decode(trial.params, cfg)
        result = fit(spec, datasets[spec.window], lambda m, c: None)
        train_seconds += result.metrics["train_seconds"]
        study.tell(trial, result.metrics["val_loss"])
    return time.perf_counter() - started, train_seconds


def timed_sweep(cfg: ExperimentConfig) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        board = run_sweep(cfg, tmp)
        wall = time.perf_counter() - started
    return wall, float(board.leaderboard["train_seconds"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--json")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ensure_ray(num_cpus=2)
    sweep_wall, sweep_train = timed_sweep(config(args.trials, args.epochs))
    loop_wall, loop_train = in_process_loop(config(args.trials, args.epochs))
    inline_wall, _ = timed_sweep(config(1, args.epochs))
    ray_train_wall, _ = timed_sweep(config(1, args.epochs, num_workers=1))
    out = {
        "trials": args.trials,
        "epochs": args.epochs,
        "sweep_wall_s": sweep_wall,
        "sweep_sum_train_s": sweep_train,
        "in_process_wall_s": loop_wall,
        "in_process_sum_train_s": loop_train,
        "sweep_vs_in_process": sweep_wall / loop_wall,
        "one_trial_inline_wall_s": inline_wall,
        "one_trial_torchtrainer_wall_s": ray_train_wall,
    }
    print(f"| measure ({args.trials} trials x {args.epochs} epochs, mlp/lstm) | seconds |")
    print("|---|---:|")
    for key, value in out.items():
        if key.endswith("_s"):
            print(f"| {key} | {value:.1f} |")
    print(f"\nforetune sweep / in-process Optuna loop = {out['sweep_vs_in_process']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
